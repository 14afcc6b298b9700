"""Opening an existing backup by its URL: `DEST/<table>/<backup-id>`, as `backup --json` prints.

`open_backup()` returns the store, the layout and the manifest, checked on load (`read_manifest`:
at most MANIFEST_MAX_BYTES read, format/manifest.py's checks, its backup_id the path's): nothing
is acted on before the whole manifest is known to be well formed. A URL under which no
object exists at all is "not found" (NotFoundError, exit 3); data without a manifest is an
incomplete backup, refused (IntegrityError) unless the caller asks for it (`allow_incomplete`).
`stream_lines()` streams one data object, checking its size and sha256 against the manifest, and
names the object when they differ. For restore it proves the checksum before yielding a line
(through an on-disk spool; see its docstring and docs/restore.md).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from ..aws.session import Principal
from ..format.codec import Decompressor, compression_of_key, split_lines
from ..errors import DdbvaultError, IntegrityError, NotFoundError, UsageError
from ..format.layout import BackupLayout, check_table_name, is_backup_id, join
from ..storage.destination import Destination, parse_destination, refuse_empty_segments, shown
from ..format.manifest import MANIFEST_MAX_BYTES, DataObject, Manifest, check_backup_id, too_large
from ..storage import ObjectStore, open_store, session_for
from ..storage.base import TooLargeError

CHUNK = 1024 * 1024


@dataclass
class OpenedBackup:
    store: ObjectStore
    destination: Destination
    layout: BackupLayout
    manifest: Manifest | None  # None: incomplete (no manifest)
    # Native DynamoDB exports: object key -> base64 MD5 from manifest-files.json. Their
    # DataObjects carry bytes=-1 and sha256="" (unknown), so those two checks are skipped.
    md5_of: dict[str, str] | None = None

    @property
    def url(self) -> str:
        return self.destination.url_of(self.layout.root)

    def key_of(self, obj: DataObject) -> str:
        return f"{self.layout.root}/{obj.key}"

    @property
    def data_prefix(self) -> str:
        """Where the data objects are, with a trailing slash: what ImportTable takes as
        S3KeyPrefix. `<root>/data/`, or for an export-engine backup (format 1.3) the export's
        `<root>/export/AWSDynamoDB/<export-id>/data/`, which holds only data files."""
        if self.manifest is None or self.md5_of is not None:
            return self.layout.data_prefix
        return join(self.layout.root, self.manifest.data_dir) + "/"


def parse_backup_url(url: str) -> tuple[Destination, BackupLayout]:
    """Split `s3://bucket/prefix/table/id` or `/dir/prefix/table/id` into store root and layout.
    Raises UsageError for anything else, an s3:// URL with an empty segment included."""
    refuse_empty_segments(url)
    parts = url.rstrip("/").split("/")
    if len(parts) < 3 or not is_backup_id(parts[-1]):
        raise UsageError(f"{shown(url)!r} is not a backup URL",
                         hint="pass DEST/TABLE/BACKUP_ID, as `ddbvault backup --json` prints it "
                              "in `url`, or as `ddbvault list DEST` shows it")
    table, backup_id = check_table_name(parts[-2]), parts[-1]
    base = parse_destination("/".join(parts[:-2]))
    if base.kind == "local":  # the directory above <table> is the store root
        return Destination("local", base.location), BackupLayout("", table, backup_id)
    return Destination("s3", base.location), BackupLayout(base.prefix, table, backup_id)


def open_backup(url: str, principal: Principal | None = None, *,
                allow_incomplete: bool = False, stats=None) -> OpenedBackup:
    """The backup at `url`, its manifest parsed and checked. Raises UsageError (not a backup
    URL), NotFoundError (nothing there: no such bucket, directory or backup), IntegrityError
    (no manifest, or one that is malformed) or AwsError. S3 calls: GetObject on the manifest,
    and ListObjectsV2 (one page) under the backup only when the manifest is missing. The store's
    retries and resumed reads are counted in `stats` (aws.retry.RetryStats) when given."""
    destination, layout = parse_backup_url(url)
    session = session_for(destination, principal)
    store = open_store(destination, session, stats=stats)
    try:
        manifest = read_manifest(store, layout.manifest_key, destination.url_of(layout.manifest_key),
                                 layout.backup_id)
    except NotFoundError as exc:
        if getattr(exc, "code", "") == "NoSuchBucket":
            raise
        _refuse_missing_manifest(store, destination, layout, allow_incomplete)
        manifest = None
    return OpenedBackup(store, destination, layout, manifest)


def read_manifest(store: ObjectStore, key: str, where: str, backup_id: str) -> Manifest:
    """The manifest at `key` (named `where` in messages) of backup `backup_id`, checked: at most
    MANIFEST_MAX_BYTES are read of it (format/manifest.py), it parses, and its backup_id is the
    path's. Raises NotFoundError if absent, IntegrityError for anything else wrong with it."""
    try:
        data = store.get(key, limit=MANIFEST_MAX_BYTES)
    except TooLargeError:
        raise too_large(where) from None
    manifest = Manifest.from_json(data, where=where)
    check_backup_id(manifest, backup_id, where)
    return manifest


def _refuse_missing_manifest(store: ObjectStore, destination: Destination, layout: BackupLayout,
                             allow_incomplete: bool) -> None:
    """No manifest: "not found" if nothing at all is under the backup's root, else incomplete."""
    url = destination.url_of(layout.root)
    objects = (key for key in store.list_keys(layout.root + "/") if not key.endswith("/"))  # not folders
    if next(objects, None) is None:
        raise NotFoundError(f"no backup at {url}: nothing is stored under it",
                            hint=f"check the URL; `ddbvault list {destination.url}` shows the backups there")
    if not allow_incomplete:
        raise IntegrityError(f"backup {url} is incomplete: it has no manifest, so its data may be partial",
                             hint="use a complete backup (`ddbvault list` shows status)")


