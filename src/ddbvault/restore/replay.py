"""Applying changes to a table: each a full-image PutRequest or a DeleteRequest of its keys
(format/changes.request_of), <= 25 per BatchWriteItem under the table's write cap,
UnprocessedItems sent again with backoff until none are left. Shared by `restore --then`
(incremental exports, restore/incremental.py) and `restore --at` (the change log,
restore/point_in_time.py). Batches are written by options.workers threads (they share the
write cap): one change per key, so no order between batches matters.

Idempotent: a change sets its item to one state, so applying the same changes twice gives the
same table, and a failed run is simply run again.

AWS calls: DynamoDB DescribeTable (once, waiting until ACTIVE) and BatchWriteItem
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
"""

from __future__ import annotations

import threading

import orjson

from ..aws.retry import RetryStats
from ..aws.session import make_session
from ..capacity.limiter import limiter_for
from ..capacity.write_plan import plan_write_rate
from ..dynamodb.sink import TableSink
from ..errors import RetriesExhaustedError
from ..format.changes import Change, request_of
from ..format.dataline import KeySpec
from ..runtime.coordinator import Coordinator
from ..runtime.progress import Progress
from .options import RestoreOptions

BATCH = 25  # BatchWriteItem's most requests


class ChangeSink:
    """A table that changes are applied to, under its write cap (options.write_share/write_wcu)."""

    def __init__(self, table: str, options: RestoreOptions, *, cancelled: threading.Event | None = None,
                 stats: RetryStats | None = None, progress: Progress | None = None):
        self.options = options
        self.cancelled = cancelled or threading.Event()
        self.progress = progress or Progress()
        self.sink = TableSink(make_session(options.table_principal), table, pool=options.workers + 4,
                              retry=options.retry, stats=stats or RetryStats(), cancelled=self.cancelled)
        description = self.sink.wait_active()
        self.key = KeySpec.of(description)
        self.limiter = limiter_for(plan_write_rate(description, options.write_share, options.write_wcu).units_per_s)

    def apply(self, changes: list[Change]) -> int:
        """Apply `changes` (at most one per key, so no order between them is kept) in batches of
        BATCH, on options.workers threads of one Coordinator (runtime/coordinator.py): the first
        failure cancels the rest and is raised; an interruption raises InterruptedRun (run the
        same command again: applying changes twice is harmless). Returns how many were puts."""
        batches = [changes[start:start + BATCH] for start in range(0, len(changes), BATCH)]
        run = Coordinator(batches, self.limiter, self.cancelled)

        def handle(batch: list[Change]) -> None:
            run.check()
            self._write([request_of(c) for c in batch])
            self.progress.advance(len(batch), 0, 0.0)

        errors = run.run(handle, workers=max(1, min(self.options.workers, len(batches))), name="ddbvault-replay",
                         interrupted=lambda: f"applying changes to {self.sink.table} was interrupted; run the same "
                                             "command again (applying changes twice is harmless)")
        if errors:
            raise errors[0]
        return sum(1 for c in changes if c.new_image is not None)

    def _write(self, requests: list[bytes]) -> None:
        """One BatchWriteItem, then its UnprocessedItems with backoff until none are left."""
        sink, policy, stalled = self.sink, self.options.retry, 0
        while requests:
            estimate = float(len(requests))  # at least 1 WCU per put or delete; settled with the real use
            self.limiter.acquire(estimate)
            unprocessed, units = sink.batch_write(requests)
            self.limiter.settle(estimate, estimate if units is None else units)
            left = [orjson.dumps(r) for r in unprocessed]  # wire form, as the server returned it
            stalled += len(left) == len(requests)
            if stalled >= policy.attempts:
                raise RetriesExhaustedError(f"BatchWriteItem on {sink.arn}: {len(left)} changes still unprocessed "
                                            f"after {policy.attempts} attempts that wrote nothing",
                                            "the table kept throttling; lower --write-share/--write-wcu and run "
                                            "again (applying changes twice is harmless)",
                                            action="BatchWriteItem", resource=sink.arn, code="UnprocessedItems")
            requests = left
            if requests:
                self.cancelled.wait(policy.delay(stalled))
