// paygate over gRPC from Node 20 with @grpc/grpc-js: authorize, capture part, refund part, read
// back, handle a decline, and retry ABORTED/UNAVAILABLE with the same idempotency key.
//   npm install && PAYGATE_GRPC=127.0.0.1:50051 PAYGATE_API_KEY=... node paygate.mjs
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));
const definition = protoLoader.loadSync("paygate/v1/paygate.proto", {
  includeDirs: [PROTO_ROOT],
  longs: String, // int64 as strings, as in the JSON API
  enums: String,
  defaults: true,
  oneofs: true,
});
const { PaymentGateway } = grpc.loadPackageDefinition(definition).paygate.v1;
const client = new PaymentGateway(process.env.PAYGATE_GRPC ?? "127.0.0.1:50051", grpc.credentials.createInsecure());
const ATTEMPTS = 5;

/** One unary call with the key's metadata; retried with the same request on ABORTED/UNAVAILABLE. */
async function call(method, request) {
  const metadata = new grpc.Metadata();
  if (process.env.PAYGATE_API_KEY) metadata.set("authorization", `Bearer ${process.env.PAYGATE_API_KEY}`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Promise((resolve, reject) =>
        client[method](request, metadata, { deadline: Date.now() + 30_000 }, (err, reply) =>
          err ? reject(err) : resolve(reply),
        ),
      );
    } catch (err) {
      const retryable = err.code === grpc.status.ABORTED || err.code === grpc.status.UNAVAILABLE;
      if (!retryable || attempt === ATTEMPTS) throw err;
      await sleep(1000); // same idempotency key: never charged twice
    }
  }
}

function check(ok, what) {
  if (!ok) {
    console.error(`unexpected: ${what}`);
    process.exit(1);
  }
}

const mad = (minor) => ({ currency: "MAD", minorUnits: String(minor) });
const order = `grpc-node-${randomBytes(4).toString("hex")}`;

let payment = await call("Authorize", {
  idempotencyKey: `${order}-authorize`,
  provider: "mock",
  amount: mad(10000),
  merchantReference: order,
});
check(payment.status === "PAYMENT_STATUS_AUTHORIZED", "authorized");
const id = payment.id;

await call("Capture", { idempotencyKey: `${order}-capture-1`, paymentId: id, amount: mad(6000) });
await call("Refund", { idempotencyKey: `${order}-refund-1`, paymentId: id, amount: mad(2500), reason: "one item returned" });

payment = await call("GetPayment", { paymentId: id });
check(payment.status === "PAYMENT_STATUS_PARTIALLY_REFUNDED", "partially refunded");
check(payment.captured.minorUnits === "6000" && payment.refunded.minorUnits === "2500", "amounts");
console.log(`${id} ${payment.status} captured ${payment.captured.minorUnits} refunded ${payment.refunded.minorUnits}`);

// A decline is an answer, not an error.
const declined = await call("Authorize", {
  idempotencyKey: `${order}-declined`,
  provider: "mock",
  amount: mad(5000),
  merchantReference: `${order}-declined`,
  paymentToken: "mock_decline",
});
check(declined.status === "PAYMENT_STATUS_DECLINED", "declined");
console.log(`declined: ${declined.failure.code}`);

// Errors are gRPC statuses; the stable reason is in google.rpc.ErrorInfo (grpc-status-details-bin).
try {
  await call("Refund", { idempotencyKey: `${order}-refund-2`, paymentId: id, amount: mad(999999) });
  check(false, "refund above the captured amount");
} catch (err) {
  check(err.code === grpc.status.FAILED_PRECONDITION, "FAILED_PRECONDITION");
  console.log(`refused: FAILED_PRECONDITION (${err.details})`);
}
client.close();
