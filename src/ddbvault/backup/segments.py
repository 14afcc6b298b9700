"""Attempts of scan segments, on the shared coordinator (runtime/coordinator.py): the unit of work
of `backup work` and of every executor (docs/scale.md).

Workers (threads) take segments from the coordinator's queue. Each segment is one ATTEMPT:
1. it records itself: `attempts/SSSSSS-<id>.json`, create-only;
2. it scans the segment page by page under the shared read-capacity limiter, one page read
   ahead on the fetch pool, and stages its data objects (SegmentWriter: open multipart uploads,
   or files under staging/<id>/), never making them visible;
3. it tries to create `segments/SSSSSS.json`, its result, create-only. Exactly one attempt of a
   segment succeeds, however many run, even at once (retries, zombies, a worker presumed dead):
   - the winner completes its staged objects (create-only): only now are they under data/;
   - a loser discards its own (AbortMultipartUpload / unlink); nothing of it is ever visible.
A failure before the result aborts the attempt's uploads. A failure after it (completing an
object) leaves them to `backup commit`, which completes what a winner recorded. The first
failure cancels every other worker. This module never writes a manifest.
"""

from __future__ import annotations

import contextvars
import os
import secrets
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from ..aws.retry import RetryStats, attributed_to
from ..capacity.read_plan import PageSizer
from ..dynamodb.scan import ScanPage, TableSource
from ..errors import IntegrityError
from ..format.layout import BackupLayout
from ..format.plan import MAX_ATTEMPTS, AttemptRecord, BackupPlan, SegmentResult, attempt_key, result_key
from ..runtime.coordinator import Coordinator
from ..runtime.progress import Progress
from ..storage.base import ObjectStore
from .segment_writer import SegmentWriter


