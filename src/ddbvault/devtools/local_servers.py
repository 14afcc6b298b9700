"""Start and stop the local servers that the demo, the tests and the benchmarks use.

Contract: each server listens on a free loopback port chosen at start, is owned by the
`LocalServer` object that started it, and is stopped (terminate, then kill after a timeout)
by `stop()` or by leaving the `with` block. Nothing here talks to AWS.

- `moto_server` (PyPI `moto[server]`, pinned in pyproject): DynamoDB, S3, STS, KMS, ... in one process.
- `dynalite` (npm, `package.json` at the repository root): a DynamoDB with realistic
  ConsumedCapacity, used by benchmarks and rate-limiter tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalServer:
    """A child process serving HTTP on 127.0.0.1:port."""

    name: str
    argv: list[str]
    port: int
    log_path: Path | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LocalServer":
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode} "
                                   f"before listening; see {self.log_path or 'its output'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {READY_TIMEOUT_S}s")

    def stop(self) -> None:
        """Idempotent: terminate, then kill if it does not exit within STOP_TIMEOUT_S."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> "LocalServer":
        return self.start() if self.process is None else self

    def __exit__(self, *exc) -> None:
        self.stop()


def moto_server(log_path: Path | None = None) -> LocalServer:
    """A moto_server (not yet started). IAM enforcement is off until reset_auth() turns it on."""
    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server is not installed: run `pip install -e '.[dev]'`")
    return LocalServer("moto_server", [exe, "-H", "127.0.0.1", "-p", str(port)], port, log_path)


def find_dynalite() -> str:
    """Path of the dynalite executable from the repository's node_modules (or PATH)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "node_modules" / ".bin" / "dynalite"
        if candidate.exists():
            return str(candidate)
    exe = shutil.which("dynalite")
    if exe is None:
        raise RuntimeError("dynalite is not installed: run `npm ci` at the repository root")
    return exe


def dynalite(log_path: Path | None = None) -> LocalServer:
    """A dynalite server (in-memory, not yet started) with tables ACTIVE almost at once."""
    port = free_port()
    argv = [find_dynalite(), "--host", "127.0.0.1", "--port", str(port),
            "--createTableMs", "20", "--deleteTableMs", "20", "--updateTableMs", "20"]
    return LocalServer("dynalite", argv, port, log_path)


def reset_moto(url: str) -> None:
    """Drop every resource in a moto_server (used between test modules to bound its memory)."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=30).read()


def set_moto_auth(url: str, initial_no_auth_actions: int | None) -> None:
    """Turn moto's IAM enforcement on after `n` unauthenticated actions, or off with None."""
    body = str("inf" if initial_no_auth_actions is None else initial_no_auth_actions).encode()
    # text/plain: with a form content type Flask would consume the body before moto reads it
    req = urllib.request.Request(f"{url}/moto-api/reset-auth", data=body, method="POST",
                                 headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(req, timeout=30).read()


def local_aws_env(url: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that point boto3 at a local server with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
