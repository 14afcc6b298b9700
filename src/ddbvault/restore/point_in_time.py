"""`restore DEST/TABLE --at T`: a table as it was at the end of second T, from a full backup and
the table's change log in the vault (vault/change_log.py, docs/continuous-restore.md).

1. T is a UTC time in whole seconds (`parse_at`). DEST/TABLE names the table's folder in the vault.
2. The table's backups are listed (vault/listing.list_backups) and its change log read
   (vault/change_log.read_change_log). The newest complete full backup B (scan or export) from
   which T is restorable is picked (ChangeLog.base_for): B ended at or before T, the log covers
   B's start, no gap meets [B's start, T], the log is known complete up to T, and every shard's
   chain of segments is proven whole over [B's start - 1 s, T] (vault/chain.py). Otherwise the
   run stops before touching any table, naming the gap (from, to, reason) or the log's end and
   the nearest restorable times.
3. The newest change of each key with a time in [B's start - 1 s, T] is collected
   (vault/change_log.newest_changes: by stream, shard lineage, then sequence; memory: one change
   per changed key). Every segment read is checked before any table is touched.
4. B is restored by restore_backup (either engine, either --via), then the changes are applied
   (restore/replay.py): a full-image put or a delete each, so the replay is idempotent.
   A scan backup is fuzzy over its duration; replaying every change from its start (one second
   earlier, for the stream's whole-second timestamps) makes every key's state its newest <= T.

`--key`/`--keys-file` (`restore_items`): only those items, as of T: each one's state in B (found
by streaming B's data objects and matching key fingerprints), then its newest change <= T. Into a
new table (created from B's schema, settings applied) only the items present at T are written;
into an existing one (no_create, which must be empty unless allow_non_empty) an item absent at
T is deleted, so a live table's selected items roll back and nothing else is touched.

Granularity: whole seconds (stream timestamps); no order between items within one second.

AWS calls: those of list_backups, read_change_log and restore_backup; S3 GetObject of the
segments in range (and, with keys, of B's data objects); DynamoDB DescribeTable and
BatchWriteItem (restore/replay.py).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import replace

from ..aws.retry import RetryStats
from ..aws.session import Principal
from ..errors import IntegrityError, InterruptedRun, NotFoundError, UsageError
from ..format.changes import Change
from ..format.dataline import BadLine, KeySpec, parse_line
from ..format.item_key import MAX_LINE, parse_key, parse_keys
from ..format.layout import check_table_name, is_backup_id
from ..runtime.progress import Progress
from ..storage import open_store, session_for
from ..storage.destination import Destination, parse_destination, refuse_empty_segments
from ..vault.change_log import (Base, ChangeLog, bases_of, fingerprint, newest_changes, read_change_log,
                                seconds_of, utc_text)
from ..vault.listing import list_backups
from ..vault.reader import OpenedBackup, open_backup, stream_lines
from .options import RestoreOptions, RestoreResult
from .replay import ChangeSink

GRANULARITY = ("whole seconds: a change belongs to the second its stream timestamp falls in, and no "
               "order between items within one second is promised")
_AT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|\+00:00)", re.ASCII)


def parse_at(text: str, option: str = "--at") -> int:
    """T in whole seconds since the epoch from `YYYY-MM-DDTHH:MM:SSZ` (or `+00:00`). Fractions,
    other offsets and dates alone are UsageError: the log's granularity is the second."""
    try:
        if isinstance(text, str) and _AT.fullmatch(text):
            return seconds_of(text)
    except ValueError:  # a 13th month, a leap second (23:59:60), year 0
        pass
    raise UsageError(f"{option} must be a UTC time in whole seconds, such as 2026-11-30T10:15:00Z",
                     hint=_at_hint(text))


