"""paygate over HTTP/JSON from Python 3.11 with the standard library only: authorize, capture
part, refund part, read back, handle a decline, and retry 409/503 with the same Idempotency-Key.

    PAYGATE_URL=http://127.0.0.1:50051 PAYGATE_API_KEY=... python3 paygate.py
"""

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("PAYGATE_URL", "http://127.0.0.1:50051").rstrip("/")
ATTEMPTS = 5


class PaygateError(Exception):
    def __init__(self, status: int, problem: dict):
        super().__init__(f"{status} {problem.get('reason')}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


def paygate(method: str, path: str, body: dict | None = None, key: str | None = None) -> dict:
    """One call; POSTs carry an Idempotency-Key and are retried with it on 409 and 503."""
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if api_key := os.environ.get("PAYGATE_API_KEY"):
        headers["Authorization"] = f"Bearer {api_key}"
    if key:
        headers["Idempotency-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            problem = json.load(error)
            if error.code in (409, 503) and attempt < ATTEMPTS:
                # Same key: nothing is charged twice.
                time.sleep(max(1, int(error.headers.get("Retry-After", "1"))))
                continue
            raise PaygateError(error.code, problem) from None
    raise AssertionError("unreachable")


def check(ok: bool, what: str) -> None:
    if not ok:
        sys.exit(f"unexpected: {what}")


def mad(minor: int) -> dict:
    return {"currency": "MAD", "minorUnits": str(minor)}  # int64 travels as a string


order = f"python-{secrets.token_hex(4)}"
payment = paygate(
    "POST",
    "/v1/payments",
    {"provider": "mock", "amount": mad(10000), "merchantReference": order,
     "customer": {"email": "buyer@example.ma"}},
    key=f"{order}-authorize",
)
check(payment["status"] == "PAYMENT_STATUS_AUTHORIZED", "authorized")
pid = payment["id"]

paygate("POST", f"/v1/payments/{pid}/capture", {"amount": mad(6000)}, key=f"{order}-capture-1")
paygate("POST", f"/v1/payments/{pid}/refund", {"amount": mad(2500), "reason": "one item returned"},
        key=f"{order}-refund-1")

payment = paygate("GET", f"/v1/payments/{pid}")
check(payment["status"] == "PAYMENT_STATUS_PARTIALLY_REFUNDED", "partially refunded")
check(payment["captured"]["minorUnits"] == "6000" and payment["refunded"]["minorUnits"] == "2500", "amounts")
print(pid, payment["status"], "captured", payment["captured"]["minorUnits"],
      "refunded", payment["refunded"]["minorUnits"])

# A decline is an answer, not an error: status DECLINED and the reason in failure.
declined = paygate(
    "POST",
    "/v1/payments",
    {"provider": "mock", "amount": mad(5000), "merchantReference": f"{order}-declined",
     "paymentToken": "mock_decline"},
    key=f"{order}-declined",
)
check(declined["status"] == "PAYMENT_STATUS_DECLINED", "declined")
print("declined:", declined["failure"]["code"])

# Errors are problem+json with a stable reason.
try:
    paygate("POST", f"/v1/payments/{pid}/refund", {"amount": mad(999999)}, key=f"{order}-refund-2")
    check(False, "refund above the captured amount")
except PaygateError as error:
    check(error.problem["reason"] == "AMOUNT_EXCEEDS_REFUNDABLE", "reason")
    print(f"refused: {error.problem['reason']} ({error.status})")
