"""A fault-injecting HTTP proxy in front of a local DynamoDB and S3 (dynalite, moto_server), for tests.

Contract:
- Listens on http://127.0.0.1:<free port> (`url`) from construction; serves after `start()`,
  until `stop()` (idempotent; also a context manager). Stdlib only, one thread per client
  connection (HTTP/1.1 keep-alive), one upstream connection per client connection. One proxy
  can stand in front of moto_server for both services at once (AWS_ENDPOINT_URL_DYNAMODB and
  AWS_ENDPOINT_URL_S3 pointing at `url`): a request with a `X-Amz-Target: DynamoDB_…` header
  is DynamoDB, any other is S3 (path-style), named by its S3 operation (`s3_operation`).
- Reads (GetItem, BatchGetItem, Query, Scan, TransactGetItems) and writes (PutItem, UpdateItem,
  DeleteItem, BatchWriteItem, TransactWriteItems) are metered: when the units recorded in the
  trailing `window_s` are >= rate * window_s, the request is answered, without forwarding, with
  DynamoDB's HTTP 400 `ProvisionedThroughputExceededException`. Units of forwarded 200 responses
  come from their `ConsumedCapacity` (dict or list), else are estimated: reads 0.5 per started
  4 KiB of response body, writes 1 per started KiB of request body. A request can start while
  under the limit, so a sequential client overshoots by at most one request's units.
- `reset_every=N`: every Nth request (of any kind) has its connection reset with no response.
  `error_every=N`: every Nth request that was not reset or throttled gets `error_status`
  (500 InternalServerError, 503 ServiceUnavailable) without forwarding. `unprocessed_every=N`:
  every Nth BatchWriteItem that reaches upstream is forwarded with only the first half (rounded
  up) of each table's requests; the withheld ones are returned in `UnprocessedItems`.
- `faults`: a callable `(Request) -> Fault | None`, asked (under the proxy's lock, in arrival
  order) about every request the rules above would forward. A Fault's `kind` is one of FAULTS:
    throttle        not forwarded; DynamoDB 400 ProvisionedThroughputExceededException (data
                    calls) or ThrottlingException (others); S3 503 SlowDown
    error           not forwarded; `status` in the service's own error format: 500 or 503 with
                    their usual code, or any status with the error `code` given (S3 400
                    InvalidPart, 403 AccessDenied, …)
    reset_request   half the request body is read, then the connection is reset (not forwarded)
    reset_response  forwarded; the status line, headers (the full Content-Length) and the first
                    `keep` share of the body (half by default) are sent, then reset (a response
                    without a body, e.g. PutObject's or HEAD's, is not sent at all)
    cut_body        as reset_response, but the connection ends with an orderly close (FIN), so
                    what was sent arrives: a transfer cut mid-way (`keep=0`: headers only)
    slow            forwarded after `delay_s` seconds
    lost            forwarded (upstream acts on it), then reset with no response
    precondition    forwarded, then answered S3 412 PreconditionFailed (a retry meeting its own
                    success, as after a lost response)
    conflict        not forwarded; S3 409 ConditionalRequestConflict
    kill            `kill_pid` gets SIGKILL (before forwarding), then the connection is reset
  Every injected fault is appended to `injected` as (Request, Fault); every request, faulted or
  not, to `received` in arrival order.
- Every UploadId in a CreateMultipartUpload response is recorded in `uploads` (UploadId ->
  delivered: bool); one whose response never reached the client can only be aborted by a
  lifecycle rule, so tests can tell it from an upload the client forgot.
- Everything else (status, headers, body, upstream 4xx/5xx) passes through unchanged; HEAD
  responses keep their Content-Length; rewritten bodies get a recomputed `x-amz-crc32`. A
  rewritten request body invalidates a SigV4 signature, so `unprocessed_every` needs an upstream
  that does not verify signatures (dynalite, moto without IAM enforcement).
- Statistics (`requests`, `throttled`, `injected_*`, `injected`, `received`, `uploads`,
  `consumed()`, `max_rate()`) are thread-safe.
"""

from __future__ import annotations

import gzip
import http.client
import json
import math
import os
import re
import signal
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "content-length", "expect"}  # content-length is recomputed; the proxy answers 100-continue
PREFIX = "com.amazonaws.dynamodb.v20120810#"
THROTTLE_MESSAGE = ("The level of configured provisioned throughput for the table was exceeded. "
                    "Consider increasing your provisioning level with the UpdateTable API.")
STATUS_ERRORS = {500: ("InternalServerError", "Internal server error"),
                 503: ("ServiceUnavailable", "Service unavailable")}