def _at_hint(text: object) -> str:
    """What is wrong with a refused --at, as far as a pattern can tell (never echoes the text)."""
    if not isinstance(text, str) or not text:
        return "give the time as YYYY-MM-DDTHH:MM:SSZ"
    if re.search(r"[0-9]{2}\.[0-9]", text, re.ASCII):
        return "the change log's timestamps are whole seconds; drop the fraction"
    if re.search(r"[+-][0-9]{2}:?[0-9]{2}$", text, re.ASCII):
        return "convert the time to UTC and end it in Z (only +00:00 is accepted as an offset)"
    if re.fullmatch(r"[0-9-]+", text, re.ASCII):
        return "add the time of day: YYYY-MM-DDTHH:MM:SSZ"
    if re.fullmatch(r"[0-9-]+T[0-9:]+", text, re.ASCII):
        return "end the time in Z: it is read as UTC only when it says so"
    return "give a real UTC date and time (no leap second :60, years 0001-9999) as YYYY-MM-DDTHH:MM:SSZ"


class Vault:
    """One table's folder in the vault (DEST/TABLE): its store, backups and change log."""

    def __init__(self, url: str, principal: Principal | None = None, stats: RetryStats | None = None):
        refuse_empty_segments(url)
        scheme, sep, path = url.partition("://")
        head = f"{scheme}{sep}" if sep else ""
        dest, slash, table = (path if sep else url).rstrip("/").rpartition("/")
        if not slash or not table:  # s3://bucket alone is a destination with no table
            raise UsageError(f"{url!r} is not DEST/TABLE", hint="pass the --to of the backups and the table's "
                             "name: s3://vault/prefix/orders")
        self.table = check_table_name(table)
        base = parse_destination(head + (dest or "/"))
        self.destination = base if base.kind == "s3" else Destination("local", base.location)
        self.principal = principal or Principal()
        self.store = open_store(self.destination, session_for(self.destination, self.principal), stats=stats)
        self.prefix = self.destination.prefix
        self.dest_url = self.destination.url
        self._log: ChangeLog | None = None
        self._bases: list[Base] | None = None

    @property
    def log(self) -> ChangeLog:
        if self._log is None:
            self._log = read_change_log(self.store, self.prefix, self.table)
        return self._log

    @property
    def bases(self) -> list[Base]:
        if self._bases is None:
            entries = list_backups(self.dest_url, table=self.table, vault_principal=self.principal)
            self._bases = bases_of(e for e in entries if e.table == self.table)
        return self._bases

    def base_for(self, at: int) -> Base:
        if not self.bases and self.log.empty:  # most likely DEST alone, or a misspelt table
            raise NotFoundError(f"{self.dest_url.rstrip('/')}/{self.table} holds no backup and no change log of table "
                                f"{self.table}", hint=f"pass DEST/TABLE with TABLE as `ddbvault list "
                                f"{self.dest_url}` shows it, such as {self.dest_url.rstrip('/')}/orders")
        return self.log.base_for(at, self.bases)

    def latest(self) -> int:
        """The newest restorable time; NotFoundError when there is none."""
        window = self.log.window(self.bases)
        if not window:
            raise NotFoundError(f"no time of {self.table} is restorable from {self.dest_url}: it needs a complete "
                                "full backup taken while `ddbvault follow` ran",
                                hint=f"`ddbvault list {self.dest_url}` shows the backups and the log's window")
        return window[-1][1]


def _check_not_a_backup_url(url: str) -> None:
    """With --at, BACKUP_URL is DEST/TABLE: a URL ending in a backup id (DEST/TABLE/BACKUP_ID) is
    refused (UsageError) rather than read as a table named like a backup id."""
    parts = url.rstrip("/").split("/")
    if len(parts) >= 3 and is_backup_id(parts[-1]):
        raise UsageError(f"{url} names one backup; with --at, BACKUP_URL is the table's folder DEST/TABLE",
                         hint=f"ddbvault restore {'/'.join(parts[:-1])} --at TIME --table NAME (the base backup "
                         "is chosen for TIME)")