def now_utc() -> str:
    """Now, UTC, ISO 8601 with milliseconds: 2026-12-01T02:12:35.123Z."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class SegmentOutcome:
    """What one attempt of a segment came to: "won" (its result is the segment's), "lost"
    (another attempt's result was there first; its uploads were discarded) or "done" (the segment
    had a result before this attempt started: nothing scanned). Items, RCU and seconds are this
    attempt's own."""

    segment: int
    outcome: str
    attempt_id: str | None = None
    items: int = 0
    consumed_rcu: float = 0.0
    seconds: float = 0.0
    objects: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def create_once(store: ObjectStore, key: str, body: bytes) -> bool:
    """Create `key` holding `body`, create-only. True: created (by this call, or by its own
    retried request); False: another writer's object was there first (S3 answered 412, which
    needs only s3:PutObject; the store's HeadObject then proved it is not this call's own)."""
    try:
        store.put_new(key, body)
        return True
    except IntegrityError:
        if store.exists(key):
            return False
        raise


class ScanRun:
    """Shared state of the attempts one process runs for one backup: the coordinator (segments,
    limiter, cancellation) and the counters: `items` scanned, `raw_bytes` of data lines,
    `consumed_rcu` reported by DynamoDB, over every attempt (winners and losers)."""

    def __init__(self, plan: BackupPlan, source: TableSource, store: ObjectStore, layout: BackupLayout,
                 limiter, todo: list[int], progress: Progress, cancelled: threading.Event, sizer: PageSizer):
        self.plan, self.table, self.source, self.store, self.layout = plan, plan.table, source, store, layout
        self.limiter, self.progress = limiter, progress
        self.coordinator: Coordinator[int] = Coordinator(todo, limiter, cancelled)
        self.cancelled = self.coordinator.cancelled
        # One sizer for all segments (backup.work.ReadPace, which a process may keep across
        # runs): what one segment learns about item sizes sizes them all.
        self.sizer = sizer
        self.outcomes: dict[int, SegmentOutcome] = {}
        self.results: dict[int, SegmentResult] = {}  # the results this process won
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
        return self.source.read_page(segment, self.plan.segments, exclusive_start_key, self.sizer,
                                     self.limiter, self.plan.consistent_read, lines=True)

    def scan_segment(self, segment: int) -> None:
        if self.store.seen(result_key(self.layout.root, segment)):
            self.outcomes[segment] = SegmentOutcome(segment, "done")
            return
        stats = RetryStats()
        with attributed_to(stats):
            self.outcomes[segment] = self._attempt(segment, stats)

    def _attempt(self, segment: int, stats: RetryStats) -> SegmentOutcome:
        plan, root = self.plan, self.layout.root
        attempt_id, started, t0 = secrets.token_hex(8), now_utc(), time.monotonic()
        _record_attempt_at(self.store, root, plan.backup_id, segment, attempt_id, started)
        writer = SegmentWriter(self.store, self.layout, segment, attempt_id=attempt_id,
                               compression=plan.compression, level=plan.compression_level,
                               object_size=plan.object_size)
        items = raw = 0
        rcu, estimated = 0.0, False
        context = contextvars.copy_context()  # fetches count their retries in this attempt's stats
        pending: Future | None = self.fetcher.submit(context.run, self._fetch, segment, None)
        try:
            while pending is not None:
                page = pending.result()
                # Read ahead: the next page is in flight while this one is encoded and written.
                # Memory: two pages per segment worker at most.
                pending = None
                if page.last_evaluated_key and not self.cancelled.is_set():
                    pending = self.fetcher.submit(context.run, self._fetch, segment, page.last_evaluated_key)
                size = writer.write_lines(page.lines, page.count)
                items, raw, rcu = items + page.count, raw + size, rcu + page.consumed_rcu
                estimated = estimated or page.estimated
                with self.coordinator.lock:
                    self.items += page.count
                    self.raw_bytes += size
                    self.consumed_rcu += page.consumed_rcu
                    self.estimated = self.estimated or page.estimated
                self.progress.advance(page.count, size, page.consumed_rcu)
            self.coordinator.check()
            staged = writer.finish()
        except BaseException:
            if pending is not None:
                pending.cancel()
            writer.abort()
            raise
        seconds = round(time.monotonic() - t0, 3)
        result = SegmentResult(
            backup_id=plan.backup_id, segment=segment, attempt_id=attempt_id, started_at=started,
            finished_at=now_utc(), seconds=seconds, items=items, raw_bytes=raw, consumed_rcu=round(rcu, 3),
            estimated=estimated, throttle_retries=stats.throttles, transient_retries=stats.transient,
            objects=list(staged))
        try:
            won = create_once(self.store, result_key(root, segment), result.to_json())
        except BaseException:
            writer.discard()  # no result of ours can be there: it was refused or never sent
            raise
        outcome = SegmentOutcome(segment, "won" if won else "lost", attempt_id, items, round(rcu, 3),
                                 seconds, len(staged))
        if not won:
            writer.discard()
            return outcome
        # Won: from here on the staged objects are the segment's; a failure leaves them to commit.
        complete_objects(self.store, root, result)
        with self.coordinator.lock:
            self.results[segment] = result
        return outcome


def _record_attempt_at(store: ObjectStore, root: str, backup_id: str, segment: int, attempt_id: str,
                       started: str) -> int:
    """Create this attempt's record at the first free number (create-only); returns the number."""
    for number in range(1, MAX_ATTEMPTS + 1):
        record = AttemptRecord(backup_id, segment, number, attempt_id, started, socket.gethostname(), os.getpid())
        if create_once(store, attempt_key(root, segment, number), record.to_json()):
            return number
    raise IntegrityError(f"segment {segment} of {root} has been attempted {MAX_ATTEMPTS} times; not again",
                         hint="find why its attempts fail (ddbvault -v), then start a new backup")


def count_attempts(store: ObjectStore, root: str, segment: int) -> int:
    """Attempts recorded for `segment`: the first free number - 1 (HeadObject each)."""
    number = 1
    while number <= MAX_ATTEMPTS and store.seen(attempt_key(root, segment, number)):
        number += 1
    return number - 1


def complete_objects(store: ObjectStore, root: str, result: SegmentResult) -> None:
    """Make the winning attempt's staged objects visible under data/ (create-only, idempotent)."""
    for obj in result.objects:
        store.complete_staged(f"{root}/{obj.key}", obj.completion, obj.size, obj.sha256)


def run_workers(run: ScanRun, workers: int, *, interrupted: str) -> None:
    """Run every queued segment's attempt; afterwards run.errors holds the failures, the cause
    first. Raises InterruptedRun (with `interrupted`) when the main thread is interrupted."""
    count = max(1, min(workers, run.coordinator.todo.qsize()))
    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="ddbvault-scan") as run.fetcher:
        run.coordinator.run(run.scan_segment, workers=count, name="ddbvault-segment",
                            interrupted=lambda: interrupted)


__all__ = ["ScanRun", "SegmentOutcome", "complete_objects", "count_attempts", "create_once", "run_workers"]
