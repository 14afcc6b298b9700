"""Peer tools the benchmark compares ddbvault with: dynamodump (PyPI), in a venv of its own.

dynamodump pins boto3==1.40.43, so it must never be installed into the project venv. Its venv
lives at bench/.work/venv-dynamodump: created on first use, reused afterwards (the only thing a
benchmark run keeps across runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / ".work"
DYNAMODUMP_VENV = WORK_DIR / "venv-dynamodump"
# Pinned so that figures stay comparable between runs; bump deliberately.
DYNAMODUMP_REQUIREMENT = "dynamodump==1.11.1"


def dynamodump_exe() -> Path:
    return DYNAMODUMP_VENV / "bin" / "dynamodump"


def ensure_dynamodump(log=print) -> Path:
    """Path of the dynamodump executable, creating its venv first if needed.

    Idempotent. Raises subprocess.CalledProcessError if the venv or the install fails.
    """
    exe = dynamodump_exe()
    if exe.exists():
        return exe
    log(f"creating {DYNAMODUMP_VENV} and installing {DYNAMODUMP_REQUIREMENT} (first use only)")
    started = time.monotonic()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DYNAMODUMP_VENV)], check=True)
    pip = DYNAMODUMP_VENV / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", "--disable-pip-version-check",
                    DYNAMODUMP_REQUIREMENT], check=True)
    log(f"dynamodump venv ready in {time.monotonic() - started:.1f}s")
    return exe


def _local_options(endpoint_url: str) -> list[str]:
    """--host/--port and dummy keys: dynamodump builds its endpoint as http://HOST:PORT."""
    host, port = endpoint_url.removeprefix("http://").rsplit(":", 1)
    return ["--host", host, "--port", port, "--accessKey", "testing", "--secretKey", "testing",
            "--region", "us-east-1"]


def dynamodump_argv(table: str, endpoint_url: str, dump_dir: Path) -> list[str]:
    """argv that backs `table` up from a local DynamoDB at endpoint_url into dump_dir/<table>/."""
    return [str(dynamodump_exe()), "--mode", "backup", "--srcTable", table,
            *_local_options(endpoint_url), "--dumpPath", str(dump_dir), "--log", "warning"]


def dynamodump_restore_argv(source_table: str, dest_table: str, endpoint_url: str,
                            dump_dir: Path) -> list[str]:
    """argv that restores dump_dir/<source_table>/ into a new table dest_table.

    dynamodump first deletes dest_table (a fresh name: nothing to delete), creates it from the
    dumped schema.json with the dumped throughput (--writeCapacity unset: the source's 100,000
    WCU), then writes the pages one after another in one thread. --noConfirm, because its delete
    step otherwise asks on stdin.
    """
    return [str(dynamodump_exe()), "--mode", "restore", "--srcTable", source_table,
            "--destTable", dest_table, *_local_options(endpoint_url), "--dumpPath", str(dump_dir),
            "--noConfirm", "--log", "warning"]


def count_dynamodump_items(dump_dir: Path, table: str) -> int:
    """Items in a dynamodump backup: it writes one JSON file per Scan page under <table>/data/."""
    total = 0
    for page in sorted((dump_dir / table / "data").glob("*.json")):
        with open(page, "rb") as handle:
            total += len(json.load(handle)["Items"])
    return total
