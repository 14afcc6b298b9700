"""`restore BASE --then INCREMENTAL [--then ...]`: a full backup, then incremental exports on top.

1. Every backup is opened and the chain checked before any table is touched (`check_chain`):
   the base is a full backup (scan or export engine), each --then an incremental export of the
   same table; the first window starts at or before the base's point in time (its export_time,
   or started_at for a scan backup: a scan is fuzzy over its duration, and replaying changes
   from its start is what makes the result consistent) and ends after it; each next window
   starts exactly where the previous one ended. Anything else is UsageError naming the gap.
2. The base is restored as `restore_backup` restores it (either --via).
3. Each incremental in turn: its data objects streamed (sha256 and MD5 proven first,
   vault/reader.stream_lines), every line checked (format/changes.parse_change_line), the last
   change of each key kept (format/changes.final_changes; memory: one change per changed key of
   the window), then applied (restore/replay.py): NewImage present -> PutRequest, absent ->
   DeleteRequest of Keys, <= 25 per BatchWriteItem under the table's write cap, UnprocessedItems
   retried with backoff.
   Applying the same incremental twice gives the same table: the run is idempotent, so a failed
   run is simply run again (with --resume for the base).

AWS calls: those of restore_backup, then S3 GetObject of each incremental's manifest and data
objects, DynamoDB DescribeTable and BatchWriteItem.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone

from ..aws.retry import RetryStats
from ..errors import IntegrityError, UsageError
from ..format.changes import final_changes, parse_change_line
from ..format.dataline import BadLine, KeySpec
from ..runtime.progress import Progress
from ..vault.reader import OpenedBackup, open_backup, stream_lines
from .options import RestoreOptions, RestoreResult
from .replay import ChangeSink


# A scan backup's started_at as backup writes it: UTC with milliseconds (backup/__init__._now).
# The manifest's schema leaves started_at free text, so anything else is refused here.
_STARTED_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z", re.ASCII)


def point_in_time(backup: OpenedBackup) -> str:
    """The base's point in time: a full export's export_time, a scan backup's started_at."""
    manifest = backup.manifest
    return manifest.export["export_time"] if manifest.export is not None else manifest.started_at


def _instant(text: str, backup: OpenedBackup) -> datetime:
    """A time of the chain (export_time/from/to, whole seconds, or a scan's started_at, with
    milliseconds) as an aware datetime; IntegrityError naming the backup if it is neither."""
    try:
        if isinstance(text, str) and _STARTED_AT.fullmatch(text):
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=timezone.utc)
    except ValueError:  # a 13th month, a 25th hour
        pass
    raise IntegrityError(f"{backup.url}: its manifest's point in time is not a UTC time, so no chain can "
                         "start from it", hint="restore it without --then, or use another base")


def check_chain(base: OpenedBackup, increments: list[OpenedBackup]) -> None:
    """Refuse (UsageError) a --then chain that does not continue the base without a gap."""
    if base.manifest.incremental:
        raise UsageError(f"{base.url} is an incremental export; the base must be a full backup",
                         hint="pass a full backup (scan or --engine export) as BACKUP_URL")
    if base.manifest.schema_only:
        raise UsageError(f"{base.url} is a schema-only backup; the base of --then must hold the table's items")
    table_arn = base.manifest.source.get("table_arn")
    previous_end, previous_url = point_in_time(base), base.url
    previous_at = _instant(previous_end, base)
    for number, inc in enumerate(increments):
        if not inc.manifest.incremental:
            raise UsageError(f"--then {inc.url} is not an incremental export (`ddbvault list` shows its engine)",
                             hint="--then takes backups made with --engine export --incremental")
        if inc.manifest.source.get("table_arn") != table_arn:
            raise UsageError(f"--then {inc.url} is of table {inc.manifest.source.get('table_arn')}, the base "
                             f"{base.url} of {table_arn}")
        start, end = inc.manifest.export["from"], inc.manifest.export["to"]
        if number == 0:
            ok = _instant(start, inc) <= previous_at < _instant(end, inc)
            need = f"a window from at or before {previous_end} to after it"
        else:
            ok = _instant(start, inc) == previous_at
            need = f"a window that starts at {previous_end}"
        if not ok:
            raise UsageError(f"--then {inc.url} holds changes from {start} to {end}, but {previous_url} "
                             f"needs {need}: the chain has a gap or an overlap there",
                             hint="list the incrementals in order, each starting where the previous one "
                                  "ended (`ddbvault list` shows their windows)")
        previous_end, previous_url, previous_at = end, inc.url, _instant(end, inc)


def open_chain(base_url: str, then: list[str], options: RestoreOptions,
               stats: RetryStats) -> tuple[OpenedBackup, list[OpenedBackup]]:
    base = open_backup(base_url, options.vault_principal, stats=stats)
    increments = [open_backup(url, options.vault_principal, stats=stats) for url in then]
    check_chain(base, increments)
    return base, increments


def apply_increments(table: str, increments: list[OpenedBackup], options: RestoreOptions, *,
                     progress: Progress | None = None, cancelled: threading.Event | None = None,
                     stats: RetryStats | None = None) -> list[dict]:
    """Apply each incremental's changes to `table`, in order (restore/replay.py); returns per
    incremental {"url", "from", "to", "changes", "puts", "deletes"}."""
    sink = ChangeSink(table, options, cancelled=cancelled, stats=stats, progress=progress)
    applied = []
    for inc in increments:
        changes = final_changes(_changes(inc, sink.key))
        puts = sink.apply(changes)
        applied.append({"url": inc.url, "from": inc.manifest.export["from"], "to": inc.manifest.export["to"],
                        "changes": inc.manifest.totals["items"], "puts": puts, "deletes": len(changes) - puts})
    return applied


def _changes(inc: OpenedBackup, key: KeySpec | None):
    """Every change record of `inc`, checked; a bad line fails naming its object and line."""
    for obj in inc.manifest.objects:
        where = inc.destination.url_of(inc.key_of(obj))
        count = 0
        for count, line in enumerate(stream_lines(inc, obj), 1):
            try:
                yield parse_change_line(line, key)
            except BadLine as exc:
                raise IntegrityError(f"data object {where}: line {count}: {exc}",
                                     hint="restore from another backup; this one cannot be trusted") from None
        if count != obj.items:
            raise IntegrityError(f"data object {where} holds {count} change records, the manifest says {obj.items}",
                                 hint="restore from another backup; this one cannot be trusted")


def restore_chain(base_url: str, table: str, then: list[str], options: RestoreOptions, restore, *,
                  progress: Progress | None = None, cancelled: threading.Event | None = None) -> RestoreResult:
    """The base restored by `restore` (restore_backup), then every incremental applied."""
    t0 = time.monotonic()
    stats = RetryStats()
    base, increments = open_chain(base_url, then, options, stats)
    # Every change line is checked before the base touches any table: a bad incremental must not
    # leave a base restored without its changes. One pass, holding one line at a time; the
    # changes are read again (and checked again) when they are applied.
    key = KeySpec.of(base.manifest.schema)
    for inc in increments:
        for _ in _changes(inc, key):
            pass
    result = restore(base_url, table, options, progress=progress, cancelled=cancelled)
    result.incrementals = apply_increments(table, increments, options, progress=progress,
                                           cancelled=cancelled, stats=stats)
    result.seconds = round(time.monotonic() - t0, 3)
    return result


__all__ = ["apply_increments", "check_chain", "restore_chain"]
