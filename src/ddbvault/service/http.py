"""The service's HTTP endpoints (stdlib ThreadingHTTPServer, no framework needed for four routes).

    GET  /healthz      200 "ok" while the scheduler runs, 503 otherwise
    GET  /metrics      Prometheus text format
    GET  /             the status page (status_page.py): RPO per job, next runs, last results, run
                       history charts, recent backups
    GET  /jobs.html    the page's jobs section alone, which the page's script fetches to refresh
                       itself (lists no destination)
    POST /run/<job>    "run now"; needs the configured token (header X-Ddbvault-Token or form
                       field `token`); 403 without it, 404 for an unknown job, 409 if the job
                       is already running (nothing started), else 303 back to /

HTML answers carry status_page.CONTENT_SECURITY_POLICY: the page may load nothing and send
nothing outside its own origin.

The token is checked before any body is read. A body is read only when the token is not in the
header, and only with a valid Content-Length of at most MAX_FORM_BYTES (400 for a malformed
one, 411 for none with chunked encoding, 413 above the bound); a client that stalls mid-body is
dropped after REQUEST_TIMEOUT_S. No request can make the service buffer more than that bound.
"""

from __future__ import annotations

import hmac
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import DdbvaultError
from .metrics import CONTENT_TYPE
from .status_page import CONTENT_SECURITY_POLICY, JOBS_PATH, render_jobs, render_status

log = logging.getLogger(__name__)
MAX_FORM_BYTES = 64 * 1024  # a "run now" form holds one token
REQUEST_TIMEOUT_S = 10


class _Refused(Exception):
    """A request answered with an HTTP error before any work was done."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status, self.text = status, text


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
    timeout = REQUEST_TIMEOUT_S  # socket timeout: a stalled client cannot hold a thread forever

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
        if not getattr(self, "_head", False):
            self.wfile.write(body)

    def _send_html(self, text: str) -> None:
        self._send(200, text.encode(), "text/html; charset=utf-8",
                   headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})

    def _route(self) -> str:
        """The request's path without its query string or fragment (a probe's `?x=1` is ignored)."""
        return urlsplit(self.path).path

    def do_GET(self) -> None:
        path = self._route()
        if path == "/healthz":
            ok = self.service.scheduler.running
            self._send(200 if ok else 503, b"ok\n" if ok else b"scheduler not running\n")
        elif path == "/metrics":
            self._send(200, self.service.metrics.render(), CONTENT_TYPE)
        elif path in ("/", "/index.html"):
            self._send_html(render_status(self.service))
        elif path == JOBS_PATH:
            self._send_html(render_jobs(self.service))
        elif path.startswith("/run/"):
            self._send(405, b"run now takes POST\n", headers={"Allow": "POST"})
        else:
            self._send(404, b"not found\n")

    def do_HEAD(self) -> None:
        """GET's status and headers without the body (load balancers probe /healthz this way)."""
        self._head = True
        self.do_GET()

    def _method_not_allowed(self) -> None:
        self._send(405, b"method not allowed: use GET, HEAD, or POST /run/JOB\n", headers={"Allow": "GET, HEAD, POST"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _method_not_allowed

    def do_POST(self) -> None:
        path = self._route()
        if not path.startswith("/run/"):
            if path in ("/", "/index.html", "/healthz", "/metrics", JOBS_PATH):
                return self._send(405, b"this path takes GET\n", headers={"Allow": "GET, HEAD"})
            return self._send(404, b"not found\n")
        name = unquote(path[len("/run/"):])
        try:
            self._check_token()
            started = self.service.scheduler.run_now(name)
        except _Refused as refused:
            return self._send(refused.status, f"{refused.text}\n".encode())
        except DdbvaultError:
            return self._send(404, f"no job {name}\n".encode())
        if not started:
            return self._send(409, f"job {name} is already running; this request was ignored\n".encode())
        log.info("run now: job %s", name)
        self._send(303, b"started\n", headers={"Location": "/"})

    def _check_token(self) -> None:
        """Raises _Refused unless the request carries the service token: the header, or else the
        form field of a bounded body (read only then)."""
        expected = self.service.config.http.token
        if not expected:
            raise _Refused(403, "run now is disabled: the service has no http.token")
        given = self.headers.get("X-Ddbvault-Token")
        if given is None:
            given = (parse_qs(self._form_body().decode("utf-8", "replace")).get("token") or [""])[0]
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise _Refused(403, "run now needs the service token")

    def _form_body(self) -> bytes:
        """The request body, at most MAX_FORM_BYTES, per its Content-Length (given once)."""
        if len(self.headers.get_all("Content-Length") or []) > 1:
            raise _Refused(400, "Content-Length given more than once")
        declared = self.headers.get("Content-Length")
        if declared is None:
            if self.headers.get("Transfer-Encoding"):
                raise _Refused(411, "a body needs a Content-Length")
            return b""
        if not (declared.strip().isascii() and declared.strip().isdigit()):
            raise _Refused(400, "Content-Length must be a non-negative integer")
        length = int(declared)
        if length > MAX_FORM_BYTES:
            raise _Refused(413, f"body over {MAX_FORM_BYTES} bytes")
        return self.rfile.read(length)
