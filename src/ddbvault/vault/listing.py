"""list_backups(): every backup under a destination, newest first, with its status.

Contract:
- One listing of the destination (`store.list_keys`, once) and of its unfinished writes
  (`store.list_partial`, once), then one read per manifest found.
  Data objects are never read.
- A backup is `<prefix>/<table>/<backup-id>/...` with a well-formed backup id; other keys are
  ignored. Status: `complete` (its manifest exists and parses), `incomplete` (no manifest: a
  crashed, killed or running backup; never restorable by default), or `invalid` (a manifest
  that vault/reader.read_manifest rejects: over MANIFEST_MAX_BYTES, not a regular file, not JSON,
  an unknown major version, a mistyped field, an object key outside the backup, a backup_id
  that is not the path's; or a `manifest.json` that is a directory or folder; `error` says
  why). One invalid manifest never hides the other backups.
- A backup id must be a real UTC time (layout.is_backup_id): `20261399T999999Z-abcdef` is not one.
- Writes that were begun and never finished (`store.list_partial`: a killed local backup's
  `.partial-*` files, open S3 multipart uploads) are named in `partial`, relative to the
  backup; a backup that left only those is listed too, as incomplete.
- Newest first: by backup id (ids start with their UTC start time), then table name.
- Retention (format 1.2): `tier` and `expires_at` from the manifest (None when it was written
  under no keep policy); `expired` once now >= expires_at: the bucket's lifecycle rule may have
  removed its objects (`tier_history` gives a new backup's tier choice the same reading).
- Writes nothing.

Grouping, ordering and rendering are pure functions below list_backups().
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from ..aws.session import Principal
from ..errors import IntegrityError, NotFoundError
from ..format.layout import MANIFEST_NAME, check_table_name, is_backup_id, join
from ..format.retention import parse_utc
from ..storage.destination import Destination, parse_destination
from ..storage import ObjectStore, open_store, session_for
from .reader import read_manifest

__all__ = ["BackupEntry", "list_backups"]
COMPLETE, INCOMPLETE, INVALID = "complete", "incomplete", "invalid"
MANIFEST_READERS = 8


@dataclass
class BackupEntry:
    """One backup that `list_backups()` found; `to_dict()` is one element of `ddbvault list --json`.
    Counts are items, sizes bytes; `url` can be given to restore_backup and verify_backup as it is."""

    table: str
    backup_id: str
    url: str  # the backup, DEST/TABLE/BACKUP_ID
    time: str  # the backup's start time (UTC, ISO 8601), from its id
    status: str  # COMPLETE, INCOMPLETE or INVALID
    items: int | None = None  # None unless complete
    bytes: int | None = None  # stored bytes; None unless complete
    objects: int | None = None  # complete: as the manifest says; else data objects found
    finished_at: str | None = None  # the manifest's finished_at (UTC, ISO 8601); None unless complete
    error: str | None = None  # INVALID only: why the manifest was rejected
    partial: list[str] = field(default_factory=list)  # unfinished writes, relative to `url`
    schema_only: bool = False  # complete and schema-only: the table's schema and settings, no items
    tier: str | None = None  # its retention tier (daily ... yearly); None: no keep policy
    expires_at: str | None = None  # UTC, when the tier's lifecycle rule may remove it; None: never
    expired: bool = False  # now >= expires_at: its objects may be gone
    engine: str | None = None  # complete: "scan" or "export" (format 1.3); None unless complete
    # engine "export", incremental: the window it holds changes of ("from", "to"), UTC; else None
    window: dict[str, str] | None = None
    # complete: the manifest's started_at, and a full export's export_time (its point in time);
    # what restore --at needs of a base (vault/change_log.py)
    started_at: str | None = None
    export_time: str | None = None
    # the table's change log (issue 12), on every entry of the table that has one: its
    # restorable window and gaps (vault/change_log.summary); None: no log, or not asked for
    change_log: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Found:
    """What one listing shows of one backup: whether it has a manifest, how many data keys."""

    manifest: bool = False
    folder: bool = False  # keys under `manifest.json/`: a directory (or S3 folder) in its place
    data_objects: int = 0
    partial: list[str] = field(default_factory=list)


def list_backups(dest: str, *, table: str | None = None,
                 vault_principal: Principal | None = None,
                 tables: Callable[[str], bool] | None = None) -> list[BackupEntry]:
    """Every backup under `dest` (s3://bucket/prefix or a directory), newest first; see the
    module docstring for what each status means. `table` lists that table's backups only;
    `tables`, a test on the table name, keeps the backups of the tables it accepts (one
    listing, and only their manifests read: `restore --from --tables`);
    `vault_principal` reads the bucket (the CLI's --vault-role; None: the default credential chain).
    Writes nothing.

    AWS calls (S3 only): STS AssumeRole (for a role given); ListObjectsV2 and
    ListMultipartUploads under the prefix; GetObject of each manifest found, 8 at a time.

    Raises (errors.py, with the exit codes of exit_codes.py): UsageError (2) for a bad
    destination or table name; NotFoundError (3) for a missing directory or bucket;
    AccessDeniedError (4) when the listing or a manifest read is denied (a denied
    ListMultipartUploads only leaves `partial` empty); AwsError (5) for another AWS failure.
    """
    destination = parse_destination(dest)
    if table:
        check_table_name(table)
    if destination.kind == "local" and not os.path.isdir(destination.location):
        raise NotFoundError(f"destination directory {destination.location} does not exist",
                            hint="pass the directory given to `ddbvault backup --to`")
    session = session_for(destination, vault_principal)
    store = open_store(destination, session)
    prefix = join(destination.prefix, table or "")
    under = prefix + "/" if prefix else ""
    found = group_keys(store.list_keys(under), destination.prefix)
    add_partial(found, store.list_partial(under), destination.prefix)
    entries = [_entry(destination, t, b, f) for (t, b), f in found.items() if tables is None or tables(t)]
    complete = [e for e in entries if e.status == COMPLETE]
    with ThreadPoolExecutor(max_workers=MANIFEST_READERS) as pool:
        list(pool.map(lambda e: _read_manifest(store, destination, e), complete))
    return newest_first(entries)


def group_keys(keys, prefix: str) -> dict[tuple[str, str], _Found]:
    """Keys under `prefix` grouped by (table, backup id); keys of no backup are skipped."""
    found: dict[tuple[str, str], _Found] = {}
    for table, backup_id, rest in _split_keys(keys, prefix):
        if rest == [""]:  # the backup's own directory, empty: nothing was stored
            continue
        entry = found.setdefault((table, backup_id), _Found())
        if rest == [MANIFEST_NAME]:
            entry.manifest = True
        elif rest[0] == MANIFEST_NAME:
            entry.folder = True
        elif rest[0] == "data" and len(rest) > 1 and rest[-1]:  # `data/x/` is a folder, no object
            entry.data_objects += 1
        elif rest[0] == "export" and len(rest) > 4 and rest[3] == "data" and rest[-1]:  # an export's data file
            entry.data_objects += 1
    return found


def add_partial(found: dict[tuple[str, str], _Found], keys, prefix: str) -> None:
    """Record unfinished writes (keys from `store.list_partial`) with their backups, adding the
    backups that have nothing else."""
    for table, backup_id, rest in _split_keys(keys, prefix):
        found.setdefault((table, backup_id), _Found()).partial.append("/".join(rest))


def _split_keys(keys, prefix: str):
    """(table, backup id, the rest of the key split on '/') for each key of a backup."""
    base = prefix.strip("/") + "/" if prefix.strip("/") else ""
    for key in keys:
        if key.startswith(base):
            parts = key[len(base):].split("/")
            if len(parts) >= 3 and is_backup_id(parts[1]):
                yield parts[0], parts[1], parts[2:]


def time_of(backup_id: str) -> str:
    """The start time a backup id encodes, as ISO 8601 UTC (`2026-11-27T08:19:00Z`)."""
    stamp = datetime.strptime(backup_id.split("-", 1)[0], "%Y%m%dT%H%M%SZ")
    return stamp.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")


def newest_first(entries: list[BackupEntry]) -> list[BackupEntry]:
    """Newest backup id first; within one id (the same second and suffix), by table name."""
    by_table = sorted(entries, key=lambda e: e.table)
    return sorted(by_table, key=lambda e: e.backup_id, reverse=True)


def _entry(destination: Destination, table: str, backup_id: str, found: _Found) -> BackupEntry:
    root = join(destination.prefix, table, backup_id)
    entry = BackupEntry(table=table, backup_id=backup_id, url=destination.url_of(root),
                        time=time_of(backup_id), status=COMPLETE if found.manifest else INCOMPLETE,
                        objects=found.data_objects, partial=sorted(found.partial))
    if found.folder and not found.manifest:
        entry.status = INVALID
        entry.error = f"{destination.url_of(join(root, MANIFEST_NAME))} is a directory, not a manifest"
    return entry


def _read_manifest(store: ObjectStore, destination: Destination, entry: BackupEntry) -> None:
    """Fill `entry` from its manifest; a manifest that does not parse makes it INVALID.
    Access errors propagate: a listing that hides them would be wrong."""
    key = join(destination.prefix, entry.table, entry.backup_id, MANIFEST_NAME)
    try:
        manifest = read_manifest(store, key, destination.url_of(key), entry.backup_id)
    except IntegrityError as exc:
        entry.status, entry.error = INVALID, exc.message
        return
    recorded = manifest.source.get("table_name")
    if recorded != entry.table:  # copied or moved under another table: never offered as that table's
        entry.status = INVALID
        entry.error = (f"{destination.url_of(key)} is a backup of table {str(recorded)[:255]!r}, "
                       f"stored under {entry.table!r}")
        return
    entry.items, entry.bytes = manifest.totals.get("items"), manifest.totals.get("bytes")
    entry.objects, entry.finished_at = len(manifest.objects), manifest.finished_at
    entry.schema_only = manifest.schema_only
    entry.engine = manifest.engine
    entry.started_at = manifest.started_at
    if manifest.export is not None and not manifest.incremental:
        entry.export_time = manifest.export.get("export_time")
    if manifest.incremental:
        entry.window = {"from": manifest.export["from"], "to": manifest.export["to"]}
    if manifest.retention is not None:
        entry.tier, entry.expires_at = manifest.retention.tier, manifest.retention.expires_at
        entry.expired = manifest.retention.expired(datetime.now(timezone.utc))


def tier_history(store: ObjectStore, prefix: str, table: str, since: datetime) -> list[tuple[str, datetime]]:
    """(tier, start time) of `table`'s complete backups under `prefix` that started at `since`
    or later and record a tier: what format/retention.choose_tier needs. One listing of the
    table's keys, one read per such manifest (MANIFEST_READERS at a time); a manifest that does
    not parse is skipped (it is no complete backup), and so are a schema-only backup (it holds
    no data, so it takes no slot) and one of another table (list shows it invalid). Access
    errors propagate."""
    root = join(prefix, table)
    found = group_keys(store.list_keys(root + "/"), prefix)
    recent = [(backup_id, parse_utc(time_of(backup_id))) for (_, backup_id), seen in sorted(found.items())
              if seen.manifest]
    recent = [(backup_id, started) for backup_id, started in recent if started >= since]

    def tier_of(backup_id: str) -> str | None:
        key = join(root, backup_id, MANIFEST_NAME)
        try:
            manifest = read_manifest(store, key, store.url_of(key), backup_id)
        except IntegrityError:
            return None
        if manifest.schema_only or manifest.source.get("table_name") != table:
            return None  # no data, or another table's backup copied here: it takes no slot
        return manifest.retention.tier if manifest.retention else None

    with ThreadPoolExecutor(max_workers=MANIFEST_READERS) as pool:
        tiers = list(pool.map(tier_of, [backup_id for backup_id, _ in recent]))
    return [(tier, started) for tier, (_, started) in zip(tiers, recent) if tier is not None]


def format_rows(entries: list[BackupEntry], extra: tuple[str, Mapping[str, str]] | None = None) -> list[str]:
    """Plain aligned text: a header, then one row per backup in the given order. `extra` adds a
    last column, (its header, each backup's cell by URL; blank for a backup not in it): how the
    CLI's `list --rpo` marks its verdicts, so this module knows nothing of RPOs."""
    rows = [("TABLE", "BACKUP ID", "TIME", "ITEMS", "SIZE", "STATUS")]
    rows += [(e.table, e.backup_id, e.time, _count(e.items), human_size(e.bytes), _status(e))
             for e in entries]
    if any(e.engine == "export" for e in entries):  # engine column only where an export was used
        rows = [rows[0] + ("ENGINE",)] + [row + (_engine(e),) for row, e in zip(rows[1:], entries)]
    if any(e.tier for e in entries):  # retention columns only where a keep policy was used
        rows = [rows[0] + ("TIER", "EXPIRES")] + [row + (e.tier or "-", _expiry(e))
                                                  for row, e in zip(rows[1:], entries)]
    if extra is not None:
        header, cells = extra
        rows = [rows[0] + (header,)] + [row + (cells.get(e.url, ""),) for row, e in zip(rows[1:], entries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {3, 4}  # numbers align right

    def cell(i: int, text: str) -> str:
        return text.rjust(widths[i]) if i in right else text.ljust(widths[i])

    return ["  ".join(cell(i, text) for i, text in enumerate(row)).rstrip() for row in rows]


def _status(entry: BackupEntry) -> str:
    """The status, and how many unfinished writes it left: `incomplete (2 partial)`; a schema-only
    backup is `complete (schema-only)`."""
    if entry.partial:
        return f"{entry.status} ({len(entry.partial)} partial)"
    return f"{entry.status} (schema-only)" if entry.schema_only else entry.status


def _engine(entry: BackupEntry) -> str:
    """`scan`, `export`, or `export incremental FROM..TO`; `-` unless complete."""
    if entry.engine is None:
        return "-"
    if entry.window:
        return f"export incremental {entry.window['from']}..{entry.window['to']}"
    return entry.engine


def _expiry(entry: BackupEntry) -> str:
    """`2027-12-07T00:00:00Z`, `expired 2027-12-07T00:00:00Z`, or `-` under no keep policy."""
    if entry.expires_at is None:
        return "-"
    return f"expired {entry.expires_at}" if entry.expired else entry.expires_at


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def human_size(size: int | None) -> str:
    """Bytes in binary units: `512 B`, `1.5 KiB`, `3.0 GiB`; `-` when unknown."""
    if size is None:
        return "-"
    value, units = float(size), ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
