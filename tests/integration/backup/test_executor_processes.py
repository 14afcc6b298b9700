"""`ddbvault backup --processes P`: the segments on a local pool of spawned processes (real
moto_server, real child processes). A backup into a directory and into S3 verifies and restores
identical; a child killed with SIGKILL mid-segment has its segment run again and the backup
still completes; SIGTERM stops every child with exit 130 and no manifest, and `--resume` then
finishes the backup; a cancelled run (the service's shutdown) stops its children too; a service
job runs on its `executor:`; bad executor options are refused in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import orjson
import psutil
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.errors import InterruptedRun
from ddbvault.service import load_config, run_once
from tests.support.cli import run_cli
from tests.support.segment_attempts import (  # noqa: F401 (table and slow are fixtures)
    SLOW_ITEMS, SLOW_RCU, CountingProgress, attempts_of, read_manifest, running_attempt, slow, table, verify_and_restore)

pytestmark = pytest.mark.integration


def test_a_backup_on_two_processes_into_a_directory_restores_identical(table, ddb, aws_env, tmp_path):
    progress = CountingProgress()
    result = backup_table(table, str(tmp_path), BackupOptions(executor="processes", processes=2, segments=4,
                                                              read_rcu=100000), progress=progress)
    assert progress.items == result.items  # every child's pages reached this process's progress
    manifest = read_manifest(str(tmp_path), f"{table}/{result.backup_id}")
    assert manifest["options"]["parallelism"] == 2 and manifest["options"]["segments"] == 4
    assert [s["segment"] for s in manifest["segments"]] == [0, 1, 2, 3]
    assert manifest["options"]["worker_read_rate_rcu_per_s"] == 50000  # the cap shared by 2
    verify_and_restore(ddb, result.url, table, "copy-dir")


def test_a_backup_on_two_processes_into_s3_by_the_cli_restores_identical(table, ddb, s3, aws_env):
    s3.create_bucket(Bucket="procs-vault")
    run = run_cli("backup", table, "--to", "s3://procs-vault/p", "--processes", "2", "--segments", "3",
                  "--read-rcu", "100000", "--json", timeout=300)
    assert run.returncode == 0, run.stderr
    result = orjson.loads(run.stdout)
    assert result["url"].startswith(f"s3://procs-vault/p/{table}/") and result["segments"] == 3
    verify_and_restore(ddb, result["url"], table, "copy-s3")


def test_the_installed_console_script_runs_a_pool_backup(table, ddb, aws_env, tmp_path):
    """The `ddbvault` script (ddbvault.console:main), not `python -m ddbvault`: each spawned child
    re-runs the parent's main script, so that script must be importable in a child."""
    script = os.path.join(os.path.dirname(sys.executable), "ddbvault")
    run = subprocess.run([script, "backup", table, "--to", str(tmp_path), "--processes", "2", "--segments", "4",
                          "--read-rcu", "100000", "--json"], capture_output=True, text=True, env=dict(os.environ),
                         timeout=300)
    assert run.returncode == 0, run.stderr
    result = orjson.loads(run.stdout)
    assert result["segments"] == 4 and "Traceback" not in run.stderr
    verify_and_restore(ddb, result["url"], table, "copy-script")