def restore_at(url: str, target: str, at: str, options: RestoreOptions | None = None, restore=None, *,
               keys: list[str] | None = None, keys_file: str | None = None, progress: Progress | None = None,
               cancelled: threading.Event | None = None) -> RestoreResult:
    """Restore the table at `url` (DEST/TABLE) into `target` as of `at` (UTC, whole seconds);
    only the items of `keys` (`pk=V[,sk=V]` or JSON, format/item_key.py) and of `keys_file` (one
    JSON key per line) when given. `restore` is restore_backup, passed in as restore_chain takes
    it (modules of restore/ never import restore/__init__). Returns restore_backup's RestoreResult
    with `point_in_time` set: {"at", "base", "changes" (keys changed), "puts", "deletes",
    "granularity"}, plus "base_seconds" for a whole table, or with keys "keys" (distinct items),
    "absent" and "repeated_keys" (keys naming an item already given).

    Raises UsageError (2): a bad T, URL or key, or T across a gap or past the log's end (the
    message names the gap and the nearest restorable times); NotFoundError (3): no full backup
    ends before T or the log does not cover it; IntegrityError (6): a hostile segment, start or
    gap object; and whatever restore_backup raises."""
    options = options or RestoreOptions()
    options.validate()
    check_table_name(target)
    when = parse_at(at)
    _check_not_a_backup_url(url)
    t0, stats = time.monotonic(), RetryStats()
    vault = Vault(url, options.vault_principal, stats)
    base = vault.base_for(when)
    backup = open_backup(base.url, options.vault_principal, stats=stats)
    spec = KeySpec.of(backup.manifest.schema)
    vault.log.spec = spec
    if keys or keys_file:
        wanted = read_keys(keys or [], keys_file, spec)
        return _restore_items(vault, backup, base, when, target, wanted, spec, options, restore, t0,
                              progress=progress, cancelled=cancelled, stats=stats)
    # every segment in range is read and checked before the base touches any table
    newest = newest_changes(vault.log, base.start - 1, when, spec)
    result = restore(base.url, target, options, progress=progress, cancelled=cancelled)
    base_seconds = result.seconds
    changes = [record.change for record in newest.values()]
    try:
        puts = ChangeSink(target, options, cancelled=cancelled, stats=stats, progress=progress).apply(changes)
    except InterruptedRun:
        # the same command would find its table existing: --resume writes the base again over it
        # (a put per item) and re-applies every change, which gives the same table
        raise InterruptedRun(f"restore of {target} as of {utc_text(when)} was interrupted while applying "
                             "the change log", hint="run the same command again with --resume (the base is "
                             "written again and every change re-applied: the same table)") from None
    result.point_in_time = {**_report(when, base, len(changes), puts, len(changes) - puts),
                            "base_seconds": base_seconds}
    result.seconds = round(time.monotonic() - t0, 3)
    return result


def read_keys(texts: list[str], keys_file: str | None, spec: KeySpec | None) -> list[dict]:
    """The wire-form keys of --key values and a --keys-file; UsageError naming which is wrong."""
    try:
        keys = [parse_key(text, spec) for text in texts]
    except ValueError as exc:
        raise UsageError(f"--key: {exc}", hint=KEY_HINT) from None
    if keys_file is not None:
        try:
            with open(keys_file, "rb") as lines:
                # readline's bound: an overlong line comes in pieces, the first of which parse_key refuses
                keys += parse_keys(iter(lambda: lines.readline(MAX_LINE + 2), b""), spec)
        except OSError as exc:
            raise UsageError(f"--keys-file {keys_file}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--keys-file {keys_file}: {exc}", hint=KEYS_FILE_HINT) from None
    if not keys:
        raise UsageError("--keys-file holds no key", hint=KEYS_FILE_HINT)
    return keys


KEY_HINT = "--key pk=VALUE[,sk=VALUE], or a JSON wire-form key such as '{\"pk\":{\"S\":\"a,b\"}}'"
KEYS_FILE_HINT = ("a keys file is UTF-8 text, one JSON wire-form key per line such as {\"pk\":{\"S\":\"a\"}}, "
                  "at most 100,000 keys; split a longer one and restore each part with --no-create "
                  "--allow-non-empty")


def _report(when: int, base: Base, changes: int, puts: int, deletes: int) -> dict:
    return {"at": utc_text(when), "base": base.url, "changes": changes, "puts": puts, "deletes": deletes,
            "granularity": GRANULARITY}


