"""The thinnest DynamoDB client the benchmark can have: SigV4-signed JSON over a urllib3 pool.

botocore signs (SigV4Auth on an AWSRequest); urllib3 sends; orjson parses. No botocore
serialisation, validation or retry handlers run, which is what makes it a floor. Used by the raw
floor contender (Scan) and by the data loader (BatchWriteItem).
"""

from __future__ import annotations

import base64
import os
import random
import time

import orjson
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET_PREFIX = "DynamoDB_20120810."
RETRYABLE_CODES = ("ThrottlingException", "ProvisionedThroughputExceededException",
                   "RequestLimitExceeded", "InternalServerError")
MAX_ATTEMPTS = 6


class WireError(RuntimeError):
    """A DynamoDB call that failed for good: carries the action, HTTP status and error body."""

    def __init__(self, action: str, status: int, body: bytes):
        super().__init__(f"{action} failed: HTTP {status}: {body[:300]!r}")
        self.status = status


def endpoint_from_env() -> str:
    url = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL")
    if not url:
        raise SystemExit("no DynamoDB endpoint: set AWS_ENDPOINT_URL_DYNAMODB or pass --endpoint-url")
    return url


class DynamoDBWire:
    """Thread-safe: one connection pool of `connections` sockets shared by all callers."""

    def __init__(self, endpoint_url: str, connections: int = 8, region: str | None = None):
        self.url = endpoint_url.rstrip("/") + "/"
        self._pool = urllib3.PoolManager(num_pools=1, maxsize=connections, block=True,
                                         retries=False, timeout=urllib3.Timeout(connect=5, read=120))
        credentials = Credentials(os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                                  os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                                  os.environ.get("AWS_SESSION_TOKEN"))
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self._signer = SigV4Auth(credentials, "dynamodb", region)

    def call_raw(self, action: str, body: bytes) -> bytes:
        """POST one signed request; retries throttles, 5xx and resets with jittered backoff.

        Returns the response body of the first success; raises WireError once retries run out
        or at once for a non-retryable error.
        """
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = self._pool.request("POST", self.url, body=body, headers=self._sign(action, body))
            except urllib3.exceptions.HTTPError:
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                _backoff(attempt)
                continue
            if response.status == 200:
                return response.data
            if not _retryable(response.status, response.data) or attempt == MAX_ATTEMPTS - 1:
                raise WireError(action, response.status, response.data)
            _backoff(attempt)
        raise AssertionError("unreachable")

    def call(self, action: str, payload: dict) -> dict:
        return orjson.loads(self.call_raw(action, orjson.dumps(payload)))


    def wait_active(self, table: str, timeout_s: float = 60) -> None:
        """Poll DescribeTable until the table is ACTIVE (RuntimeError after timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while self.call("DescribeTable", {"TableName": table})["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError(f"table {table} not ACTIVE after {timeout_s:.0f} s")
            time.sleep(0.02)
    def _sign(self, action: str, body: bytes) -> dict:
        request = AWSRequest(method="POST", url=self.url, data=body, headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": TARGET_PREFIX + action,
        })
        self._signer.add_auth(request)
        return dict(request.headers.items())


def _retryable(status: int, body: bytes) -> bool:
    return status >= 500 or any(code.encode() in body for code in RETRYABLE_CODES)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, min(2.0, 0.05 * 2 ** attempt)))


def to_wire(value: dict) -> dict:
    """A low-level boto3 attribute value ({"B": b"..."}, ...) as DynamoDB's JSON wire form."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {name: to_wire(v) for name, v in inner.items()}}
    if kind == "L":
        return {"L": [to_wire(v) for v in inner]}
    return value


def item_to_wire(item: dict) -> dict:
    return {name: to_wire(value) for name, value in item.items()}