def _backup(dest, table: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ddbvault", "backup", table, "--to", str(dest), "--processes", "2",
                             "--segments", "4", "--read-rcu", SLOW_RCU, "--no-progress", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _child_of(parent: subprocess.Popen):
    def alive(pid: int) -> bool:
        return pid in {p.pid for p in psutil.Process(parent.pid).children(recursive=True)}
    return alive


def test_a_child_killed_mid_segment_has_its_segment_run_again(slow, ddb, aws_env, tmp_path):
    proc = _backup(tmp_path, slow)
    try:
        root, segment, pid = running_attempt(str(tmp_path), slow, alive=_child_of(proc))
        os.kill(pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    assert "worker process died" in stderr and "restart 1 of 3" in stderr
    manifest = read_manifest(str(tmp_path), root)
    assert attempts_of(manifest, segment) >= 2  # the killed attempt, then the one that won
    assert manifest["totals"]["items"] == SLOW_ITEMS
    verify_and_restore(ddb, str(tmp_path / root), slow, "after-kill")


def test_sigterm_stops_every_child_with_130_and_resume_finishes_the_backup(slow, ddb, aws_env, tmp_path):
    proc = _backup(tmp_path, slow)
    try:
        root, _, _ = running_attempt(str(tmp_path), slow, alive=_child_of(proc))
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and f"ddbvault backup --resume {tmp_path / root}" in stderr
    assert not (tmp_path / root / "manifest.json").exists()
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, "a worker process outlived the backup"
    assert not [p for p in (tmp_path / root / "data").rglob("*") if p.is_file()]  # no loser's data visible

    run = run_cli("backup", "--resume", str(tmp_path / root), "--processes", "2", "--json", timeout=300)
    assert run.returncode == 0, run.stderr
    assert orjson.loads(run.stdout)["items"] == SLOW_ITEMS
    verify_and_restore(ddb, str(tmp_path / root), slow, "resumed")


@pytest.mark.parametrize("args, why", [
    (["--processes", "0"], "'--processes': 0 is not in the range 1<=x<=256"),
    (["--processes", "10000"], "'--processes': 10000 is not in the range 1<=x<=256"),
    (["--processes", "2", "--executor", "threads"], "--processes is for --executor processes"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --executor dask"),
    (["--executor", "dask"], "--executor dask needs --scheduler"),
    (["--executor", "dask", "--scheduler", "127.0.0.1:8786"], "is not tcp://HOST:PORT"),
    (["--parallelism", "4"], "threads in one process share one limiter"),
    (["--processes", "2", "--parallelism", "0"], "'--parallelism': 0 is not in the range"),
    (["--processes", "2", "--schema-only"], "--schema-only scans nothing"),
    (["--executor", "fork"], "'fork' is not one of 'threads', 'processes', 'dask'"),
])
def test_bad_executor_options_are_refused_in_one_line(table, aws_env, tmp_path, args, why):
    run = run_cli("backup", table, "--to", str(tmp_path), *args)
    assert run.returncode == 2, run.stderr
    assert why in run.stderr and "Traceback" not in run.stderr
    assert not list(tmp_path.rglob("*"))  # refused before anything was written


def test_a_service_job_runs_on_its_executor(table, aws_env, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"""
jobs:
  - {{name: pooled, table: {table}, interval_seconds: 3600, destination: "{tmp_path / 'vault'}", read_rcu: 100000,
      segments: 3, executor: {{kind: processes, processes: 2}}}}
""")
    [record] = run_once(load_config(config))
    assert record.outcome == "success", record.error
    manifest = read_manifest(str(tmp_path / "vault"), record.url.removeprefix(str(tmp_path / "vault") + "/"))
    assert manifest["options"]["parallelism"] == 2 and len(manifest["segments"]) == 3


def test_a_cancelled_run_stops_its_children_and_writes_no_manifest(slow, aws_env, tmp_path):
    cancelled, outcome = threading.Event(), {}
    me = psutil.Process()

    def backup() -> None:
        try:
            backup_table(slow, str(tmp_path), BackupOptions(executor="processes", processes=2, segments=4,
                                                            read_rcu=float(SLOW_RCU)), cancelled=cancelled)
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome["error"] = exc

    runner = threading.Thread(target=backup)
    runner.start()
    root, _, _ = running_attempt(str(tmp_path), slow, alive=lambda pid: pid in {c.pid for c in me.children(True)})
    # the pool's workers, not spawn's resource tracker
    children = [c for c in me.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]
    assert len(children) == 2
    cancelled.set()  # what the service's shutdown does to a run past its grace period
    runner.join(timeout=120)
    assert isinstance(outcome.get("error"), InterruptedRun), outcome
    assert "ddbvault backup --resume" in outcome["error"].hint
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, "a worker process outlived the cancelled run"
    assert not (tmp_path / root / "manifest.json").exists()
