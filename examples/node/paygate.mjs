// paygate over HTTP/JSON from Node 20 with the built-in fetch: authorize, capture part, refund
// part, read back, handle a decline, and retry 409/503 with the same Idempotency-Key.
//   PAYGATE_URL=http://127.0.0.1:50051 PAYGATE_API_KEY=... node paygate.mjs
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

const BASE = (process.env.PAYGATE_URL ?? "http://127.0.0.1:50051").replace(/\/$/, "");
const ATTEMPTS = 5;

class PaygateError extends Error {
  constructor(status, problem) {
    super(`${status} ${problem.reason}: ${problem.detail}`);
    this.status = status;
    this.problem = problem;
  }
}

/** One call; POSTs carry an Idempotency-Key and are retried with it on 409 and 503. */
async function paygate(method, path, { body, key } = {}) {
  const headers = { accept: "application/json", "content-type": "application/json" };
  if (process.env.PAYGATE_API_KEY) headers.authorization = `Bearer ${process.env.PAYGATE_API_KEY}`;
  if (key) headers["idempotency-key"] = key;
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const json = await res.json();
    if (res.ok) return json;
    if ((res.status === 409 || res.status === 503) && attempt < ATTEMPTS) {
      await sleep(1000 * Math.max(1, Number(res.headers.get("retry-after") ?? 1))); // same key: never charged twice
      continue;
    }
    throw new PaygateError(res.status, json);
  }
}

function check(ok, what) {
  if (!ok) {
    console.error(`unexpected: ${what}`);
    process.exit(1);
  }
}

const mad = (minor) => ({ currency: "MAD", minorUnits: String(minor) }); // int64 travels as a string
const order = `node-${randomBytes(4).toString("hex")}`;

let payment = await paygate("POST", "/v1/payments", {
  key: `${order}-authorize`,
  body: { provider: "mock", amount: mad(10000), merchantReference: order, customer: { email: "buyer@example.ma" } },
});
check(payment.status === "PAYMENT_STATUS_AUTHORIZED", "authorized");
const id = payment.id;

await paygate("POST", `/v1/payments/${id}/capture`, { key: `${order}-capture-1`, body: { amount: mad(6000) } });
await paygate("POST", `/v1/payments/${id}/refund`, {
  key: `${order}-refund-1`,
  body: { amount: mad(2500), reason: "one item returned" },
});

payment = await paygate("GET", `/v1/payments/${id}`);
check(payment.status === "PAYMENT_STATUS_PARTIALLY_REFUNDED", "partially refunded");
check(payment.captured.minorUnits === "6000" && payment.refunded.minorUnits === "2500", "amounts");
console.log(`${id} ${payment.status} captured ${payment.captured.minorUnits} refunded ${payment.refunded.minorUnits}`);

// A decline is an answer, not an error: status DECLINED and the reason in failure.
const declined = await paygate("POST", "/v1/payments", {
  key: `${order}-declined`,
  body: { provider: "mock", amount: mad(5000), merchantReference: `${order}-declined`, paymentToken: "mock_decline" },
});
check(declined.status === "PAYMENT_STATUS_DECLINED", "declined");
console.log(`declined: ${declined.failure.code}`);

// Errors are problem+json with a stable reason.
try {
  await paygate("POST", `/v1/payments/${id}/refund`, { key: `${order}-refund-2`, body: { amount: mad(999999) } });
  check(false, "refund above the captured amount");
} catch (e) {
  check(e instanceof PaygateError && e.problem.reason === "AMOUNT_EXCEEDS_REFUNDABLE", "reason");
  console.log(`refused: ${e.problem.reason} (${e.status})`);
}
