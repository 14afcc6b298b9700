"""A backup killed or stopped mid-run leaves no manifest, so it is never taken as complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "slow")
    fill_table(ddb, "slow", 400, edge_cases=False, payload_bytes=100)
    return "slow"


def _start(dest: Path, table: str) -> subprocess.Popen:
    # --read-rcu 1: one small page a second, so the run is certainly mid-way when signalled
    return subprocess.Popen(
        [sys.executable, "-m", "ddbvault", "backup", table, "--to", str(dest), "--read-rcu", "1",
         "--segments", "2", "--workers", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))


def _wait_for_partial(dest: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(".partial-" in p.name for p in dest.rglob("*")):
            return
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.1)
    raise AssertionError("the backup never started writing")


def test_sigkill_mid_backup_leaves_no_manifest(table, aws_env, tmp_path):
    proc = _start(tmp_path, table)
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not list(tmp_path.rglob("manifest.json"))


def test_sigterm_stops_cleanly_with_exit_130_and_no_manifest(table, aws_env, tmp_path):
    proc = _start(tmp_path, table)
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert "interrupted" in stderr.decode()
    assert not list(tmp_path.rglob("manifest.json"))
    # the open data objects were aborted, not committed as if complete
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