def stream_lines(backup: OpenedBackup, obj: DataObject, *, verify_first: bool = True) -> Iterator[bytes]:
    """The data lines of one object (bytes, each `{"Item":...}`), decompressed.

    verify_first=True (restore): no line is yielded before the object's size and sha256 (MD5 for
    a native export) are proven. The object is read once into a spool, an unnamed temporary file
    in tempfile.gettempdir() ($TMPDIR), while it is hashed; only if it matches the manifest are
    its lines decompressed from the spool and yielded. Disk: the object's stored size per open
    iterator; the spool is removed when the iterator ends or is closed, and has no name on Linux,
    so even a killed process leaves none behind.
    verify_first=False (verify, which writes nothing): one pass, checked when the stream ends;
    lines already yielded came from an object that may then fail its check.

    Memory: one read chunk plus one line. Raises IntegrityError naming the object on a size or
    checksum mismatch or corrupt compressed data; DdbvaultError if the spool cannot be written.
    """
    where = backup.destination.url_of(backup.key_of(obj))
    if not verify_first:
        yield from _decoded(where, obj, _checked(backup, obj, where))
        return
    with _spooling(where, obj):
        spool = tempfile.TemporaryFile(prefix="ddbvault-spool-")
    with spool:
        for chunk in _checked(backup, obj, where):
            with _spooling(where, obj):
                spool.write(chunk)
        with _spooling(where, obj):
            spool.seek(0)  # flushes: a full disk may show only here
        yield from _decoded(where, obj, iter(lambda: spool.read(CHUNK), b""))


@contextmanager
def _spooling(where: str, obj: DataObject):
    """The spool's own OSErrors (no space, no such directory) as one clear error."""
    try:
        yield
    except OSError as exc:
        raise DdbvaultError(f"cannot spool data object {where} ({obj.size:,} bytes) in "
                            f"{tempfile.gettempdir()}: {exc.strerror or exc}",
                            hint="free disk space there, or point TMPDIR at a directory with room for "
                                 "--workers x the largest data object") from exc


def _checked(backup: OpenedBackup, obj: DataObject, where: str) -> Iterator[bytes]:
    """The object's stored bytes in chunks; after the last one, its size and checksums are
    checked against the manifest (IntegrityError naming the object)."""
    digest, md5, size = hashlib.sha256(), hashlib.md5(), 0
    # an export's MD5: from manifest-files.json (a native export) or the manifest (format 1.3)
    expected_md5 = backup.md5_of.get(obj.key) if backup.md5_of else obj.md5
    with _expiry_named(backup), backup.store.open_reader(backup.key_of(obj)) as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            if expected_md5 is not None:
                md5.update(chunk)
            size += len(chunk)
            if 0 <= obj.size < size:  # stop early: never spool (or read) more than the manifest says
                raise IntegrityError(f"data object {where} has more than the {obj.size} bytes the "
                                     "manifest says", hint="restore from another backup; this one cannot be trusted")
            yield chunk
    _check(where, obj, size, digest.hexdigest())
    if expected_md5 is not None or backup.md5_of:
        actual = base64.b64encode(md5.digest()).decode()
        if actual != expected_md5:
            raise IntegrityError(f"data object {where} is corrupted: MD5 {actual} does not match the "
                                 f"{'manifest' if obj.md5 else 'export' + chr(39) + 's manifest-files.json'} "
                                 f"({expected_md5})",
                                 hint="restore from another backup; this one cannot be trusted")


@contextmanager
def _expiry_named(backup: OpenedBackup):
    """A data object missing from an expired backup (format 1.2 retention) says why: the tier's
    lifecycle rule removes its objects from `expires_at` on, data objects first."""
    try:
        yield
    except NotFoundError as exc:
        note = expiry_note(backup)
        if not note:
            raise
        raise NotFoundError(exc.message + note, hint=EXPIRED_HINT) from exc


EXPIRED_HINT = "use a backup that has not expired (`ddbvault list` shows EXPIRES)"


def expiry_note(backup: OpenedBackup) -> str:
    """`; the backup expired at ... (tier daily): ...` for an expired backup, else ""."""
    retention = backup.manifest.retention if backup.manifest else None
    if retention is None or not retention.expired(datetime.now(timezone.utc)):
        return ""
    return (f"; the backup expired at {retention.expires_at} (tier {retention.tier}): its "
            "lifecycle rule removes its objects")


def _decoded(where: str, obj: DataObject, stored: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress and split the stored bytes into lines; corrupt data is an IntegrityError."""
    decompressor = Decompressor(compression_of_key(obj.key))

    def chunks() -> Iterator[bytes]:
        for chunk in stored:
            yield from decompressor.feed(chunk)
        decompressor.check_complete()

    try:
        yield from split_lines(chunks())
    except ValueError as exc:
        raise IntegrityError(f"data object {where} is corrupted: {exc}",
                             hint="restore from another backup; this one cannot be trusted") from exc


def _check(where: str, obj: DataObject, size: int, sha256: str) -> None:
    if obj.size >= 0 and size != obj.size:
        raise IntegrityError(f"data object {where} has {size} bytes, the manifest says {obj.size}",
                             hint="restore from another backup; this one cannot be trusted")
    if obj.sha256 and sha256 != obj.sha256:
        raise IntegrityError(f"data object {where} is corrupted: sha256 {sha256} does not "
                             f"match the manifest's {obj.sha256}",
                             hint="restore from another backup; this one cannot be trusted")
