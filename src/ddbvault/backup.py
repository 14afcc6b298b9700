"""backup_table(): one table into one new backup. The library API the CLI and scheduler call.

Order of work, which is the format's safety argument:
1. Describe the table (schema, TTL, tags) and check the destination, before writing anything.
2. Workers (threads) take segments from a queue; each scans its segment page by page, under the
   shared token bucket, and streams its own data objects. The first failure cancels the others;
   each aborts its open upload.
3. Only when every segment has finished, and the item counts add up, is the manifest written,
   create-only. A run that fails or is interrupted leaves no manifest: it is never complete.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from . import __version__
from .aws.retry import RetryPolicy, RetryStats
from .aws.session import Principal, make_session
from .codec import COMPRESSIONS, IMPORT_COMPRESSION, Compressor
from .errors import IntegrityError, InterruptedRun, UsageError
from .layout import BackupLayout, check_table_name, new_backup_id, parse_destination
from .manifest import DataObject, Manifest
from .ratelimit import RateLimiterCancelled, TokenBucket, Unlimited
from .readplan import PageSizer, average_item_bytes, plan_read_rate, plan_segments
from .schema import table_schema
from .segment_writer import SegmentWriter
from .source import ScanPage, TableSource
from .stores import DEFAULT_ACL, WriteOptions, open_store
from .stores.base import SSE_CHOICES

log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass(frozen=True)
class BackupOptions:
    segments: int | None = None  # None: ~1 per GiB of table, at least `workers`
    workers: int = 4
    read_share: float | None = None  # None: 0.5
    read_rcu: float | None = None  # absolute RCU/s cap; wins over read_share
    consistent_read: bool = False
    compression: str = "gzip"
    compression_level: int | None = None
    object_size: int = 256 * MIB  # stored bytes at which a data object rolls over
    acl: str | None = DEFAULT_ACL
    sse: str | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    part_size: int = 8 * MIB
    source: Principal = field(default_factory=Principal)
    dest: Principal = field(default_factory=Principal)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    backup_id: str | None = None

    def validate(self) -> None:
        if not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be 1..256, got {self.workers}")
        if self.compression not in COMPRESSIONS:
            raise UsageError(f"--compression must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}")
        if self.sse is not None and self.sse not in SSE_CHOICES:
            raise UsageError(f"--sse must be one of {', '.join(SSE_CHOICES)}, got {self.sse!r}")
        if self.kms_key_id and self.sse != "aws:kms":
            raise UsageError("--kms-key-id needs --sse aws:kms")
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
    url: str
    backup_id: str
    table: str
    items: int
    bytes: int
    objects: int
    consumed_rcu: float
    seconds: float
    manifest: str
    read_rate_rcu: float | None
    segments: int
    raw_bytes: int
    throttle_retries: int

    def to_dict(self) -> dict:
        return asdict(self)


class Progress:
    """What backup_table reports as it goes. Called from worker threads; must be thread-safe."""

    def start(self, table: str, estimated_items: int) -> None: ...

    def advance(self, items: int, raw_bytes: int, rcu: float) -> None: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _units_from_bytes(body_bytes: int, consistent: bool) -> float:
    """Estimate when a server does not report ConsumedCapacity: 0.5 RCU per 4 KiB read."""
    return math.ceil(body_bytes / 4096) * (1.0 if consistent else 0.5)


class _Run:
    """Shared state of one backup run: the coordinator owns cancellation and the counters."""

    def __init__(self, table: str, source: TableSource, store, layout: BackupLayout,
                 options: BackupOptions, bucket, segments: int, item_bytes: float,
                 progress: Progress, cancelled: threading.Event):
        self.table, self.source, self.store, self.layout = table, source, store, layout
        self.options, self.bucket, self.segments = options, bucket, segments
        self.item_bytes, self.progress, self.cancelled = item_bytes, progress, cancelled
        self.todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for segment in range(segments):
            self.todo.put(segment)
        self.lock = threading.Lock()
        self.objects: dict[int, list[DataObject]] = {}
        self.items = self.raw_bytes = 0
        self.consumed = 0.0
        self.estimated = False
        self.errors: list[BaseException] = []
        self.fetcher: ThreadPoolExecutor  # set by _run_workers for the duration of the run

    def worker(self) -> None:
        while not self.cancelled.is_set():
            try:
                segment = self.todo.get_nowait()
            except queue.Empty:
                return
            try:
                self.objects[segment] = self._scan_segment(segment)
            except (RateLimiterCancelled, _Cancelled):
                return
            except BaseException as exc:  # the first failure stops everyone
                with self.lock:
                    self.errors.append(exc)
                self.cancel()
                return

    def cancel(self) -> None:
        self.cancelled.set()
        self.bucket.cancel()

    def _fetch(self, segment: int, start_key: dict | None, sizer: PageSizer) -> ScanPage:
        """One Scan page under the token bucket, charged with its real ConsumedCapacity.

        Runs on the fetch pool; at most one fetch per segment is in flight, so `sizer` is never
        used by two threads at once."""
        consistent = self.options.consistent_read
        limit = sizer.limit()
        reserved = sizer.estimate(limit)
        self.bucket.acquire(reserved)
        if self.cancelled.is_set():
            raise _Cancelled()
        page = self.source.scan_page(segment, self.segments, start_key, limit, consistent)
        if page.consumed is None:
            page.consumed = _units_from_bytes(page.body_bytes, consistent)
            self.estimated = True
        self.bucket.settle(reserved, page.consumed)
        sizer.observe(len(page.items), page.consumed)
        return page

    def _scan_segment(self, segment: int) -> list[DataObject]:
        o = self.options
        writer = SegmentWriter(self.store, self.layout, segment, compression=o.compression,
                               level=o.compression_level, object_size=o.object_size)
        sizer = PageSizer(self.bucket.rate, self.bucket.burst, self.item_bytes, o.consistent_read)
        pending: Future | None = self.fetcher.submit(self._fetch, segment, None, sizer)
        try:
            while pending is not None:
                page = pending.result()
                # Read ahead: the next page is in flight while this one is encoded and written.
                # Memory: two pages per segment worker at most.
                pending = None
                if page.last_key and not self.cancelled.is_set():
                    pending = self.fetcher.submit(self._fetch, segment, page.last_key, sizer)
                raw = writer.write_items(page.items)
                with self.lock:
                    self.items += len(page.items)
                    self.raw_bytes += raw
                    self.consumed += page.consumed
                self.progress.advance(len(page.items), raw, page.consumed)
            if self.cancelled.is_set():
                raise _Cancelled()
            return writer.finish()
        except BaseException:
            if pending is not None:
                pending.cancel()
            writer.abort()
            raise


class _Cancelled(Exception):
    """A worker noticed the run was cancelled; not an error of its own."""


def _run_workers(run: _Run, workers: int) -> None:
    count = min(workers, run.segments)
    threads = [threading.Thread(target=run.worker, name=f"ddbvault-segment-{i}", daemon=True)
               for i in range(count)]
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ddbvault-scan") as run.fetcher:
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)
        except BaseException:  # KeyboardInterrupt / SystemExit in the main thread: stop cleanly
            run.cancel()
            for thread in threads:
                thread.join()
            raise InterruptedRun(f"backup of {run.table} interrupted; no manifest written, so the "
                                 "partial backup is never treated as complete")


def backup_table(table: str, dest: str, options: BackupOptions | None = None, *,
                 progress: Progress | None = None,
                 cancelled: threading.Event | None = None) -> BackupResult:
    """Back up `table` into `dest` (s3://bucket/prefix or a directory). Raises DdbvaultError."""
    options = options or BackupOptions()
    options.validate()
    check_table_name(table)
    destination = parse_destination(dest)
    progress = progress or Progress()
    cancelled = cancelled or threading.Event()
    started, t0 = _now(), time.monotonic()
    pool = options.workers + 4

    stats = RetryStats()
    source = TableSource(make_session(options.source), table, pool=pool, retry=options.retry,
                         stats=stats, cancelled=cancelled)
    description = source.describe()
    schema = table_schema(description, source.time_to_live(), source.tags())
    write_options = WriteOptions(acl=options.acl, sse=options.sse, kms_key_id=options.kms_key_id,
                                 storage_class=options.storage_class, part_size=options.part_size)
    dest_session = make_session(options.dest) if destination.kind == "s3" else None
    store = open_store(destination, dest_session, write_options, pool=pool)
    store.check_writable()

    rate = plan_read_rate(description, options.read_share, options.read_rcu)
    segments = plan_segments(description, options.workers, options.segments)
    bucket = Unlimited() if math.isinf(rate.rcu_per_s) else TokenBucket(rate.rcu_per_s)
    layout = BackupLayout(destination.prefix, table, options.backup_id or new_backup_id())
    log.info("backing up %s to %s: %d segments, %d workers, read rate %s", table,
             destination.url_of(layout.root), segments, options.workers, rate.reason)
    progress.start(table, int(description.get("ItemCount") or 0))

    run = _Run(table, source, store, layout, options, bucket, segments,
               average_item_bytes(description), progress, cancelled)
    _run_workers(run, options.workers)
    if run.errors:
        raise run.errors[0]
    if cancelled.is_set():
        raise InterruptedRun(f"backup of {table} cancelled; no manifest written")

    objects = [obj for segment in sorted(run.objects) for obj in run.objects[segment]]
    if len(run.objects) != segments or sum(o.items for o in objects) != run.items:
        raise IntegrityError(f"backup of {table}: {len(run.objects)}/{segments} segments finished, "
                             f"{sum(o.items for o in objects)} items in objects vs {run.items} scanned; "
                             "no manifest written")
    manifest = Manifest(
        tool_version=__version__, backup_id=layout.backup_id,
        source=_source_info(description, source, options),
        schema=schema,
        options={"segments": segments, "workers": options.workers,
                 "consistent_read": options.consistent_read,
                 "read_rate_rcu_per_s": None if math.isinf(rate.rcu_per_s) else rate.rcu_per_s,
                 "read_rate_reason": rate.reason, "compression": options.compression,
                 "import_compression_type": IMPORT_COMPRESSION[options.compression],
                 "object_size": options.object_size, "acl": options.acl, "sse": options.sse,
                 "kms_key_id": options.kms_key_id, "storage_class": options.storage_class},
        started_at=started, finished_at=_now(), objects=objects,
        consumed_capacity={"read_capacity_units": round(run.consumed, 3),
                           "estimated_from_bytes": run.estimated,
                           "throttle_retries": stats.throttles, "transient_retries": stats.transient},
    )
    store.put_new(layout.manifest_key, manifest.to_json())
    return BackupResult(
        url=destination.url_of(layout.root), backup_id=layout.backup_id, table=table,
        items=run.items, bytes=manifest.totals["bytes"], objects=len(objects),
        consumed_rcu=round(run.consumed, 3), seconds=round(time.monotonic() - t0, 3),
        manifest=destination.url_of(layout.manifest_key),
        read_rate_rcu=None if math.isinf(rate.rcu_per_s) else rate.rcu_per_s,
        segments=segments, raw_bytes=run.raw_bytes, throttle_retries=stats.throttles)


def _source_info(description: dict, source: TableSource, options: BackupOptions) -> dict:
    arn = description.get("TableArn", "")
    parts = arn.split(":")
    return {"table_name": description["TableName"], "table_arn": arn,
            "account": parts[4] if len(parts) > 5 else None,
            "region": parts[3] if len(parts) > 5 else None,
            "table_id": description.get("TableId"),
            "item_count_estimate": description.get("ItemCount"),
            "table_size_bytes_estimate": description.get("TableSizeBytes"),
            "role": options.source.role_arn}
