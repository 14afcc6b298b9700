"""The restore checkpoint: which data objects, and how many lines of each, are in which table.

A local JSON-lines file, appended to and never rewritten, so it needs no DeleteObject and a
crash loses at most the records not yet flushed. Those batches are simply written again, and
a PutRequest of the same item is idempotent. Records:

    {"backup": URL, "table": NAME, "endpoint": URL, "region": R, "account": ID,
     "table_arn": ARN, "table_id": ID, "created": ISO-8601}      header: the table incarnation
    {"object": KEY, "lines": N}               the first N lines of KEY are written
    {"object": KEY, "done": true}             all of KEY is written
    {"complete": true, "items": N}            the restore finished

The header is written once the table is ACTIVE, before any item. It names the table
*incarnation* (ARN, TableId, creation time) on its endpoint, account and region: a table deleted
and created again under the same name is another table, and what the checkpoint records is not
in it. `check()` compares the checkpoint with the live table **before** restore creates anything.

A power loss can leave the last record torn (half written): it is ignored, and cut off before
the next append. A record that does not parse anywhere else means the file is not ours.

Default location: $XDG_CACHE_HOME/ddbvault/restore/<table>--<backup-id>.jsonl (~/.cache if unset),
its name bounded to 255 bytes (`bounded_file_name`). Thread-safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ..errors import IntegrityError, NotFoundError, UsageError

log = logging.getLogger(__name__)
MAX_FILE_NAME_BYTES = 255  # NAME_MAX of ext4, xfs, APFS, NTFS
_TARGET_FIELDS = ("endpoint", "region", "account")
_INCARNATION_FIELDS = ("table_arn", "table_id", "created")


def bounded_file_name(stem: str, suffix: str, limit: int = MAX_FILE_NAME_BYTES) -> str:
    """`stem + suffix` if it fits in `limit` bytes (UTF-8); else the stem cut short, `~` and 16 hex
    digits of its sha256, then `suffix`: still readable, still unique per stem."""
    name = stem + suffix
    if len(name.encode()) <= limit:
        return name
    digest = hashlib.sha256(stem.encode()).hexdigest()[:16]
    room = limit - len(suffix.encode()) - len(digest) - 1
    return stem.encode()[:room].decode(errors="ignore") + "~" + digest + suffix


def default_path(table: str, backup_id: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "ddbvault" / "restore" / bounded_file_name(f"{table}--{backup_id}", ".jsonl")


def incarnation(description: dict, endpoint: str | None, region: str | None) -> dict:
    """The header fields that identify one table, from DescribeTable's Table."""
    arn = description.get("TableArn") or ""
    parts = arn.split(":")
    created = description.get("CreationDateTime")
    return {"endpoint": endpoint, "region": region, "account": parts[4] if len(parts) > 5 else None,
            "table_arn": arn or None, "table_id": description.get("TableId"),
            "created": created.isoformat() if hasattr(created, "isoformat") else created}


@dataclass
class CheckpointState:
    """What a checkpoint file says: its header, progress, and where its last whole record ends."""

    header: dict
    lines: dict[str, int] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    complete: bool = False
    end: int = 0  # byte offset just past the last whole record (a torn tail lies beyond)
    needs_newline: bool = False  # the last whole record lacks its "\n"


