"""backup_table(): one table into one new backup. The library API the CLI and scheduler call.

A scan backup is three steps (docs/scale.md), which the one-shot backup_table runs in turn:
1. plan (backup/plan.py): describe the table (schema, TTL, tags), check the destination, fix the
   segments and each worker's read rate, and write plan.json, before any Scan.
2. work (backup/work.py, backup/segments.py): every segment is scanned by one attempt (threads
   in this process, or other processes: backup/executors/), which stages its data objects
   and wins the segment by creating its result, create-only; only the winner's objects become
   visible. The first failure cancels the others; each aborts its own uploads.
3. commit (backup/commit.py): only when every segment has a result, and the item counts add up,
   is the manifest written, create-only. A run that fails or is interrupted leaves no manifest:
   it is never complete, and `resume_backup` (backup --resume) finishes it later.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .._version import __version__
from ..aws.retry import RetryPolicy, RetryStats
from ..aws.session import Principal, make_session
from ..format.codec import COMPRESSIONS, Compressor
from ..errors import UsageError
from ..format.layout import BackupLayout, check_table_name
from ..storage.destination import Destination, parse_destination
from ..format.manifest import SCHEMA_ONLY_FORMAT_VERSION, Manifest
from ..format.plan import MAX_PARALLELISM
from ..format.retention import KeepPolicy, Retention
from ..runtime.progress import Progress
from .commit import commit_backup, manifest_bytes
from .executors.spec import ExecutorSpec
from .plan import describe_and_open, open_destination, plan_backup, source_info, write_options_for
from .result import BackupResult
from .via_export import backup_via_export, check_export_options
from .work import OpenedPlan, WorkOptions, open_plan, run_segments
from ..dynamodb.scan import TableSource
from ..storage import DEFAULT_ACL, ObjectStore
from ..storage.base import CANNED_ACLS, SSE_CHOICES

__all__ = ["BackupOptions", "BackupResult", "Progress", "backup_table", "resume_backup", "unfinished_backup"]
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
    # Scale (docs/scale.md). "threads": every segment in this process (`workers` threads);
    # "processes": a local pool of `processes` processes; "dask": the Dask cluster at `scheduler`
    # (tcp://HOST:PORT). `parallelism`: the workers that scan at once, among which the read cap
    # is shared (each gets cap / parallelism); None: 1 for threads, `processes` for processes,
    # the scheduler's worker threads for dask (backup/executors, docs/executors.md).
    executor: str = "threads"
    processes: int | None = None
    scheduler: str | None = None
    parallelism: int | None = None

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
        ExecutorSpec.of(self).validate()  # the executor's own checks and combinations
        if (self.engine == "export" or self.schema_only) and self.executor != "threads":
            raise UsageError(f"--executor {self.executor} runs a scan's segments, and "
                             + ("--engine export has DynamoDB do the work" if self.engine == "export"
                                else "--schema-only scans nothing"), hint="drop --executor, --processes and --scheduler")
        if self.parallelism is not None and not 1 <= self.parallelism <= MAX_PARALLELISM:
            raise UsageError(f"--parallelism must be 1..{MAX_PARALLELISM:,}, got {self.parallelism}")

    def work_options(self) -> WorkOptions:
        """How each work unit of this backup runs (backup/work.py)."""
        return WorkOptions(threads=self.workers, table_principal=self.table_principal,
                           vault_principal=self.vault_principal, retry=self.retry)

    def declared_parallelism(self) -> int:
        """The concurrent workers the read cap is shared among (see `parallelism`). When not
        declared, never more than an explicit `segments`: no more segments than that can run at
        once, and each extra worker would only lower every worker's share of the cap."""
        if self.parallelism is not None:
            return self.parallelism
        from .executors import default_parallelism  # dask: asks the scheduler (the dask extra)

        return min(default_parallelism(ExecutorSpec.of(self)), self.segments or MAX_PARALLELISM)


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
    write_options = write_options_for(destination, options)  # S3's limits, checked before any work
    progress = progress or Progress()
    cancelled = cancelled or threading.Event()
    started, t0 = _now(), time.monotonic()

    stats = RetryStats()
    if options.engine == "export":
        check_export_options(options, destination)
        store = open_destination(destination, options, write_options, stats)
        return backup_via_export(table, destination, store, options, progress=progress, cancelled=cancelled,
                                 stats=stats, started=started, t0=t0, manifest_bytes=manifest_bytes,
                                 source_info=source_info, result_type=BackupResult)
    if options.schema_only:
        d = describe_and_open(table, destination, options, write_options, stats)
        description, schema, store, layout, retention, lock_mode = (
            d.description, d.schema, d.store, d.layout, d.retention, d.lock_mode)
        result = _schema_only(table, destination, store, layout, description, schema, options, stats,
                              started, t0, retention)
        return _with_retention(result, retention, lock_mode)
    planned = plan_backup(table, dest, options, parallelism=options.declared_parallelism(), stats=stats)
    progress.start(table, int(planned.description.get("ItemCount") or 0))
    opened = OpenedPlan(planned.plan, planned.destination, planned.layout, planned.store)
    completed = _work(opened, planned.source, options, stats, progress, cancelled)
    result = commit_backup(planned.plan.url, opened=opened, stats=stats, t0=t0,
                           work_counted=options.executor == "threads", completed=completed)
    return _with_retention(result, planned.retention, planned.lock_mode)


