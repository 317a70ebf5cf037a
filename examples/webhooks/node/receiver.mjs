// A paygate webhook receiver in Node 20 with the built-in http and crypto modules only.
//
// Verifies the Standard Webhooks signature on the raw body, refuses stale timestamps and
// replayed webhook-ids, answers 200 at once and only then does the work (here: one log line).
//
//   PAYGATE_WEBHOOK_SECRET=whsec_... PORT=3000 node receiver.mjs
//   # then: paygate listen --forward-to http://127.0.0.1:3000/webhooks
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

// How far webhook-timestamp may be from our clock, either way (Standard Webhooks: 5 minutes).
const TOLERANCE_S = 5 * 60;
// How long a webhook-id is remembered. paygate retries a delivery for about a day with the same
// webhook-id (and a fresh timestamp), so a retry after our answer got lost is recognised.
const REMEMBER_MS = 48 * 3600 * 1000;
const MAX_BODY = 1024 * 1024;

/** The HMAC key is the base64-DECODED part after `whsec_`, not the text itself. */
function loadSecret() {
  const text = (process.env.PAYGATE_WEBHOOK_SECRET ?? "").replace(/^whsec_/, "");
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (key.length === 0) {
    console.error("PAYGATE_WEBHOOK_SECRET must be the whsec_... secret paygate gave you");
    process.exit(1);
  }
  return key;
}
const SECRET = loadSecret();

// webhook-ids already accepted, in memory (one process). Several processes or hosts need a
// shared store instead: a table with a UNIQUE webhook_id column does it.
const seen = new Map();
function firstTime(webhookId) {
  const now = Date.now();
  for (const [id, at] of seen) if (now - at > REMEMBER_MS) seen.delete(id);
  if (seen.has(webhookId)) return false;
  seen.set(webhookId, now);
  return true;
}

function signatureOk(webhookId, timestamp, header, body) {
  const expected = createHmac("sha256", SECRET)
    .update(`${webhookId}.${timestamp}.`)
    .update(body)
    .digest();
  let matched = false;
  // Several entries during a key rotation: "v1,<sig> v1,<sig>"; any one may match.
  for (const entry of header.split(" ")) {
    const [version, value = ""] = entry.split(",", 2);
    if (version !== "v1") continue;
    const given = Buffer.from(value, "base64");
    // timingSafeEqual: constant time, so the answer's timing does not leak the signature.
    if (given.length === expected.length && timingSafeEqual(given, expected)) matched = true;
  }
  return matched;
}

function answer(res, status, text) {
  res.writeHead(status, { "content-type": "text/plain" }).end(`${text}\n`);
}

const server = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/webhooks") return answer(res, 404, "not found");
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      answer(res, 413, "too large");
      req.destroy();
    } else chunks.push(chunk);
  });
  req.on("end", () => {
    if (size > MAX_BODY) return;
    const body = Buffer.concat(chunks); // the raw bytes: the signature covers exactly these
    const webhookId = req.headers["webhook-id"] ?? "";
    const timestamp = req.headers["webhook-timestamp"] ?? "";
    const signature = req.headers["webhook-signature"] ?? "";
    if (!webhookId || !/^[0-9]+$/.test(timestamp) || !signature) {
      return answer(res, 400, "missing or malformed webhook headers");
    }
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_S) {
      return answer(res, 401, "timestamp outside the 5 minute tolerance");
    }
    if (!signatureOk(webhookId, timestamp, signature, body)) {
      return answer(res, 401, "bad signature");
    }
    let event;
    try {
      event = JSON.parse(body.toString("utf8"));
      if (typeof event.type !== "string" || typeof event.data.payment.id !== "string") {
        throw new Error("not a paygate event");
      }
    } catch {
      return answer(res, 400, "not a paygate event");
    }
    // Only now, with the signature checked, is the id worth remembering.
    if (!firstTime(webhookId)) {
      // Already handled: 200 so that the sender stops retrying, but nothing is done again.
      console.log(`duplicate ${webhookId} ignored`);
      return answer(res, 200, "duplicate");
    }
    // Answer first; slow work (database, e-mail) comes after, so paygate's 10 s timeout never
    // sees it. A real shop would hand the event to a queue here.
    answer(res, 200, "ok");
    setImmediate(() => {
      console.log(`accepted ${event.type} payment ${event.data.payment.id} sequence ${event.sequence}`);
    });
  });
});

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/webhooks`);
});
