"""One backup run's segment workers, on the shared coordinator (runtime/coordinator.py).

Workers (threads) take segments from the coordinator's queue. Each scans its segment page by
page under the shared read-capacity limiter, with one page read ahead on the fetch pool, and
streams its own data objects through a SegmentWriter. The first failure cancels every other
worker, and each aborts its open upload. backup/__init__.py decides what happens next; this
module never writes a manifest.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..capacity.read_plan import PageSizer
from ..dynamodb.scan import ScanPage, TableSource
from ..format.layout import BackupLayout
from ..format.manifest import DataObject
from ..runtime.coordinator import Coordinator
from ..runtime.progress import Progress
from .segment_writer import SegmentWriter


class ScanRun:
    """Shared state of one backup run: the coordinator (segments, limiter, cancellation) and the
    counters: `items` scanned, `raw_bytes` of data lines, `consumed_rcu` reported by DynamoDB."""

    def __init__(self, table: str, source: TableSource, store, layout: BackupLayout,
                 options, limiter, segments: int, progress: Progress, cancelled: threading.Event):
        self.table, self.source, self.store, self.layout = table, source, store, layout
        self.options, self.limiter, self.segments, self.progress = options, limiter, segments, progress
        self.coordinator: Coordinator[int] = Coordinator(range(segments), limiter, cancelled)
        self.cancelled = self.coordinator.cancelled
        # One sizer for all segments: what one segment learns about item sizes sizes them all.
        self.sizer = PageSizer(limiter.rate, limiter.burst, options.consistent_read)
        self.objects: dict[int, list[DataObject]] = {}
        self.items = self.raw_bytes = 0
        self.consumed_rcu = 0.0
        self.estimated = False
        self.fetcher: ThreadPoolExecutor  # set by run_workers for the duration of the run

    @property
    def errors(self) -> list[BaseException]:
        return self.coordinator.errors

    def _fetch(self, segment: int, exclusive_start_key: dict | None) -> ScanPage:
        """One Scan page under the limiter, charged with its real ConsumedCapacity.
        Runs on the fetch pool; at most one fetch per segment is in flight."""
        page = self.source.read_page(segment, self.segments, exclusive_start_key, self.sizer,
                                     self.limiter, self.options.consistent_read, lines=True)
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
                if page.last_evaluated_key and not self.cancelled.is_set():
                    pending = self.fetcher.submit(self._fetch, segment, page.last_evaluated_key)
                size = writer.write_lines(page.lines, page.count)
                with self.coordinator.lock:
                    self.items += page.count
                    self.raw_bytes += size
                    self.consumed_rcu += page.consumed_rcu
                self.progress.advance(page.count, size, page.consumed_rcu)
            self.coordinator.check()
            return writer.finish()
        except BaseException:
            if pending is not None:
                pending.cancel()
            writer.abort()
            raise


def run_workers(run: ScanRun, workers: int) -> None:
    """Scan every segment; afterwards run.errors holds the failures, the cause first.
    Raises InterruptedRun when the main thread is interrupted."""
    count = min(workers, run.segments)
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ddbvault-scan") as run.fetcher:
        run.coordinator.run(run.scan_segment, workers=count, name="ddbvault-segment",
                            interrupted=lambda: f"backup of {run.table} interrupted; no manifest written, "
                                                "so the partial backup is never treated as complete")


__all__ = ["ScanRun", "run_workers"]
