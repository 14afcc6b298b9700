"""The contenders: how each one is started, and how its item count is read and checked.

Each repetition of a contender gets a fresh, empty scratch directory (its output goes there or to
a fresh S3 prefix), so no repetition reuses another's output. Restore contenders write into a
fresh table per repetition, which is counted, sample-checked and dropped after the run.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import peers
from restored import RestoreCheck, drop_table
from wire import DynamoDBWire

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
    # After a good run, before the scratch dir is deleted: (scratch, details) may keep its output.
    keep: Callable[[Path, dict], None] | None = None
    # After every run, good or not (drops a restore's table).
    cleanup: Callable[[Path], None] | None = None


@dataclass
class Servers:
    """Where things run: dynalite for DynamoDB, moto (or None) for S3 and STS."""
    dynamodb_url: str
    moto_url: str | None
    base_env: dict[str, str]
    pids: list[int] = field(default_factory=list)  # server processes, for their CPU use
    ddbvault_extra: list[str] = field(default_factory=list)  # appended to every ddbvault backup argv
    ddbvault_restore_extra: list[str] = field(default_factory=list)  # ... every ddbvault restore argv
    bucket: str = "ddbvault-bench"


def raw_floor(table: str, segments: int, servers: Servers) -> Contender:
    argv = [sys.executable, str(BENCH_DIR / "raw_floor.py"), table, "--segments", str(segments)]
    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    return Contender("raw_floor", f"raw floor (Scan x{segments}, orjson, no output)",
                     lambda scratch, rep: argv, env, _read_json_items)


def ddbvault_available(command: str = "backup") -> str | None:
    """None when `ddbvault COMMAND --help` works, else the reason it does not."""
    if not DDBVAULT_EXE.exists():
        return f"{DDBVAULT_EXE} not found"
    try:
        done = subprocess.run([str(DDBVAULT_EXE), command, "--help"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`ddbvault {command} --help` failed: {exc}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return f"`ddbvault {command} --help` exited {done.returncode}: {last[:200]}"
    return None


def ddbvault(table: str, segments: int, servers: Servers, to_s3: bool,
             unavailable: str | None, keep: Callable[[Path, dict], None] | None = None) -> Contender:
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
    return Contender(key, label, argv_for, env, reader, unavailable, keep=keep)


def dynamodump(table: str, servers: Servers, unavailable: str | None,
               keep: Callable[[Path, dict], None] | None = None) -> Contender:
    def argv_for(scratch: Path, rep: int) -> list[str]:
        return peers.dynamodump_argv(table, servers.dynamodb_url, scratch / "dump")

    def read(stdout: str, scratch: Path) -> tuple[int, dict]:
        return peers.count_dynamodump_items(scratch / "dump", table), {}

    return Contender("dynamodump", f"dynamodump {peers.DYNAMODUMP_REQUIREMENT.split('==')[1]} (1 Scan)",
                     argv_for, dict(servers.base_env), read, unavailable,
                     notes=["dynamodump's wall includes ~25 s of sleeps: a misspelt attribute "
                            "(args.read_capacity) sends it down a path that starts 25 worker "
                            "threads 1 s apart"], keep=keep)


# --- restore ------------------------------------------------------------------------------

@dataclass
class RestoreSources:
    """What the restore contenders read: a local ddbvault backup and a dynamodump dump of the
    benchmark table, kept from the backup runs (or made unmeasured when those did not run)."""
    table: str                         # the source table; dynamodump's dump is dump_dir/<table>/
    keep_root: Path                    # where kept outputs live for the rest of the run
    backup_url: str | None = None      # DEST/TABLE/BACKUP_ID of a local ddbvault backup
    backup_objects: int = 0            # its data objects (restore parallelism is per object)
    backup_from: str = ""              # which run made it
    dump_dir: Path | None = None
    dump_from: str = ""

    def keep_backup(self, scratch: Path, details: dict) -> None:
        """keep hook of ddbvault_dir: move its backup out of the scratch dir (same filesystem)."""
        relative = Path(details["url"]).relative_to(scratch / "backup")
        target = self.keep_root / "ddbvault-backup"
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(scratch / "backup"), str(target))
        self.backup_url = str(target / relative)
        self.backup_objects = int(details["objects"])
        self.backup_from = "the ddbvault_dir backup run"

    def keep_dump(self, scratch: Path, details: dict) -> None:
        """keep hook of dynamodump: move its dump out of the scratch dir."""
        target = self.keep_root / "dynamodump-dump"
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(scratch / "dump"), str(target))
        self.dump_dir = target
        self.dump_from = "the dynamodump backup run"


class _RestoreTables:
    """Fresh target table per run; counted and sample-checked after it, dropped in any case."""

    def __init__(self, key: str, sources: RestoreSources, wire: DynamoDBWire, check: RestoreCheck):
        self.key, self.sources, self.wire, self.check = key, sources, wire, check
        self.by_scratch: dict[Path, tuple[str, int]] = {}

    def name_for(self, scratch: Path, rep: int) -> str:
        name = f"{self.sources.table}-restore-{self.key}-{rep}"
        self.by_scratch[scratch] = (name, rep)
        return name

    def verify(self, scratch: Path, details: dict, strict: bool) -> tuple[int, dict]:
        """Items the restored table holds; details gain the check. Raises ValueError if the
        tool's own count disagrees, or (strict) if sampled items differ from the source."""
        table, rep = self.by_scratch[scratch]
        found = self.check.check(table, rep)
        details = {**details, "restored_table": table, **found}
        reported = details.get("items")
        if reported is not None and int(reported) != found["table_items"]:
            raise ValueError(f"reported {reported} items, but {table} holds {found['table_items']}")
        if strict and found["sample_differing"]:
            raise ValueError(f"{found['sample_differing']} of {found['sampled']} sampled items differ "
                             f"from the source: {found['differing_attributes']}")
        return found["table_items"], details

    def drop(self, scratch: Path) -> None:
        entry = self.by_scratch.pop(scratch, None)
        if entry:
            drop_table(self.wire, entry[0])


