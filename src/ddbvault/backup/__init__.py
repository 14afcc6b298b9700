"""backup_table(): one table into one new backup. The library API the CLI and scheduler call.

Order of work, which is the format's safety argument:
1. Describe the table (schema, TTL, tags) and check the destination, before writing anything.
2. Workers (threads) take segments from a queue; each scans its segment page by page, under the
   shared read-capacity limiter, and streams its own data objects. The first failure cancels the others;
   each aborts its open upload.
3. Only when every segment has finished, and the item counts add up, is the manifest written,
   create-only. A run that fails or is interrupted leaves no manifest: it is never complete.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from .._version import __version__
from ..aws.retry import RetryPolicy, RetryStats
from ..aws.session import Principal, make_session
from ..format.codec import COMPRESSIONS, IMPORT_COMPRESSION, Compressor
from ..errors import AccessDeniedError, IntegrityError, InterruptedRun, UsageError
from ..format.layout import BackupLayout, check_table_name, new_backup_id
from ..storage.destination import Destination, parse_destination
from ..format.manifest import MANIFEST_MAX_BYTES, SCHEMA_ONLY_FORMAT_VERSION, Manifest
from ..format.retention import (KeepPolicy, Retention, choose_tier, lookback_start, parse_utc,
                                retention_for, tag_of)
from ..vault.listing import tier_history
from ..capacity.limiter import limiter_for
from ..capacity.rates import CapacityRate
from ..capacity.read_plan import plan_read_rate, plan_segments
from ..runtime.progress import Progress
from .segments import ScanRun, run_workers
from .via_export import backup_via_export, check_export_options
from ..format.schema import table_schema
from ..dynamodb.scan import TableSource
from ..storage import DEFAULT_ACL, ObjectStore, WriteOptions, open_store, session_for
from ..storage.base import CANNED_ACLS, SSE_CHOICES
from ..storage.s3_limits import plan_part_size

__all__ = ["BackupOptions", "BackupResult", "Progress", "backup_table"]
log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass(frozen=True)
class BackupOptions:
    """How `backup_table()` reads the table and writes the backup. Every field has a default:
    `BackupOptions()` backs up at half the table's read capacity into gzip data objects.

    Sizes are bytes; rates are read capacity units per second (RCU/s). `validate()`, which
    backup_table() calls first, raises UsageError (exit 2) naming the CLI option of a value out
    of range. The S3-only fields (acl, sse, kms_key_id, storage_class, part_size) change nothing
    in a local directory.
    """

    # Parallel Scan segments (Scan's Segment/TotalSegments), 1..1,000,000. None: about one per
    # GiB of the table's TableSizeBytes, and at least `workers`.
    segments: int | None = None
    workers: int = 4  # segments scanned at once (threads), 1..256
    # Fraction (0, 1] of the table's read capacity. None: 0.5. Provisioned: of its
    # ReadCapacityUnits; on demand: 1000 RCU/s, or this share of OnDemandThroughput
    # MaxReadRequestUnits when that is lower (capacity/read_plan.py, docs/backup.md).
    read_share: float | None = None
    read_rcu: float | None = None  # absolute cap in RCU/s, finite and > 0; wins over read_share
    # Strongly consistent Scan: 1 RCU per 4 KB instead of 0.5 (DynamoDB developer guide,
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html)
    consistent_read: bool = False
    compression: str = "gzip"  # "gzip", "zstd" or "none" (format/codec.py); ImportTable reads all three
    compression_level: int | None = None  # gzip 1-9 (None: 2), zstd 1-22 (None: 3); unused for "none"
    object_size: int = 256 * MIB  # stored bytes at which a data object rolls over; at least 1 MiB
    acl: str | None = DEFAULT_ACL  # S3 canned ACL of every object (storage/base.py); None: no ACL header
    sse: str | None = None  # "AES256" (SSE-S3), "aws:kms" (SSE-KMS), or None: the bucket's default
    kms_key_id: str | None = None  # KMS key id or ARN for SSE-KMS; needs sse="aws:kms"
    storage_class: str | None = None  # S3 storage class of every object; None: S3's default (STANDARD)
    # S3 multipart part size, at least 5 MiB: the memory each worker buffers (twice while a part
    # is sent). Raised when 10,000 parts of it cannot hold `object_size` (storage/s3_limits.py).
    part_size: int = 8 * MIB
    table_principal: Principal = field(default_factory=Principal)  # reads the table: --table-role, its account
    vault_principal: Principal = field(default_factory=Principal)  # writes the bucket: --vault-role, the vault's account
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # aws/retry.py: 10 attempts, 0.1-20 s backoff
    # None: a new `YYYYMMDDTHHMMSSZ-xxxxxx` (format/layout.py). A given id is used as it is; only
    # a well-formed one is found again by list_backups() and open_backup().
    backup_id: str | None = None
    # Save the table's schema and settings only (DescribeTable, TTL, tags): no Scan, no data
    # object; the manifest says so (options.schema_only, format 1.1) and totals 0 items.
    schema_only: bool = False
    # Keep policy (format/retention.py): the backup gets a tier, every object its tier tag (and
    # Object Lock retention where the bucket has it), the manifest its tier and expiry (1.2).
    # None: no tier, no tags, no expiry.
    keep: KeepPolicy | None = None
    # The time the tier, the expiry and a new backup id are computed from; None: the clock.
    # For tests and replays: a backup "taken" in another period.
    now: datetime | None = None
    # "scan" (this module: parallel Scan under the read cap) or "export" (backup/via_export.py:
    # DynamoDB's ExportTableToPointInTime into the vault, S3 only; needs PITR on the table).
    engine: str = "scan"
    export_time: datetime | None = None  # export: the point in time (aware); None: the backup id's time
    # export, incremental: the window [export_from, export_to), 15 minutes..24 hours; both or neither
    export_from: datetime | None = None
    export_to: datetime | None = None
    export_deadline_s: float = 14400.0  # export: how long DescribeExport is polled before giving up

    def validate(self) -> None:
        if self.engine not in ("scan", "export"):
            raise UsageError(f"--engine must be scan or export, got {self.engine!r}")
        if self.engine == "scan" and (self.export_time or self.export_from or self.export_to):
            raise UsageError("--export-time, --incremental, --from and --to need --engine export")
        if not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be 1..256, got {self.workers}")
        if self.compression not in COMPRESSIONS:
            raise UsageError(f"--compression must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}")
        if self.sse is not None and self.sse not in SSE_CHOICES:
            raise UsageError(f"--sse must be one of {', '.join(SSE_CHOICES)}, got {self.sse!r}")
        if self.kms_key_id and self.sse != "aws:kms":
            raise UsageError("--kms-key-id needs --sse aws:kms")
        if self.acl is not None and self.acl not in CANNED_ACLS:
            raise UsageError(f"--acl {self.acl!r} is not an S3 canned ACL",
                             hint=f"use one of {', '.join(CANNED_ACLS)}, or none")
        try:
            Compressor(self.compression, self.compression_level)
        except ValueError as exc:
            raise UsageError(f"--compression-level: {exc}") from exc
        if self.object_size < MIB:
            raise UsageError(f"--object-size must be at least 1 MiB, got {self.object_size} bytes")
        if self.part_size < 5 * MIB:
            raise UsageError("--part-size must be at least 5 MiB (S3's minimum part size)")


@dataclass
class BackupResult:
    """What `backup_table()` returns once the manifest is written; `to_dict()` is the CLI's
    `--json` object. Counts are items, sizes bytes, durations seconds, capacity RCU."""

    url: str  # the backup, DEST/TABLE/BACKUP_ID: what restore_backup and verify_backup take
    backup_id: str
    table: str
    items: int  # items scanned, every one in a data object (checked before the manifest)
    bytes: int  # stored (compressed) bytes of the data objects: the manifest's totals.bytes
    objects: int  # data objects written
    consumed_rcu: float  # ConsumedCapacity DynamoDB reported (estimated from size where it did not)
    seconds: float  # wall-clock duration of the call
    manifest: str  # the URL of manifest.json
    read_rate_rcu: float | None  # the read cap used, RCU/s; None: unlimited
    segments: int  # parallel Scan segments
    raw_bytes: int  # data-line bytes before compression
    # Retries of the run's AWS calls, ours and botocore's own (aws/retry.py), after a throttle
    # and after a transient failure (5xx, reset, timeout), the manifest's own write included.
    # The manifest records those made before it was written.
    throttle_retries: int
    transient_retries: int = 0
    schema_only: bool = False  # the backup holds the schema only (BackupOptions.schema_only)
    tier: str | None = None  # its retention tier under BackupOptions.keep; None: no keep policy
    expires_at: str | None = None  # UTC; when the tier's lifecycle rule may remove it
    object_lock_mode: str | None = None  # the Object Lock mode its objects are retained in, if any
    engine: str = "scan"  # "scan" or "export" (BackupOptions.engine)
    export_arn: str | None = None  # engine "export": the DynamoDB export the backup holds

    def to_dict(self) -> dict:
        return asdict(self)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def backup_table(table: str, dest: str, options: BackupOptions | None = None, *,
                 progress: Progress | None = None,
                 cancelled: threading.Event | None = None) -> BackupResult:
    """Back up `table` into a new backup under `dest`; returns its BackupResult.

    `dest` is `s3://BUCKET[/PREFIX]`, `file:///PATH` or a directory path
    (storage/destination.py); the backup is DEST/TABLE/BACKUP_ID (docs/format.md). `options`
    defaults to BackupOptions(). `progress` is told the items, bytes and RCU of each page
    written, from worker threads. Setting `cancelled` stops the run: every worker stops at its
    next check and aborts its open upload, and no manifest is written (InterruptedRun).

    Nothing is written before the options, the table name and the destination are checked, the
    table described and the bucket found. The manifest is written last, only after every
    segment finished and the counts add up: a backup that fails is never complete. With
    options.schema_only, nothing is scanned: the manifest alone is written (options.schema_only
    true, no objects, totals 0).

    AWS calls: STS AssumeRole (for a role in options.table_principal or options.vault_principal) and
    GetCallerIdentity (the table's ARN). DynamoDB DescribeTable, DescribeTimeToLive,
    ListTagsOfResource, and parallel Scan with ReturnConsumedCapacity=TOTAL, each page within
    the read cap (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html).
    S3 HeadBucket; CreateMultipartUpload, UploadPart and CompleteMultipartUpload, or PutObject,
    creating with If-None-Match: *
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); HeadObject
    only to prove a 412 on a retried create ours; AbortMultipartUpload after a failure.

    Raises (errors.py, with the exit codes of exit_codes.py):
        UsageError (2): an option out of range, a bad table name or destination, an object size
            S3's multipart limits cannot hold, a local directory that cannot be written.
        NotFoundError (3): the table or the bucket does not exist.
        AccessDeniedError (4): a call was denied; the message names the missing permission.
        AwsError (5): another AWS failure. RetriesExhaustedError (5): throttling, 5xx or
            connection resets outlasted options.retry.
        IntegrityError (6): an object's key exists already (it is never overwritten), or the
            items in the objects do not add up to the items scanned.
        InterruptedRun (130): `cancelled` was set, or the main thread was interrupted (Ctrl-C,
            SIGTERM).
    """
    options = options or BackupOptions()
    options.validate()
    check_table_name(table)
    destination = parse_destination(dest)
    write_options = _write_options(destination, options)  # S3's limits, checked before any work
    progress = progress or Progress()
    cancelled = cancelled or threading.Event()
    started, t0 = _now(), time.monotonic()

    stats = RetryStats()
    if options.engine == "export":
        check_export_options(options, destination)
        store = _open_destination(destination, options, write_options, stats)
        return backup_via_export(table, destination, store, options, progress=progress, cancelled=cancelled,
                                 stats=stats, started=started, t0=t0, manifest_bytes=_manifest_bytes,
                                 source_info=_source_info, result_type=BackupResult)
    source = TableSource(make_session(options.table_principal), table, pool=options.workers + 4,
                         retry=options.retry, stats=stats, cancelled=cancelled)
    description = source.describe()
    schema = table_schema(description, source.time_to_live(), source.tags())
    store = _open_destination(destination, options, write_options, stats)

    now = options.now or datetime.now(timezone.utc)
    layout = BackupLayout(destination.prefix, table, options.backup_id or new_backup_id(now))
    retention, lock_mode = _apply_keep(store, destination, table, options.keep, now)
    if options.schema_only:
        result = _schema_only(table, destination, store, layout, description, schema, options, stats,
                              started, t0, retention)
        return _with_retention(result, retention, lock_mode)
    rate = plan_read_rate(description, options.read_share, options.read_rcu)
    segments = plan_segments(description, options.workers, options.segments)
    limiter = limiter_for(rate.units_per_s)
    log.info("backing up %s to %s: %d segments, %d workers, read rate %s", table,
             destination.url_of(layout.root), segments, options.workers, rate.reason)
    progress.start(table, int(description.get("ItemCount") or 0))

    run = ScanRun(table, source, store, layout, options, limiter, segments, progress, cancelled)
    run_workers(run, options.workers)
    manifest = _manifest_of(run, description, schema, options, rate, stats, started, retention)
    store.put_new(layout.manifest_key, _manifest_bytes(manifest, destination.url_of(layout.root)))
    return _with_retention(BackupResult(
        url=destination.url_of(layout.root), backup_id=layout.backup_id, table=table,
        items=run.items, bytes=manifest.totals["bytes"], objects=len(manifest.objects),
        consumed_rcu=round(run.consumed_rcu, 3), seconds=round(time.monotonic() - t0, 3),
        manifest=destination.url_of(layout.manifest_key), read_rate_rcu=_finite(rate.units_per_s),
        segments=segments, raw_bytes=run.raw_bytes, throttle_retries=stats.throttles,
        transient_retries=stats.transient), retention, lock_mode)


def _apply_keep(store: ObjectStore, destination: Destination, table: str, keep: KeepPolicy | None,
                now: datetime) -> tuple[Retention | None, str | None]:
    """Under a keep policy: the new backup's tier (from the table's earlier manifests) and
    expiry, set on the store so that every object carries them. Before the first write."""
    if keep is None:
        return None, None
    try:
        history = tier_history(store, destination.prefix, table, lookback_start(keep, now))
    except AccessDeniedError as exc:
        exc.hint = ("a keep policy reads the table's earlier manifests to choose the tier: grant "
                    "s3:ListBucket and s3:GetObject on the prefix (ddbvault iam --keep ...)")
        raise
    tier = choose_tier(keep, now, history)
    retention = retention_for(keep, tier, now)
    lock_mode = store.apply_retention(tag_of(tier), parse_utc(retention.expires_at))
    log.info("%s: tier %s (keep %s), expires %s%s", table, tier, keep.to_text(), retention.expires_at,
             f", Object Lock {lock_mode} until then" if lock_mode else "")
    return retention, lock_mode


def _with_retention(result: BackupResult, retention: Retention | None, lock_mode: str | None) -> BackupResult:
    if retention is not None:
        result.tier, result.expires_at, result.object_lock_mode = retention.tier, retention.expires_at, lock_mode
    return result


def _schema_only(table: str, destination: Destination, store: ObjectStore, layout: BackupLayout,
                 description: dict, schema: dict, options: BackupOptions, stats: RetryStats,
                 started: str, t0: float, retention: Retention | None) -> BackupResult:
    """A schema-only backup: the manifest alone, written create-only like any other (no Scan)."""
    url = destination.url_of(layout.root)
    log.info("backing up the schema of %s to %s (schema only: no Scan)", table, url)
    manifest = Manifest(
        tool_version=__version__, backup_id=layout.backup_id, source=_source_info(description, options),
        schema=schema, options={"schema_only": True}, started_at=started, finished_at=_now(),
        objects=[], consumed_capacity={"read_capacity_units": 0, "estimated_from_bytes": False,
                                       "throttle_retries": stats.throttles,
                                       "transient_retries": stats.transient},
        format_version=SCHEMA_ONLY_FORMAT_VERSION, retention=retention)
    store.put_new(layout.manifest_key, _manifest_bytes(manifest, url))
    return BackupResult(
        url=url, backup_id=layout.backup_id, table=table, items=0, bytes=0, objects=0, consumed_rcu=0.0,
        seconds=round(time.monotonic() - t0, 3), manifest=destination.url_of(layout.manifest_key),
        read_rate_rcu=None, segments=0, raw_bytes=0, throttle_retries=stats.throttles,
        transient_retries=stats.transient, schema_only=True)


def _finite(rate: float) -> float | None:
    return None if math.isinf(rate) else rate


def _write_options(destination: Destination, options: BackupOptions) -> WriteOptions:
    """How objects are written. For S3, the part size is raised if --object-size needs it
    (storage/s3_limits.py); an object size S3 cannot hold raises UsageError."""
    part_size = options.part_size
    if destination.kind == "s3":
        part_size = plan_part_size(options.object_size, options.part_size)
        if part_size != options.part_size:
            log.info("part size raised from %d MiB to %d MiB so that a %s data object fits in "
                     "S3's 10,000 parts", options.part_size // MIB, part_size // MIB,
                     f"{options.object_size / MIB:,.0f} MiB")
    return WriteOptions(acl=options.acl, sse=options.sse, kms_key_id=options.kms_key_id,
                        storage_class=options.storage_class, part_size=part_size)


def _manifest_bytes(manifest: Manifest, url: str) -> bytes:
    """The manifest as stored; one over MANIFEST_MAX_BYTES is refused, as every reader would
    refuse it (the backup stays incomplete: no manifest)."""
    body = manifest.to_json()
    if len(body) > MANIFEST_MAX_BYTES:
        raise UsageError(f"backup {url}: its manifest would be {len(body):,} bytes for "
                         f"{len(manifest.objects):,} data objects, over the {MANIFEST_MAX_BYTES:,} "
                         "bytes a manifest may hold, so it is not written",
                         hint="back up again with a larger --object-size: fewer, larger data objects")
    return body


def _open_destination(destination: Destination, options: BackupOptions,
                      write_options: WriteOptions, stats: RetryStats) -> ObjectStore:
    session = session_for(destination, options.vault_principal)
    store = open_store(destination, session, write_options, pool=options.workers + 4, stats=stats)
    store.check_writable()
    return store


def _manifest_of(run: ScanRun, description: dict, schema: dict, options: BackupOptions,
                 rate: CapacityRate, stats: RetryStats, started: str,
                 retention: Retention | None) -> Manifest:
    """The manifest of a finished run. Raises instead if the run did not finish whole."""
    if run.errors:
        raise run.errors[0]
    if run.cancelled.is_set():
        raise InterruptedRun(f"backup of {run.table} cancelled; no manifest written")
    objects = [obj for segment in sorted(run.objects) for obj in run.objects[segment]]
    if len(run.objects) != run.segments or sum(o.items for o in objects) != run.items:
        raise IntegrityError(f"backup of {run.table}: {len(run.objects)}/{run.segments} segments "
                             f"finished, {sum(o.items for o in objects)} items in objects vs "
                             f"{run.items} scanned; no manifest written")
    return Manifest(
        tool_version=__version__, backup_id=run.layout.backup_id,
        source=_source_info(description, options), schema=schema,
        options={"segments": run.segments, "workers": options.workers,
                 "consistent_read": options.consistent_read,
                 "read_rate_rcu_per_s": _finite(rate.units_per_s), "read_rate_reason": rate.reason,
                 "compression": options.compression,
                 "import_compression_type": IMPORT_COMPRESSION[options.compression],
                 "object_size": options.object_size, "acl": options.acl, "sse": options.sse,
                 "kms_key_id": options.kms_key_id, "storage_class": options.storage_class},
        started_at=started, finished_at=_now(), objects=objects,
        consumed_capacity={"read_capacity_units": round(run.consumed_rcu, 3),
                           "estimated_from_bytes": run.estimated,
                           "throttle_retries": stats.throttles, "transient_retries": stats.transient},
        retention=retention,
    )


def _source_info(description: dict, options: BackupOptions) -> dict:
    arn = description.get("TableArn", "")
    parts = arn.split(":")
    return {"table_name": description["TableName"], "table_arn": arn,
            "account": parts[4] if len(parts) > 5 else None,
            "region": parts[3] if len(parts) > 5 else None,
            "table_id": description.get("TableId"),
            "item_count_estimate": description.get("ItemCount"),
            "table_size_bytes_estimate": description.get("TableSizeBytes"),
            "role": options.table_principal.role_arn}
