"""The contenders: how each one is started, and how its item count is read and checked.

Each repetition of a contender gets a fresh, empty scratch directory (its output goes there or to
a fresh S3 prefix), so no repetition reuses another's output.
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import peers

BENCH_DIR = Path(__file__).resolve().parent
DDBVAULT_EXE = Path(sys.executable).parent / "ddbvault"


@dataclass
class Contender:
    key: str
    label: str
    argv_for: Callable[[Path, int], list[str]]  # (scratch dir, repetition) -> argv
    env: dict[str, str]
    # (stdout, scratch dir) -> (items, details); raises ValueError when the output is unusable.
    read_result: Callable[[str, Path], tuple[int, dict]]
    unavailable: str | None = None  # why it cannot run, or None
    notes: list[str] = field(default_factory=list)


@dataclass
class Servers:
    """Where things run: dynalite for DynamoDB, moto (or None) for S3 and STS."""
    dynamodb_url: str
    moto_url: str | None
    base_env: dict[str, str]
    pids: list[int] = field(default_factory=list)  # server processes, for their CPU use
    ddbvault_extra: list[str] = field(default_factory=list)  # appended to every ddbvault argv
    bucket: str = "ddbvault-bench"


def raw_floor(table: str, segments: int, servers: Servers) -> Contender:
    argv = [sys.executable, str(BENCH_DIR / "raw_floor.py"), table, "--segments", str(segments)]
    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    return Contender("raw_floor", f"raw floor (Scan x{segments}, orjson, no output)",
                     lambda scratch, rep: argv, env, _read_json_items)


def ddbvault_available() -> str | None:
    """None when `ddbvault backup --help` works, else the reason it does not."""
    if not DDBVAULT_EXE.exists():
        return f"{DDBVAULT_EXE} not found"
    try:
        done = subprocess.run([str(DDBVAULT_EXE), "backup", "--help"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ddbvault backup --help` failed: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`ddbvault backup --help` exited {done.returncode}: {last[:200]}"
    return None


def ddbvault(table: str, segments: int, servers: Servers, to_s3: bool,
             unavailable: str | None) -> Contender:
    """`ddbvault backup` to S3 on moto (to_s3) or to a local directory in the scratch dir."""
    def argv_for(scratch: Path, rep: int) -> list[str]:
        target = f"s3://{servers.bucket}/bench-rep{rep}" if to_s3 else str(scratch / "backup")
        return [str(DDBVAULT_EXE), "backup", table, "--to", target, "--segments", str(segments),
                "--workers", str(segments), "--read-rcu", "1000000", "--json",
                *servers.ddbvault_extra]

    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    if servers.moto_url:  # S3 and STS (the manifest may name the account) on moto
        env.update(AWS_ENDPOINT_URL=servers.moto_url, AWS_ENDPOINT_URL_S3=servers.moto_url)
    key, label = ("ddbvault_s3", "ddbvault backup -> S3 (moto)") if to_s3 else \
        ("ddbvault_dir", "ddbvault backup -> local dir")
    reader = _read_ddbvault if to_s3 else _read_ddbvault_dir
    return Contender(key, label, argv_for, env, reader, unavailable)


def dynamodump(table: str, servers: Servers, unavailable: str | None) -> Contender:
    def argv_for(scratch: Path, rep: int) -> list[str]:
        return peers.dynamodump_argv(table, servers.dynamodb_url, scratch / "dump")

    def read(stdout: str, scratch: Path) -> tuple[int, dict]:
        return peers.count_dynamodump_items(scratch / "dump", table), {}

    return Contender("dynamodump", f"dynamodump {peers.DYNAMODUMP_REQUIREMENT.split('==')[1]} (1 Scan)",
                     argv_for, dict(servers.base_env), read, unavailable,
                     notes=["dynamodump's wall includes ~25 s of sleeps: a misspelt attribute "
                            "(args.read_capacity) sends it down a path that starts 25 worker "
                            "threads 1 s apart"])


def _last_json_object(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    try:
        return json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise ValueError(f"no JSON object on stdout: {stdout[-300:]!r}") from exc


def _read_json_items(stdout: str, scratch: Path) -> tuple[int, dict]:
    result = _last_json_object(stdout)
    return int(result["items"]), result


def _read_ddbvault(stdout: str, scratch: Path) -> tuple[int, dict]:
    result = _last_json_object(stdout)
    missing = {"url", "backup_id", "table", "items", "bytes", "objects", "consumed_rcu",
               "seconds"} - result.keys()
    if missing:
        raise ValueError(f"ddbvault --json output lacks {sorted(missing)}")
    return int(result["items"]), result


def _read_ddbvault_dir(stdout: str, scratch: Path) -> tuple[int, dict]:
    """As _read_ddbvault, and cross-checks the count against the data lines on disk."""
    items, result = _read_ddbvault(stdout, scratch)
    result["lines_on_disk"] = count_data_lines(scratch / "backup")
    if result["lines_on_disk"] is not None and result["lines_on_disk"] != items:
        raise ValueError(f"ddbvault reported {items} items but wrote {result['lines_on_disk']} lines")
    return items, result


def count_data_lines(root: Path) -> int | None:
    """Lines in the format-1 data objects (…/data/*.json[.gz|.zst]) under root, or None."""
    files = [p for p in root.rglob("*") if p.parent.name == "data" and p.is_file()]
    if not files:
        return None
    total = 0
    for path in files:
        if path.name.endswith(".json.gz"):
            with gzip.open(path, "rb") as handle:
                total += sum(1 for _ in handle)
        elif path.name.endswith(".json.zst"):
            import zstandard  # a ddbvault dependency, needed only for --compression zstd output
            with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as handle:
                total += sum(1 for _ in io.BufferedReader(handle))
        elif path.name.endswith(".json"):
            with open(path, "rb") as handle:
                total += sum(1 for _ in handle)
        else:
            return None
    return total