def _restore_items(vault: Vault, backup: OpenedBackup, base: Base, when: int, target: str, keys: list[dict],
                   spec: KeySpec | None, options: RestoreOptions, restore, t0: float, *, progress, cancelled,
                   stats) -> RestoreResult:
    """--key/--keys-file: the items' states at `when`, then written (see the module docstring)."""
    if options.via == "import" or options.resume or options.schema_only:
        raise UsageError("--key restores single items with BatchWriteItem; it cannot be combined with "
                         "--via import, --resume or --schema-only")
    states = item_states(vault, backup, base, when, keys, spec)
    notes: list[str] = []
    if options.no_create:
        sink = ChangeSink(target, options, cancelled=cancelled, stats=stats, progress=progress)
        _check_target(sink, backup, options)
        changes = states
    else:
        created = restore(base.url, target, replace(options, schema_only=True), progress=progress,
                          cancelled=cancelled)
        notes = created.notes
        sink = ChangeSink(target, options, cancelled=cancelled, stats=stats, progress=progress)
        changes = [c for c in states if c.new_image is not None]  # absent at T: not written
    try:
        puts = sink.apply(changes)
    except InterruptedRun:
        raise InterruptedRun(f"restore of the selected items into {target} as of {utc_text(when)} was "
                             "interrupted", hint="run the same command again with --no-create "
                             "--allow-non-empty (each item is set to its state at that time again)") from None
    return RestoreResult(table=target, items=puts, seconds=round(time.monotonic() - t0, 3), consumed_wcu=0.0,
                         backup=base.url, objects=0, resumed_items=0, via="batch", write_rate_wcu=None,
                         notes=notes, written=puts, throttle_retries=stats.throttles,
                         transient_retries=stats.transient,
                         point_in_time={**_report(when, base, len(changes), puts, len(changes) - puts),
                                        # a key given twice (or as "1" and "1.0") is one item
                                        "keys": len(states), "absent": len(states) - puts,
                                        "repeated_keys": len(keys) - len(states)})


def _check_target(sink: ChangeSink, backup: OpenedBackup, options: RestoreOptions) -> None:
    """An existing target for --key --no-create: the base's key, and empty unless allowed."""
    from ..dynamodb.table_create import key_mismatch

    description = sink.sink.wait_active()
    mismatch = key_mismatch(backup.manifest.schema, description) if backup.manifest.schema else None
    if mismatch:
        raise UsageError(f"table {sink.sink.table} cannot take items of this backup: {mismatch}")
    if not options.allow_non_empty and not sink.sink.is_empty():
        raise IntegrityError(f"table {sink.sink.table} is not empty; restore never writes into a non-empty "
                             "table unless told to",
                             hint="add --allow-non-empty to roll the selected items back in place")


def item_states(vault: Vault, backup: OpenedBackup, base: Base, when: int, keys: list[dict],
                spec: KeySpec | None) -> list[Change]:
    """Each key's state at `when` as a Change (new_image None: absent), in the order given:
    its item in the base, replaced by its newest change in [base start - 1 s, when]."""
    wanted = {fingerprint(k, spec): k for k in keys}
    found = base_items(backup, set(wanted), spec)
    newest = newest_changes(vault.log, base.start - 1, when, spec, set(wanted))
    states = []
    for fp, key in wanted.items():
        if fp in newest:
            states.append(newest[fp].change)
        else:
            states.append(Change(key, found.get(fp), 0))
    return states


def base_items(backup: OpenedBackup, wanted: set[bytes], spec: KeySpec | None) -> dict[bytes, dict]:
    """The base's items whose key fingerprints are in `wanted`, by fingerprint: every data object
    streamed (size and sha256 proven first), every line checked. Memory: the wanted items."""
    found: dict[bytes, dict] = {}
    for obj in backup.manifest.objects:
        where = backup.destination.url_of(backup.key_of(obj))
        for number, line in enumerate(stream_lines(backup, obj), 1):
            try:
                item, key = parse_line(line, spec)
            except BadLine as exc:
                raise IntegrityError(f"data object {where}: line {number}: {exc}",
                                     hint="restore from another backup; this one cannot be trusted") from None
            fp = fingerprint(key if key is not None else item, spec)
            if fp in wanted:
                found[fp] = item
    return found


__all__ = ["GRANULARITY", "KEY_HINT", "Vault", "item_states", "parse_at", "read_keys", "restore_at"]
