"""The service's HTTP endpoints (stdlib ThreadingHTTPServer, no framework needed for four routes).

    GET  /healthz      200 "ok" while the scheduler runs, 503 otherwise
    GET  /metrics      Prometheus text format
    GET  /             the status page (status_page.py): jobs, next runs, last results, backups
    POST /run/<job>    "run now"; needs the configured token (header X-Ddbvault-Token or form
                       field `token`); 403 without it, 404 for an unknown job, 303 back to /
"""

from __future__ import annotations

import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from ..errors import DdbvaultError
from .metrics import CONTENT_TYPE
from .status_page import render_status

log = logging.getLogger(__name__)


class ServiceHttp:
    def __init__(self, service, host: str, port: int):
        self.service = service
        handler = type("Handler", (_Handler,), {"service": service})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="ddbvault-http", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    service = None  # set per server by ServiceHttp

    def log_message(self, fmt, *args) -> None:
        log.debug("http: " + fmt, *args)

    def _send(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8",
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            ok = self.service.scheduler.running
            self._send(200 if ok else 503, b"ok\n" if ok else b"scheduler not running\n")
        elif self.path == "/metrics":
            self._send(200, self.service.metrics.render(), CONTENT_TYPE)
        elif self.path in ("/", "/index.html"):
            self._send(200, render_status(self.service).encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"not found\n")

    def do_POST(self) -> None:
        if not self.path.startswith("/run/"):
            return self._send(404, b"not found\n")
        name = unquote(self.path[len("/run/"):])
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
        given = self.headers.get("X-Ddbvault-Token") or (form.get("token") or [""])[0]
        expected = self.service.config.http.token
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return self._send(403, b"run now needs the service token\n")
        try:
            self.service.scheduler.run_now(name)
        except DdbvaultError:
            return self._send(404, f"no job {name}\n".encode())
        log.info("run now: job %s", name)
        self._send(303, b"started\n", headers={"Location": "/"})
