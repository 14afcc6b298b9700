"""A fault-injecting HTTP proxy in front of a local DynamoDB (dynalite, moto_server), for tests.

Contract:
- Listens on http://127.0.0.1:<free port> (`url`) from construction; serves after `start()`,
  until `stop()` (idempotent; also a context manager). Stdlib only, one thread per client
  connection (HTTP/1.1 keep-alive), one upstream connection per client connection.
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
- Everything else (status, headers, body, upstream 4xx/5xx) passes through unchanged; rewritten
  bodies get a recomputed `x-amz-crc32`. A rewritten request body invalidates a SigV4
  signature, so `unprocessed_every` needs an upstream that does not verify signatures
  (dynalite, moto without IAM enforcement).
- Statistics (`requests`, `throttled`, `injected_*`, `consumed()`, `max_rate()`) are thread-safe.
"""

from __future__ import annotations

import gzip
import http.client
import json
import math
import os
import socket
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
              "content-length"}  # content-length is recomputed
PREFIX = "com.amazonaws.dynamodb.v20120810#"
THROTTLE_MESSAGE = ("The level of configured provisioned throughput for the table was exceeded. "
                    "Consider increasing your provisioning level with the UpdateTable API.")
STATUS_ERRORS = {500: ("InternalServerError", "Internal server error"),
                 503: ("ServiceUnavailable", "Service unavailable")}


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
                 unprocessed_every: int = 0, clock=time.monotonic):
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.limits = {"read": read_rcu_per_s, "write": write_wcu_per_s}
        self.window_s, self.clock = window_s, clock
        self.error_every, self.error_status = error_every, error_status
        self.reset_every, self.unprocessed_every = reset_every, unprocessed_every
        self.requests: dict[str, int] = {}
        self.throttled: dict[str, int] = {}
        self.injected_errors = self.injected_resets = self.injected_unprocessed = 0
        self._consumed: dict[str, list[tuple[float, float]]] = {"read": [], "write": []}
        self._seen = self._eligible = self._batch_writes = 0
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

    # Decisions, all under the lock, in order: reset, throttle, error, forward.
    def _decide(self, op: str, kind: str | None) -> str:
        with self._lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            self._seen += 1
            if self.reset_every and self._seen % self.reset_every == 0:
                self.injected_resets += 1
                return "reset"
            limit = self.limits.get(kind) if kind else None
            if limit is not None:
                since = self.clock() - self.window_s
                used = sum(u for t, u in self._consumed[kind] if t > since)
                if used >= limit * self.window_s:
                    self.throttled[op] = self.throttled.get(op, 0) + 1
                    return "throttle"
            self._eligible += 1
            if self.error_every and self._eligible % self.error_every == 0:
                self.injected_errors += 1
                return "error"
            if op == "BatchWriteItem":
                self._batch_writes += 1
                if self.unprocessed_every and self._batch_writes % self.unprocessed_every == 0:
                    return "unprocessed"
            return "forward"

    def _record(self, kind: str, units: float) -> None:
        with self._lock:
            self._consumed[kind].append((self.clock(), units))


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
        self._proxy(b"", "")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target") or ""
        self._proxy(body, target.rpartition(".")[2] if target.startswith("DynamoDB_") else "")

    def _proxy(self, body: bytes, op: str) -> None:
        proxy, kind = self.proxy, "read" if op in READS else "write" if op in WRITES else None
        decision = proxy._decide(op or f"{self.command} {self.path}", kind)
        if decision == "reset":  # RST (linger 0) as soon as finish() closes rfile/wfile
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if decision == "throttle":
            return self._send_error(400, "ProvisionedThroughputExceededException", THROTTLE_MESSAGE)
        if decision == "error":
            code, message = STATUS_ERRORS.get(proxy.error_status, ("InternalServerError", "Injected error"))
            return self._send_error(proxy.error_status, code, message)
        withheld: dict[str, list] = {}
        if decision == "unprocessed":
            request = json.loads(body)
            for table, items in request.get("RequestItems", {}).items():
                keep = (len(items) + 1) // 2
                request["RequestItems"][table], rest = items[:keep], items[keep:]
                withheld.update({table: rest} if rest else {})
            body = json.dumps(request).encode()
        try:
            status, headers, payload = self._forward(body)
        except (OSError, http.client.HTTPException) as exc:
            return self._send(502, [("Content-Type", "text/plain")], f"upstream failed: {exc}".encode())
        if kind and status == 200:
            encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
            parsed = _parse_json(payload, encoding)
            units = _capacity(parsed)
            if units is None:
                units = math.ceil(len(payload) / 4096) * 0.5 if kind == "read" else float(math.ceil(len(body) / 1024))
            proxy._record(kind, units)
            if withheld and parsed is not None:
                unprocessed = parsed.setdefault("UnprocessedItems", {})
                for table, rest in withheld.items():
                    unprocessed.setdefault(table, []).extend(rest)
                payload = json.dumps(parsed, separators=(",", ":")).encode()
                headers = [(k, v) for k, v in headers if k.lower() not in ("x-amz-crc32", "content-encoding")]
                headers.append(("x-amz-crc32", str(zlib.crc32(payload))))
                with proxy._lock:
                    proxy.injected_unprocessed += 1
        self._send(status, headers, payload)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        while True:  # once more on a fresh connection if the upstream closed an idle keep-alive one
            reused = self.upstream is not None
            self.upstream = self.upstream or http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
            try:
                self.upstream.request(self.command, self.path, body, headers)
                response = self.upstream.getresponse()
                return response.status, response.getheaders(), response.read()
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

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)
