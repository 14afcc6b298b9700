"""A backup killed or stopped mid-run leaves no manifest, so it is never taken as complete; and
`backup --resume` finishes a killed one into a backup that verifies and restores identical."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ddbvault.restore import restore_backup
from ddbvault.verify import verify_backup
from tests.support.tables import canonical_items, create_table, fill_table, scan_all

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "slow")
    fill_table(ddb, "slow", 400, edge_cases=False, payload_bytes=100)
    return "slow"


def _start(dest: Path, table: str, read_rcu: int = 1) -> subprocess.Popen:
    # --read-rcu 1: one small page a second, so the run is certainly mid-way when signalled
    return subprocess.Popen(
        [sys.executable, "-m", "ddbvault", "backup", table, "--to", str(dest), "--read-rcu", str(read_rcu),
         "--segments", "2", "--workers", "2", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))


def _wait_for_partial(dest: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    """Until an attempt has staged data (a file under the backup's staging/, docs/scale.md)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.is_file() and "staging" in p.parts for p in dest.rglob("*")):
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
    lines = stderr.decode().strip().splitlines()
    assert "interrupted" in lines[-2] and "Traceback" not in stderr.decode()
    # one line, then what to do: the resume of this very backup
    url = str(next(tmp_path.rglob("plan.json")).parent)
    assert lines[-1].startswith(f"Try: ddbvault backup --resume {url} "), lines
    assert not list(tmp_path.rglob("manifest.json"))
    # the open data objects were aborted, not made visible as if complete: what is left is the
    # plan and the attempts' records (and results of segments that finished), nothing staged
    left = {p.relative_to(tmp_path).parts[2] for p in tmp_path.rglob("*") if p.is_file()}
    assert left <= {"plan.json", "attempts", "segments"}, left
    assert not [p for p in tmp_path.rglob("data/*") if p.is_file()] or list(tmp_path.rglob("segments/*"))


def test_resume_after_sigkill_gives_a_backup_that_verifies_and_restores_identical(table, ddb, aws_env, tmp_path):
    # 40 RCU/s: the killed run is mid-way when the first staged file appears, and the resumed one
    # (which keeps the plan's rate) finishes in seconds
    proc = _start(tmp_path, table, read_rcu=40)
    _wait_for_partial(tmp_path, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    [plan] = tmp_path.rglob("plan.json")
    url = str(plan.parent)
    staged_before = [p for p in tmp_path.rglob("*") if p.is_file() and "staging" in p.parts]
    assert staged_before and not list(tmp_path.rglob("manifest.json"))
    resumed = subprocess.run([sys.executable, "-m", "ddbvault", "backup", "--resume", url, "--json", "--no-progress"],
                             capture_output=True, env=dict(os.environ), timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()
    result = json.loads(resumed.stdout)
    assert result["url"] == url and result["items"] == 400
    manifest = json.loads((plan.parent / "manifest.json").read_bytes())
    attempts = {s["segment"]: s["attempts"] for s in manifest["segments"]}
    assert sum(attempts.values()) > 2  # the killed attempts are counted beside the winners
    # nothing but the winners' objects under data/: exactly the manifest's objects
    data = sorted(p.relative_to(plan.parent).as_posix() for p in (plan.parent / "data").iterdir())
    assert data == sorted(o["key"] for o in manifest["objects"])
    report = verify_backup(url)
    assert report.ok and report.items == 400
    restore_backup(url, "slow-resumed")
    assert canonical_items(scan_all(ddb, "slow-resumed")) == canonical_items(scan_all(ddb, table))
