"""The restore checkpoint: which data objects, and how many lines of each, are in the table.

A local JSON-lines file, appended to and never rewritten, so it needs no DeleteObject and a
crash loses at most the records not yet flushed. Those batches are simply written again, and
a PutRequest of the same item is idempotent. Records:

    {"backup": URL, "table": NAME}            header, checked on --resume
    {"object": KEY, "lines": N}               the first N lines of KEY are written
    {"object": KEY, "done": true}             all of KEY is written
    {"complete": true, "items": N}            the restore finished

Default location: $XDG_CACHE_HOME/ddbvault/restore/<table>--<backup-id>.jsonl (~/.cache if unset).
Thread-safe.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import orjson

from .errors import UsageError


def default_path(table: str, backup_id: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ddbvault" / "restore" / f"{table}--{backup_id}.jsonl"


class Checkpoint:
    def __init__(self, path: Path, backup_url: str, table: str, *, resume: bool):
        self.path = Path(path)
        self.lines: dict[str, int] = {}
        self.done: set[str] = set()
        self._lock = threading.Lock()
        if resume:
            self._load(backup_url, table)
        elif self.path.exists() and not self._is_complete():
            raise UsageError(f"an unfinished restore of this backup into {table} left a checkpoint at "
                             f"{self.path}", hint="add --resume to carry on, or remove that file to start over")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab" if resume else "wb")
        if not resume:
            self._append({"backup": backup_url, "table": table})

    def _records(self) -> list[dict]:
        return [orjson.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]

    def _is_complete(self) -> bool:
        try:
            return any(r.get("complete") for r in self._records())
        except orjson.JSONDecodeError:
            return False

    def _load(self, backup_url: str, table: str) -> None:
        if not self.path.exists():
            raise UsageError(f"--resume: no checkpoint at {self.path}",
                             hint="run the restore without --resume, or pass --checkpoint PATH")
        records = self._records()
        header = records[0] if records else {}
        if header.get("backup") != backup_url or header.get("table") != table:
            raise UsageError(f"--resume: checkpoint {self.path} is for {header.get('backup')} -> "
                             f"{header.get('table')}, not {backup_url} -> {table}")
        for record in records[1:]:
            if "lines" in record:
                self.lines[record["object"]] = max(self.lines.get(record["object"], 0), record["lines"])
            elif record.get("done"):
                self.done.add(record["object"])

    def _append(self, record: dict, sync: bool = False) -> None:
        with self._lock:
            self._file.write(orjson.dumps(record) + b"\n")
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())

    def written(self, key: str, lines: int) -> None:
        self._append({"object": key, "lines": lines})

    def finished(self, key: str) -> None:
        self._append({"object": key, "done": True}, sync=True)

    def complete(self, items: int) -> None:
        self._append({"complete": True, "items": items}, sync=True)

    def close(self) -> None:
        self._file.close()
