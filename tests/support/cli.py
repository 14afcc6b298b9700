"""Running the `ddbvault` CLI as a subprocess in tests, with this process's environment (so the
local servers' endpoints and PYTHONPATH carry over)."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m ddbvault ARGS...`, its stdout and stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)
