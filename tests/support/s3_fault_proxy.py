"""A fault-injecting HTTP proxy in front of moto's S3, for tests of what a real network does.

Contract:
- Listens on http://127.0.0.1:<free port> (`url`) while used as a context manager. Stdlib only,
  one thread per client connection (HTTP/1.1 keep-alive), a fresh upstream connection per request.
- Every request is recorded in `requests` as (method, path with query, lower-cased headers).
- `faults` is a list of Fault; the first whose `match(method, path, query)` is true and whose
  `times` is not used up applies to the request:
  - `lose-response`: forwarded, so upstream acts on it, then the client connection is reset
    without an answer (a success whose response is lost).
  - `answer-412`: forwarded, then answered 412 PreconditionFailed (AWS's answer to a retried
    conditional create that had already succeeded).
  - `error`: not forwarded; answered `status` with S3 error `code`.
  - `cut-body`: forwarded; the status, the headers (full Content-Length) and the first `keep`
    share of the body are sent, then the connection is closed (a transfer cut mid-way).
- Statistics (`applied`: action -> count) are thread-safe.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}
ERROR_XML = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
             '<Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>')


@dataclass
class Fault:
    match: Callable[[str, str, dict], bool]  # (method, path without query, parsed query)
    action: str  # lose-response, answer-412, error, cut-body
    times: int = 1
    status: int = 500
    code: str = "InternalError"
    keep: float = 0.5  # cut-body: the share of the body sent before the reset


def is_complete(method: str, path: str, query: dict) -> bool:
    return method == "POST" and "uploadId" in query


def is_part(number: int | None = None) -> Callable[[str, str, dict], bool]:
    def match(method: str, path: str, query: dict) -> bool:
        return method == "PUT" and "partNumber" in query and (number is None or query["partNumber"] == [str(number)])
    return match


def is_put_object(method: str, path: str, query: dict) -> bool:
    return method == "PUT" and not query


def is_get(method: str, path: str, query: dict) -> bool:
    return method == "GET" and not query and path.count("/") >= 2


class S3FaultProxy:
    def __init__(self, upstream_url: str, faults: list[Fault] | None = None):
        self.upstream = urlsplit(upstream_url)
        self.faults = list(faults or [])
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.applied: dict[str, int] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.proxy = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> "S3FaultProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _choose(self, method: str, target: str, headers: dict[str, str]) -> Fault | None:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self.requests.append((method, target, headers))
            for fault in self.faults:
                if fault.times > 0 and fault.match(method, parts.path, query):
                    fault.times -= 1
                    self.applied[fault.action] = self.applied.get(fault.action, 0) + 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, *args) -> None:
        pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:  # the connection was reset on purpose
            pass

    def _handle(self) -> None:
        proxy: S3FaultProxy = self.server.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = proxy._choose(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        if fault is not None and fault.action == "error":
            return self._send_error(fault.status, fault.code)
        status, headers, payload = self._forward(proxy, body)
        if fault is None:
            return self._send(status, headers, payload)
        if fault.action == "lose-response":
            return self._reset()
        if fault.action == "answer-412":
            return self._send_error(412, "PreconditionFailed")
        if fault.action == "cut-body":
            return self._send(status, headers, payload, keep=fault.keep)
        raise AssertionError(f"unknown fault action {fault.action!r}")

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def _forward(self, proxy: S3FaultProxy, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _send_error(self, status: int, code: str) -> None:
        payload = ERROR_XML.format(code=code, message=f"injected by the fault proxy: {code}").encode()
        self._send(status, [("Content-Type", "application/xml")], payload)

    def _send(self, status: int, headers: list[tuple[str, str]], payload: bytes,
              keep: float | None = None) -> None:
        self.send_response_only(status)
        length = None
        for name, value in headers:
            if name.lower() == "content-length":
                length = value
            elif name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        head_length = length if self.command == "HEAD" and length else None
        self.send_header("Content-Length", head_length or str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if keep is not None:  # an orderly close (FIN) mid-body, so what was sent arrives
            self.wfile.write(payload[: int(len(payload) * keep)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with RST (linger 0): the client sees a reset, not an orderly end."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()
