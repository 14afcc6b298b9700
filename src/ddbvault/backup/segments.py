"""The coordinator of one backup run: segment workers, read-ahead, cancellation, counters.

Workers (threads) take segments from a queue. Each scans its segment page by page under the
shared token bucket, with one page read ahead on the fetch pool, and streams its own data
objects through a SegmentWriter. The first failure cancels every other worker, and each aborts
its open upload. backup.py decides what happens next; this module never writes a manifest.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..errors import InterruptedRun
from ..format.layout import BackupLayout
from ..format.manifest import DataObject
from ..capacity.limiter import RateLimiterCancelled
from ..capacity.read_plan import PageSizer
from .segment_writer import SegmentWriter
from ..runtime.workers import drain
from ..dynamodb.scan import ScanPage, TableSource


class Progress:
    """What backup_table reports as it goes. Called from worker threads; must be thread-safe."""

    def start(self, table: str, estimated_items: int) -> None: ...

    def advance(self, items: int, raw_bytes: int, rcu: float) -> None: ...


class ScanRun:
    """Shared state of one backup run: the coordinator owns cancellation and the counters."""

    def __init__(self, table: str, source: TableSource, store, layout: BackupLayout,
                 options, bucket, segments: int, progress: Progress, cancelled: threading.Event):
        self.table, self.source, self.store, self.layout = table, source, store, layout
        self.options, self.bucket, self.segments = options, bucket, segments
        self.progress, self.cancelled = progress, cancelled
        # One sizer for all segments: what one segment learns about item sizes sizes them all.
        self.sizer = PageSizer(bucket.rate, bucket.burst, options.consistent_read)
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

    def cancel(self) -> None:
        self.cancelled.set()
        self.bucket.cancel()

    def _fetch(self, segment: int, start_key: dict | None) -> ScanPage:
        """One Scan page under the token bucket, charged with its real ConsumedCapacity.
        Runs on the fetch pool; at most one fetch per segment is in flight."""
        page = self.source.read_page(segment, self.segments, start_key, self.sizer, self.bucket,
                                     self.options.consistent_read)
        if page.estimated:  # only ever set, so threads need no lock
            self.estimated = True
        return page

    def scan_segment(self, segment: int) -> None:
        self.objects[segment] = self._scan(segment)

    def _scan(self, segment: int) -> list[DataObject]:
        o = self.options
        writer = SegmentWriter(self.store, self.layout, segment, compression=o.compression,
                               level=o.compression_level, object_size=o.object_size)
        pending: Future | None = self.fetcher.submit(self._fetch, segment, None)
        try:
            while pending is not None:
                page = pending.result()
                # Read ahead: the next page is in flight while this one is encoded and written.
                # Memory: two pages per segment worker at most.
                pending = None
                if page.last_key and not self.cancelled.is_set():
                    pending = self.fetcher.submit(self._fetch, segment, page.last_key)
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


def run_workers(run: ScanRun, workers: int) -> None:
    """Scan every segment; afterwards run.errors holds the failures, the cause first."""
    count = min(workers, run.segments)
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ddbvault-scan") as run.fetcher:
        try:
            run.errors = drain(run.todo, run.scan_segment, count=count, name="ddbvault-segment",
                               cancelled=run.cancelled, cancel=run.cancel,
                               quiet=(RateLimiterCancelled, _Cancelled))
        except BaseException:  # KeyboardInterrupt / SystemExit in the main thread: stopped cleanly
            raise InterruptedRun(f"backup of {run.table} interrupted; no manifest written, so the "
                                 "partial backup is never treated as complete") from None