def read_state(path: Path) -> CheckpointState | None:
    """The checkpoint at `path`, or None if there is none. A torn last record is ignored.
    Raises IntegrityError if another record does not parse (the file is not a checkpoint)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    records, end, offset = [], 0, 0
    segments = data.split(b"\n")
    for number, segment in enumerate(segments, 1):
        offset += len(segment) + 1
        if not segment.strip():
            continue
        try:
            record = orjson.loads(segment)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            if any(s.strip() for s in segments[number:]):
                raise IntegrityError(f"checkpoint {path} record {number} is not valid JSON; it is not a "
                                     "ddbvault checkpoint", hint="pass another --checkpoint, or remove that file") from None
            log.warning("checkpoint %s: ignoring its torn last record (%d bytes)", path, len(segment))
            break
        records.append(record)
        end = min(offset, len(data))
    if not records:
        return CheckpointState(header={})
    state = CheckpointState(header=records[0], end=end, needs_newline=not data[:end].endswith(b"\n"))
    for record in records[1:]:
        if "lines" in record:
            state.lines[record["object"]] = max(state.lines.get(record["object"], 0), record["lines"])
        elif record.get("done"):
            state.done.add(record["object"])
        elif record.get("complete"):
            state.complete = True
    return state


def check(path: Path, state: CheckpointState | None, *, resume: bool, backup_url: str, table: str,
          target: dict, live: dict | None) -> bool:
    """Whether this run resumes from `state`, checked before the table is created or written.

    `target` holds this run's endpoint, region and account; `live` is DescribeTable's Table for
    the target now (None: it does not exist). Without `resume`, an unfinished checkpoint of this
    very table incarnation is refused (pointing at --resume); one whose table is gone or was
    replaced is stale and a fresh restore overwrites it. With `resume`, the checkpoint must
    describe this backup and the live table incarnation, or the run is refused: otherwise items
    it records as written could be missing. Raises UsageError, NotFoundError, IntegrityError.
    """
    if state is None or not state.header:  # none, or only a torn header: nothing was written
        if resume:
            raise UsageError(f"--resume: no checkpoint at {path}",
                             hint="run the restore without --resume, or pass --checkpoint PATH")
        return False
    if not resume and state.complete:
        return False
    header = state.header
    _check_same_target(path, header, backup_url, table, target, resume)
    same_table = live is not None and _same_incarnation(header, incarnation(live, None, None))
    if resume:
        _check_resumable(path, header, table, live, same_table)
        return True
    if same_table:
        raise UsageError(f"an unfinished restore of this backup into {table} left a checkpoint at {path}",
                         hint="add --resume to carry on where it stopped")
    log.warning("checkpoint %s describes a table %s that was deleted or replaced since; starting over",
                path, table)
    return False


def _check_same_target(path: Path, header: dict, backup_url: str, table: str, target: dict,
                       resume: bool) -> None:
    """The checkpoint is about this backup and this table name on this endpoint/account/region."""
    theirs = {"backup": header.get("backup"), "table": header.get("table"),
              **{k: header.get(k) for k in _TARGET_FIELDS}}
    ours = {"backup": backup_url, "table": table, **{k: target.get(k) for k in _TARGET_FIELDS}}
    for key in _TARGET_FIELDS:
        # An older header names no target; an unknown account (STS could not say) cannot
        # contradict a known one.
        if key not in header or (key == "account" and None in (theirs[key], ours[key])):
            theirs[key] = ours[key] = None
    if theirs == ours:
        return

    def where(f: dict) -> str:
        return (f"{f['backup']} -> {f['table']} (endpoint {f['endpoint'] or '?'}, region "
                f"{f['region'] or '?'}, account {f['account'] or '?'})")

    raise UsageError(f"{'--resume: ' if resume else ''}checkpoint {path} is for {where(theirs)}, "
                     f"not {where(ours)}",
                     hint="pass --checkpoint with another file, or remove that one if its restore is abandoned")


def _check_resumable(path: Path, header: dict, table: str, live: dict | None, same_table: bool) -> None:
    if not header.get("table_arn"):
        raise IntegrityError(f"--resume: checkpoint {path} does not say which table it filled (an older "
                             "format), so it cannot prove what is in the table",
                             hint=f"restore into a new table without --resume (or remove {path} and "
                                  "use --no-create --allow-non-empty to write every item again)")
    if live is None:
        raise NotFoundError(f"--resume: table {table}, which checkpoint {path} was filling, no longer "
                            "exists; nothing is left to resume",
                            hint="drop --resume to restore from the start")
    if not same_table:
        now = incarnation(live, None, None)
        raise IntegrityError(
            f"--resume: table {table} was deleted and created again since checkpoint {path} was written "
            f"(TableId {header.get('table_id')} created {header.get('created')}, now {now['table_id']} "
            f"created {now['created']}); the items the checkpoint records are not in it",
            hint="drop --resume and restore into a new table (or remove the checkpoint and use "
                 "--no-create --allow-non-empty to write every item again)")


def _same_incarnation(header: dict, live: dict) -> bool:
    """Same ARN, and the same TableId and creation time wherever both sides know them."""
    if not header.get("table_arn") or header["table_arn"] != live["table_arn"]:
        return False
    return all(header.get(k) == live[k] for k in ("table_id", "created") if header.get(k) and live[k])


class Checkpoint:
    """The open checkpoint of one run: a new file with `header`, or `state`'s file carried on."""

    def __init__(self, path: Path, header: dict, state: CheckpointState | None = None):
        self.path = Path(path)
        self.lines: dict[str, int] = dict(state.lines) if state else {}
        self.done: set[str] = set(state.done) if state else set()
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if state is None:
            self._file = open(self.path, "wb")
            self._append(header, sync=True)
            return
        self._file = open(self.path, "r+b")
        self._file.truncate(state.end)  # cut off a torn last record before appending after it
        self._file.seek(state.end)
        if state.needs_newline:
            self._file.write(b"\n")

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
