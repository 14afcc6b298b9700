"""A pass-through HTTP proxy that records each request's method, path and headers.

Used to prove what ddbvault actually sends to S3 (ACL and SSE headers), which moto cannot show:
all its accounts share one canonical owner, so the stored ACL looks the same either way.
"""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackServer


class RecordingProxy(LoopbackServer):
    """`requests` holds (method, path, lower-cased headers), `bodies` each request's body.
    `answer(method, path, headers)` may return (status, body) to answer instead of the upstream
    (e.g. to play an S3 rule moto does not enforce)."""

    def __init__(self, upstream_url: str, answer=None):
        self.upstream = urlsplit(upstream_url)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.bodies: list[bytes] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                proxy.requests.append((self.command, self.path, headers))
                proxy.bodies.append(body)
                own = answer(self.command, self.path, headers) if answer else None
                if own:
                    self.send_response(own[0])
                    self.send_header("Content-Length", str(len(own[1])))
                    self.end_headers()
                    self.wfile.write(own[1])
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                conn.request(self.command, self.path, body=body, headers=dict(self.headers.items()))
                response = conn.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(name, value)
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

            def log_message(self, *args) -> None:
                pass

        super().__init__(Handler)
