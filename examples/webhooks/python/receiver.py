"""A paygate webhook receiver in Python 3.11 with the standard library only.

Verifies the Standard Webhooks signature on the raw body, refuses stale timestamps and
replayed webhook-ids, answers 200 at once and only then does the work (here: one log line).

    PAYGATE_WEBHOOK_SECRET=whsec_... PORT=3000 python3 receiver.py
    # then: paygate listen --forward-to http://127.0.0.1:3000/webhooks
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How far webhook-timestamp may be from our clock, either way (Standard Webhooks: 5 minutes).
TOLERANCE_S = 5 * 60
# How long a webhook-id is remembered. paygate retries a delivery for about a day with the same
# webhook-id (and a fresh timestamp), so a retry after our answer got lost is recognised.
REMEMBER_S = 48 * 3600
MAX_BODY = 1024 * 1024


def load_secret() -> bytes:
    """The HMAC key is the base64-DECODED part after `whsec_`, not the text itself."""
    text = os.environ.get("PAYGATE_WEBHOOK_SECRET", "")
    try:
        key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        key = b""
    if not key:
        sys.exit("PAYGATE_WEBHOOK_SECRET must be the whsec_... secret paygate gave you")
    return key


SECRET = load_secret()


class SeenIds:
    """webhook-ids already accepted, in memory (one process). Several processes or hosts need a
    shared store instead: a table with a UNIQUE webhook_id column does it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}

    def first_time(self, webhook_id: str) -> bool:
        now = time.time()
        with self._lock:
            for old in [i for i, at in self._seen.items() if now - at > REMEMBER_S]:
                del self._seen[old]
            if webhook_id in self._seen:
                return False
            self._seen[webhook_id] = now
            return True


SEEN = SeenIds()


def signature_ok(webhook_id: str, timestamp: str, header: str, body: bytes) -> bool:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(SECRET, signed, hashlib.sha256).digest())
    matched = False
    # Several entries during a key rotation: "v1,<sig> v1,<sig>"; any one may match.
    for entry in header.split(" "):
        version, _, value = entry.partition(",")
        # compare_digest: constant time, so the answer's timing does not leak the signature.
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            matched = True
    return matched


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path != "/webhooks":
            return self.answer(404, "not found")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.answer(413, "too large")
        body = self.rfile.read(length)  # the raw bytes: the signature covers exactly these

        webhook_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        if not (webhook_id and timestamp.isascii() and timestamp.isdigit() and signature):
            return self.answer(400, "missing or malformed webhook headers")
        if abs(time.time() - int(timestamp)) > TOLERANCE_S:
            return self.answer(401, "timestamp outside the 5 minute tolerance")
        if not signature_ok(webhook_id, timestamp, signature, body):
            return self.answer(401, "bad signature")
        try:
            event = json.loads(body)
            kind, sequence = event["type"], event["sequence"]
            payment_id = event["data"]["payment"]["id"]
        except (ValueError, KeyError, TypeError):
            return self.answer(400, "not a paygate event")
        # Only now, with the signature checked, is the id worth remembering.
        if not SEEN.first_time(webhook_id):
            # Already handled: 200 so that the sender stops retrying, but nothing is done again.
            print(f"duplicate {webhook_id} ignored", flush=True)
            return self.answer(200, "duplicate")

        # Answer first; slow work (database, e-mail) comes after, so paygate's 10 s timeout
        # never sees it. A real shop would hand the event to a queue here.
        self.answer(200, "ok")
        print(f"accepted {kind} payment {payment_id} sequence {sequence}", flush=True)

    def answer(self, status: int, text: str):
        data = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def log_message(self, *args):
        pass  # one line per accepted event is enough; never log bodies or signatures


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "3000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    print(f"listening on http://127.0.0.1:{server.server_port}/webhooks", flush=True)
    server.serve_forever()
