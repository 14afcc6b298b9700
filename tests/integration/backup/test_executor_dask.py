"""`ddbvault backup --executor dask --scheduler tcp://HOST:PORT`: the segments as tasks on a real
Dask cluster (a distributed.LocalCluster of 2 worker processes under nannies) against the real
moto_server. A backup through it verifies and restores identical; a worker killed with SIGKILL
mid-segment has its segment run again elsewhere; an unreachable scheduler fails in one line, and
one lost mid-backup fails the run naming the segments left and how to resume."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from distributed import Client, LocalCluster

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.local_servers import free_port
from ddbvault.errors import DdbvaultError
from tests.support.cli import run_cli
from tests.support.segment_attempts import (  # noqa: F401 (table and slow are fixtures)
    SLOW_ITEMS, SLOW_RCU, CountingProgress, attempts_of, read_manifest, running_attempt, slow, table, verify_and_restore)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(aws_env):
    """Two worker processes, one thread each; started after aws_env, so they reach moto."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local, Client(local) as client:
        yield local.scheduler_address, client


def test_a_backup_through_the_cluster_restores_identical(cluster, table, ddb, aws_env, tmp_path):
    address, _ = cluster
    progress = CountingProgress()
    result = backup_table(table, str(tmp_path), BackupOptions(executor="dask", scheduler=address, segments=4,
                                                              read_rcu=100000), progress=progress)
    assert progress.items == result.items  # each task's count, as its segment finished
    manifest = read_manifest(str(tmp_path), f"{table}/{result.backup_id}")
    assert manifest["options"]["parallelism"] == 2  # the cluster's worker threads, by default
    assert [s["attempts"] for s in manifest["segments"]] == [1, 1, 1, 1]
    verify_and_restore(ddb, result.url, table, "copy-dask")


def test_a_worker_killed_mid_segment_has_its_segment_run_again(cluster, slow, ddb, s3, aws_env):
    address, client = cluster
    s3.create_bucket(Bucket="dask-vault")
    workers = set(client.run(os.getpid).values())
    outcome: dict = {}

    def backup() -> None:
        try:
            outcome["result"] = backup_table(slow, "s3://dask-vault/p", BackupOptions(
                executor="dask", scheduler=address, segments=4, read_rcu=float(SLOW_RCU)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    runner = threading.Thread(target=backup)
    runner.start()
    root, segment, pid = running_attempt("s3://dask-vault/p", slow, alive=workers.__contains__)
    os.kill(pid, signal.SIGKILL)
    runner.join(timeout=300)
    assert not runner.is_alive() and "error" not in outcome, outcome.get("error")
    manifest = read_manifest("s3://dask-vault/p", root)
    assert attempts_of(manifest, segment) >= 2  # the killed attempt, then the one that won
    assert manifest["totals"]["items"] == SLOW_ITEMS
    verify_and_restore(ddb, outcome["result"].url, slow, "after-kill")
    assert pid not in set(client.run(os.getpid).values())  # the nanny started a new worker


def test_an_unreachable_scheduler_fails_in_one_line_within_the_timeout(table, aws_env, tmp_path):
    with socket.socket() as bound:  # bound, never listening: every connection is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        started = time.monotonic()
        run = run_cli("backup", table, "--to", str(tmp_path), "--executor", "dask", "--scheduler",
                      f"tcp://127.0.0.1:{port}", timeout=120)
    assert run.returncode == 1, run.stderr
    assert time.monotonic() - started < 60
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 10 s" in run.stderr
    assert "Try: start it" in run.stderr and "Traceback" not in run.stderr
    assert not list(tmp_path.rglob("*"))  # refused before the plan was written


def test_a_scheduler_lost_mid_backup_fails_naming_the_segments_left(slow, aws_env, tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                  "--port", str(port), "--no-dashboard"], stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                               "--no-dashboard"], stderr=subprocess.DEVNULL)
    try:
        with Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=30)
        outcome: dict = {}

        def backup() -> None:
            try:
                backup_table(slow, str(tmp_path), BackupOptions(executor="dask", scheduler=address, segments=2,
                                                                read_rcu=float(SLOW_RCU)))
            except BaseException as exc:  # noqa: BLE001 - checked below
                outcome["error"] = exc

        runner = threading.Thread(target=backup)
        runner.start()
        root, _, _ = running_attempt(str(tmp_path), slow)
        scheduler.kill()
        started = time.monotonic()
        runner.join(timeout=120)
        assert time.monotonic() - started < 60 and not runner.is_alive()
    finally:
        for proc in (scheduler, worker):
            proc.kill()
            proc.wait(timeout=30)
    error = outcome.get("error")
    assert isinstance(error, DdbvaultError) and error.exit_code == 1, outcome
    assert f"the Dask scheduler {address} cancelled segment" in error.message
    assert "segments have no result" in error.message and "no manifest written" in error.message
    assert error.hint.startswith(f"ddbvault backup --resume {tmp_path / root}")
    assert not (tmp_path / root / "manifest.json").exists()
