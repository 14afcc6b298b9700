"""The shell every test stand-in and proxy here shares: a threaded HTTP server on a free loopback
port, served from a daemon thread while the object is used as a context manager."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ddbvault.devtools.local_servers import free_port


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True  # a hung client never blocks shutdown
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