def ddbvault_restore(sources: RestoreSources, workers: int, servers: Servers, wire: DynamoDBWire,
                     check: RestoreCheck, unavailable: str | None) -> Contender:
    """`ddbvault restore` of the kept local backup into a new table it creates itself."""
    tables = _RestoreTables("ddbvault", sources, wire, check)

    def argv_for(scratch: Path, rep: int) -> list[str]:
        return [str(DDBVAULT_EXE), "restore", str(sources.backup_url), "--table",
                tables.name_for(scratch, rep), "--write-wcu", "1000000", "--workers", str(workers),
                "--checkpoint", str(scratch / "checkpoint.jsonl"), "--json",
                *servers.ddbvault_restore_extra]

    def read(stdout: str, scratch: Path) -> tuple[int, dict]:
        result = _last_json_object(stdout)
        missing = {"items", "seconds", "consumed_wcu"} - result.keys()
        if missing:
            raise ValueError(f"ddbvault restore --json output lacks {sorted(missing)}")
        return tables.verify(scratch, result, strict=True)

    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    return Contender("ddbvault_restore", f"ddbvault restore <- local dir ({workers} workers)",
                     argv_for, env, read, unavailable, cleanup=tables.drop)


def raw_restore_floor(sources: RestoreSources, workers: int, servers: Servers, wire: DynamoDBWire,
                      check: RestoreCheck, unavailable: str | None) -> Contender:
    tables = _RestoreTables("raw", sources, wire, check)

    def argv_for(scratch: Path, rep: int) -> list[str]:
        return [sys.executable, str(BENCH_DIR / "raw_restore_floor.py"), str(sources.backup_url),
                tables.name_for(scratch, rep), "--workers", str(workers)]

    def read(stdout: str, scratch: Path) -> tuple[int, dict]:
        return tables.verify(scratch, _last_json_object(stdout), strict=True)

    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    return Contender("raw_restore_floor", f"raw floor (BatchWriteItem x{workers} threads, orjson)",
                     argv_for, env, read, unavailable, cleanup=tables.drop)


def dynamodump_restore(sources: RestoreSources, servers: Servers, wire: DynamoDBWire,
                       check: RestoreCheck, unavailable: str | None) -> Contender:
    tables = _RestoreTables("dynamodump", sources, wire, check)

    def argv_for(scratch: Path, rep: int) -> list[str]:
        return peers.dynamodump_restore_argv(sources.table, tables.name_for(scratch, rep),
                                             servers.dynamodb_url, Path(str(sources.dump_dir)))

    def read(stdout: str, scratch: Path) -> tuple[int, dict]:
        # Not strict: what it writes wrong is reported (notes, JSON), and its time still counts.
        return tables.verify(scratch, {}, strict=False)

    version = peers.DYNAMODUMP_REQUIREMENT.split("==")[1]
    return Contender("dynamodump_restore", f"dynamodump {version} restore (1 thread)",
                     argv_for, dict(servers.base_env), read, unavailable, cleanup=tables.drop,
                     notes=["dynamodump's restore writes the dump's pages one after another from one "
                            "thread through boto3 (botocore serialises and validates every "
                            "attribute); its wall includes a 1 s sleep waiting for the new table"])


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