S3_ERRORS = {500: (500, "InternalError", "We encountered an internal error. Please try again."),
             503: (503, "ServiceUnavailable", "Service is unable to handle request."),
             "throttle": (503, "SlowDown", "Please reduce your request rate."),
             "precondition": (412, "PreconditionFailed",
                              "At least one of the pre-conditions you specified did not hold"),
             "conflict": (409, "ConditionalRequestConflict", "A conflicting conditional operation is currently "
                                                             "in progress against this resource. Please try again.")}
FAULTS = ("throttle", "error", "reset_request", "reset_response", "cut_body", "slow", "lost", "precondition",
          "conflict", "kill")
_UPLOAD_ID = re.compile(rb"<UploadId>([^<]+)</UploadId>")


@dataclass(frozen=True)
class Request:
    """What the `faults` callable sees of one request. `n` counts every request from 1."""

    n: int
    service: str  # "dynamodb" or "s3"
    op: str  # DynamoDB's X-Amz-Target operation, or s3_operation()
    method: str
    path: str  # with the query string
    headers: dict[str, str] = field(default_factory=dict, compare=False)  # names lower-cased

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query, keep_blank_values=True)


@dataclass(frozen=True)
class Fault:
    kind: str  # one of FAULTS
    status: int = 500  # for "error": 500 or 503, any other status only with `code`
    code: str | None = None  # for "error": the error code; None: the status's usual one
    delay_s: float = 0.0  # for "slow"
    keep: float = 0.5  # for "reset_response" and "cut_body": the share of the body sent, 0 to 1

    def __post_init__(self) -> None:
        if self.kind not in FAULTS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.kind == "error" and self.code is None and self.status not in (500, 503):
            raise ValueError(f"an error fault with status {self.status} needs its error code")
        if not 0 <= self.keep <= 1:
            raise ValueError(f"keep is a share of the body, 0 to 1, not {self.keep}")


def s3_operation(method: str, path: str) -> str:
    """The S3 operation of a path-style request: PutObject, UploadPart, GetObject, …"""
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    if not key:
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket",
                "POST": "DeleteObjects"}.get(method, "ListMultipartUploads" if "uploads" in query
                                              else "ListObjectsV2" if "list-type" in query else "ListObjects")
    if method == "POST":
        return "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
    if method == "PUT":
        return "UploadPart" if "partNumber" in query else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "HEAD":
        return "HeadObject"
    return "ListParts" if "uploadId" in query else "GetObject"


def _parse_json(body: bytes, encoding: str) -> dict | None:
    try:
        value = json.loads(gzip.decompress(body) if encoding.lower() == "gzip" else body)
    except (ValueError, OSError):  # not JSON, or a bad gzip stream
        return None
    return value if isinstance(value, dict) else None


def _capacity(payload: dict | None) -> float | None:
    cc = (payload or {}).get("ConsumedCapacity")
    units = [c["CapacityUnits"] for c in ([cc] if isinstance(cc, dict) else cc if isinstance(cc, list) else [])
             if isinstance(c, dict) and "CapacityUnits" in c]
    return float(sum(units)) if units else None