def resume_backup(url: str, options: BackupOptions | None = None, *, progress: Progress | None = None,
                  cancelled: threading.Event | None = None) -> BackupResult:
    """Finish the planned scan backup at `url` (DEST/TABLE/BACKUP_ID) that a crash, a kill or a
    failure left without a manifest: scan only the segments without a result (on the executor
    `options` names; the plan's segments, rate and write options are kept), then commit. A backup
    that has its manifest is returned as it is. Raises as backup_table; NotFoundError (3) when
    `url` has no plan (a backup made before plan/work/commit cannot be resumed)."""
    options = options or BackupOptions()
    options.validate()
    progress = progress or Progress()
    cancelled = cancelled or threading.Event()
    t0, stats = time.monotonic(), RetryStats()
    opened = open_plan(url, options.vault_principal, stats=stats, pool=options.workers + 4)
    log.info("resuming %s", opened.plan.url)
    source = TableSource(make_session(options.table_principal), opened.plan.table, pool=options.workers + 4,
                         retry=options.retry, stats=stats, cancelled=cancelled)
    progress.start(opened.plan.table, int(opened.plan.source.get("item_count_estimate") or 0))
    completed = _work(opened, source, options, stats, progress, cancelled)
    return commit_backup(opened.plan.url, opened=opened, stats=stats, t0=t0,
                         work_counted=options.executor == "threads", completed=completed)


# The service resumes an unfinished backup of a job's table only when it was started this recently:
# an older one has likely lost its open uploads to the AbortIncompleteMultipartUpload rule.
RESUME_WINDOW_S = 24 * 3600.0


def unfinished_backup(table: str, dest: str, options: BackupOptions, *,
                      within_s: float = RESUME_WINDOW_S) -> str | None:
    """The URL of the newest backup of `table` under `dest` that a crash left unfinished: it has a
    plan and no manifest, is newer than the table's newest complete backup, and was started
    within `within_s` seconds (default 24 h). None when there is none, or when `dest` cannot be
    listed (logged: the caller then starts a new backup). The scheduler service calls it before
    each backup of a job (docs/scale.md#resuming). S3: ListObjectsV2, GetObject (manifests, plan)."""
    from ..errors import AwsError, DdbvaultError, NotFoundError
    from ..vault.listing import COMPLETE, INCOMPLETE, list_backups

    try:
        entries = list_backups(dest, table=table, vault_principal=options.vault_principal)
    except NotFoundError:  # nothing there yet
        return None
    except AwsError as exc:
        log.info("cannot list %s for an unfinished backup of %s (%s); starting a new one", dest, table, exc.message)
        return None
    now = datetime.now(timezone.utc)
    for entry in entries:  # newest first
        if entry.status == COMPLETE:
            return None
        started = datetime.strptime(entry.backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        if entry.status != INCOMPLETE or (now - started).total_seconds() > within_s:
            continue
        try:
            open_plan(entry.url, options.vault_principal, stats=RetryStats())
        except DdbvaultError:  # no plan (an older backup, an export), or not one to trust
            continue
        return entry.url
    return None


def _work(opened: OpenedPlan, source: TableSource, options: BackupOptions, stats: RetryStats,
          progress: Progress, cancelled: threading.Event) -> frozenset[int]:
    """Step 2 on the chosen executor: every segment without a result gets one, or this raises.
    Returns the segments whose winners were seen completing their objects (commit skips them)."""
    if options.executor == "threads":
        report = run_segments(opened, source, list(range(opened.plan.segments)), options.workers, stats,
                              progress=progress, cancelled=cancelled)
        return frozenset(s.segment for s in report.segments if s.outcome == "won")
    from .executors import run_work

    run_work(opened.plan, options, options.work_options(), progress=progress, cancelled=cancelled)
    return frozenset()


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
        tool_version=__version__, backup_id=layout.backup_id, source=source_info(description, options),
        schema=schema, options={"schema_only": True}, started_at=started, finished_at=_now(),
        objects=[], consumed_capacity={"read_capacity_units": 0, "estimated_from_bytes": False,
                                       "throttle_retries": stats.throttles,
                                       "transient_retries": stats.transient},
        format_version=SCHEMA_ONLY_FORMAT_VERSION, retention=retention)
    store.put_new(layout.manifest_key, manifest_bytes(manifest, url))
    return BackupResult(
        url=url, backup_id=layout.backup_id, table=table, items=0, bytes=0, objects=0, consumed_rcu=0.0,
        seconds=round(time.monotonic() - t0, 3), manifest=destination.url_of(layout.manifest_key),
        read_rate_rcu=None, segments=0, raw_bytes=0, throttle_retries=stats.throttles,
        transient_retries=stats.transient, schema_only=True)


def _finite(rate: float) -> float | None:
    return None if math.isinf(rate) else rate