class ThrottleProxy:
    def __init__(self, upstream_url: str, *, read_rcu_per_s: float | None = None,
                 write_wcu_per_s: float | None = None, window_s: float = 1.0,
                 error_every: int = 0, error_status: int = 500, reset_every: int = 0,
                 unprocessed_every: int = 0, faults: Callable[[Request], Fault | None] | None = None,
                 kill_pid: int | None = None, clock=time.monotonic):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.limits = {"read": read_rcu_per_s, "write": write_wcu_per_s}
        self.window_s, self.clock = window_s, clock
        self.error_every, self.error_status = error_every, error_status
        self.reset_every, self.unprocessed_every = reset_every, unprocessed_every
        self.requests: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        self.injected_errors = self.injected_resets = self.injected_unprocessed = 0
        self.faults, self.kill_pid = faults, kill_pid
        self.injected: list[tuple[Request, Fault]] = []
        self.received: list[Request] = []
        self.uploads: dict[str, bool] = {}  # UploadId -> its CreateMultipartUpload response was delivered
        self._consumed: dict[str, list[tuple[float, float]]] = {"read": [], "write": []}
        self._seen = self._eligible = self._batch_writes = self._n = 0
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)  # daemon handler threads
        self._server.proxy = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> "ThrottleProxy":
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(target=self._server.serve_forever, name="throttle-proxy",
                                            kwargs={"poll_interval": 0.05}, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # wake handler threads blocked on idle keep-alive connections
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    __enter__ = start

    def __exit__(self, *exc) -> None:
        self.stop()

    def consumed(self, kind: str) -> list[tuple[float, float]]:
        with self._lock:
            return list(self._consumed[kind])

    def max_rate(self, kind: str, window_s: float = 1.0) -> float:
        events, best, total, lo = sorted(self.consumed(kind)), 0.0, 0.0, 0
        for t, units in events:  # windows (t - window_s, t] ending at each event
            total += units
            while events[lo][0] <= t - window_s:
                total -= events[lo][1]
                lo += 1
            best = max(best, total)
        return best / window_s

    # Decisions, all under the lock, in order: reset, throttle, error, unprocessed, faults, forward.
    def _decide(self, request: Request, kind: str | None) -> tuple[str, Fault | None]:
        op = request.op
        with self._lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            self._seen += 1
            if self.reset_every and self._seen % self.reset_every == 0:
                self.injected_resets += 1
                return "reset", None
            limit = self.limits.get(kind) if kind else None
            if limit is not None:
                since = self.clock() - self.window_s
                used = sum(u for t, u in self._consumed[kind] if t > since)
                if used >= limit * self.window_s:
                    self.throttled[op] = self.throttled.get(op, 0) + 1
                    return "throttle", None
            self._eligible += 1
            if self.error_every and self._eligible % self.error_every == 0:
                self.injected_errors += 1
                return "error", None
            if op == "BatchWriteItem":
                self._batch_writes += 1
                if self.unprocessed_every and self._batch_writes % self.unprocessed_every == 0:
                    return "unprocessed", None
            fault = self.faults(request) if self.faults else None
            if fault is not None:
                self.injected.append((request, fault))
                return fault.kind, fault
            return "forward", None

    def _next_request(self, service: str, op: str, method: str, path: str, headers: dict[str, str]) -> Request:
        with self._lock:
            self._n += 1
            request = Request(self._n, service, op, method, path, headers)
            self.received.append(request)
            return request

    def _record_upload(self, payload: bytes, delivered: bool) -> None:
        match = _UPLOAD_ID.search(payload)
        if match:
            with self._lock:
                self.uploads[match.group(1).decode()] = delivered

    def _record(self, kind: str, units: float, arrived: float) -> None:
        """A request's consumed units, timed at its arrival: a client reserves capacity before it
        sends, so arrival times bound what its limiter allowed whatever the response delays
        (the scheduling jitter of a loaded machine), unlike the times responses come back."""
        with self._lock:
            self._consumed[kind].append((arrived, units))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end after this many seconds
    upstream: http.client.HTTPConnection | None = None

    def setup(self) -> None:
        super().setup()
        self.proxy: ThrottleProxy = self.server.proxy
        with self.proxy._lock:
            self.proxy._sockets.add(self.connection)

    def finish(self) -> None:
        with self.proxy._lock:
            self.proxy._sockets.discard(self.connection)
        if self.upstream is not None:
            self.upstream.close()
        try:
            super().finish()
        except OSError:
            pass

    def log_message(self, format, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        target = self.headers.get("X-Amz-Target") or ""
        if target.startswith("DynamoDB_"):
            return self._proxy("dynamodb", target.rpartition(".")[2])
        self._proxy("s3", s3_operation(self.command, self.path))

    do_POST = do_PUT = do_HEAD = do_DELETE = do_GET

    def _read_body(self, limit: int | None = None) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raise NotImplementedError("chunked request bodies are not supported")
        return self.rfile.read(length if limit is None else min(limit, length))

    def _proxy(self, service: str, op: str) -> None:
        proxy = self.proxy
        arrived = proxy.clock()
        kind = ("read" if op in READS else "write" if op in WRITES else None) if service == "dynamodb" else None
        request = proxy._next_request(service, op, self.command, self.path,
                                      {k.lower(): v for k, v in self.headers.items()})
        decision, fault = proxy._decide(request, kind)
        if decision == "reset_request":  # the client is cut off half-way through sending its body
            self._read_body(int(self.headers.get("Content-Length") or 0) // 2)
            return self._reset()
        body = self._read_body()
        if decision == "kill":
            if proxy.kill_pid:
                os.kill(proxy.kill_pid, signal.SIGKILL)
            return self._reset()
        if decision == "reset":
            return self._reset()
        if decision == "throttle":
            if service == "s3":
                return self._send_s3_error(*S3_ERRORS["throttle"])
            code = "ProvisionedThroughputExceededException" if kind else "ThrottlingException"
            message = THROTTLE_MESSAGE if kind else "Rate of requests exceeds the allowed throughput."
            return self._send_error(400, code, message)
        if decision == "error":
            status = fault.status if fault else proxy.error_status
            if fault and fault.code:
                code, message = fault.code, f"Injected by the fault proxy: {fault.code}"
            elif service == "s3":
                _, code, message = S3_ERRORS[status]
            else:
                code, message = STATUS_ERRORS.get(status, ("InternalServerError", "Injected error"))
            return (self._send_s3_error if service == "s3" else self._send_error)(status, code, message)
        if decision == "conflict":
            return self._send_s3_error(*S3_ERRORS["conflict"])
        if decision == "slow":
            time.sleep(fault.delay_s)
        withheld: dict[str, list] = {}
        if decision == "unprocessed":
            request_body = json.loads(body)
            for table, items in request_body.get("RequestItems", {}).items():
                keep = (len(items) + 1) // 2
                request_body["RequestItems"][table], rest = items[:keep], items[keep:]
                withheld.update({table: rest} if rest else {})
            body = json.dumps(request_body).encode()
        try:
            status, headers, payload = self._forward(body)
        except (OSError, http.client.HTTPException) as exc:
            return self._send(502, [("Content-Type", "text/plain")], f"upstream failed: {exc}".encode())
        if op == "CreateMultipartUpload" and status == 200:
            proxy._record_upload(payload, delivered=decision not in ("lost", "reset_response", "cut_body",
                                                                     "precondition"))
        if decision == "lost":
            return self._reset()
        if decision == "precondition":
            return self._send_s3_error(*S3_ERRORS["precondition"])
        if kind and status == 200:
            encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
            parsed = _parse_json(payload, encoding)
            units = _capacity(parsed)
            if units is None:
                units = math.ceil(len(payload) / 4096) * 0.5 if kind == "read" else float(math.ceil(len(body) / 1024))
            proxy._record(kind, units, arrived)
            if withheld and parsed is not None:
                unprocessed = parsed.setdefault("UnprocessedItems", {})
                for table, rest in withheld.items():
                    unprocessed.setdefault(table, []).extend(rest)
                payload = json.dumps(parsed, separators=(",", ":")).encode()
                headers = [(k, v) for k, v in headers if k.lower() not in ("x-amz-crc32", "content-encoding")]
                headers.append(("x-amz-crc32", str(zlib.crc32(payload))))
                with proxy._lock:
                    proxy.injected_unprocessed += 1
        if decision == "reset_response":
            return self._send(status, headers, payload, cut=fault) if payload else self._reset()
        self._send(status, headers, payload, cut=fault if decision == "cut_body" else None)

    def _reset(self) -> None:
        """RST (linger 0) as soon as finish() closes rfile/wfile."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if body or self.command in ("POST", "PUT"):
            headers["Content-Length"] = str(len(body))
        while True:  # once more on a fresh connection if the upstream closed an idle keep-alive one
            reused = self.upstream is not None
            self.upstream = self.upstream or http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
            try:
                self.upstream.request(self.command, self.path, body, headers)
                response = self.upstream.getresponse()
                payload = response.read()
                if self.command == "HEAD":  # no body, but the object's length is the answer
                    self._head_length = response.getheader("Content-Length")
                return response.status, response.getheaders(), payload
            except (OSError, http.client.HTTPException):
                self.upstream.close()
                self.upstream = None
                if not reused:
                    raise

    def _send_error(self, status: int, code: str, message: str) -> None:
        payload = json.dumps({"__type": PREFIX + code, "message": message}).encode()
        self._send(status, [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code),
                            ("x-amzn-RequestId", os.urandom(26).hex().upper()),
                            ("x-amz-crc32", str(zlib.crc32(payload)))], payload)

    def _send_s3_error(self, status: int, code: str, message: str) -> None:
        request_id = os.urandom(8).hex().upper()
        payload = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                   f"<RequestId>{request_id}</RequestId></Error>").encode()
        self._send(status, [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
                   b"" if self.command == "HEAD" else payload)

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes, *,
              cut: Fault | None = None) -> None:
        """The response; with `cut` (reset_response, cut_body) only its `keep` share of the body."""
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        head_length = getattr(self, "_head_length", None) if self.command == "HEAD" else None
        self.send_header("Content-Length", head_length or str(len(payload)))
        self._head_length = None
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if cut is None:
            self.wfile.write(payload)
            return
        self.wfile.write(payload[:int(len(payload) * cut.keep)])  # the full length was announced
        if cut.kind == "reset_response":  # a reset: data still in flight may never arrive
            return self._reset()
        self.close_connection = True  # cut_body: an orderly close (FIN), so what was sent arrives
        self.connection.shutdown(socket.SHUT_RDWR)
