"""One segment's task, as a child process or a Dask worker runs it: one segment's attempt.

Module-level functions only: a task is pickled by reference, so the process that runs it must be
able to import ddbvault (a Dask worker needs ddbvault installed, in the same version).

A process runs many tasks of one backup, one after another (a pool child) or several at once (a
Dask worker's threads). What a task needs besides its segment is the same for all of them: the
opened plan (one GetObject), the boto3 sessions and clients, and the read pace (the limiter at the
plan's worker rate and the page sizer). Building those costs about 0.1 s of CPU per task
(bench/README.md), and a fresh limiter starts empty and a fresh sizer probes item sizes again,
so each segment would also begin below the rate. So they are kept per process and reused:
- a task takes an idle WorkerContext of the same backup URL and options, or builds one; when it
  is done it gives it back. Tasks running at once never share one (each has its own limiter at
  the worker rate, as the executors' cap arithmetic expects);
- a task that failed or was cancelled drops its context (its limiter is cancelled, and its
  clients' state is unknown);
- taking a context of another backup drops every idle one of the old backup, so a long-lived
  Dask worker keeps at most as many contexts as it runs tasks at once, of one backup.
Credentials in the cached sessions are botocore's refreshable ones, as in any long-running run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...aws.retry import RetryStats
from ...aws.session import make_session
from ...dynamodb.scan import TableSource
from ...runtime.progress import Progress
from ...errors import UsageError
from ..work import OpenedPlan, ReadPace, WorkOptions, chosen_segments, open_plan, run_segments

POOL_EXTRA = 4  # connections beyond the task's one scan thread: its read-ahead, uploads, probes


@dataclass(frozen=True)
class SegmentDone:
    """What a task reports back: the segment, and what its attempt read (0s when a result
    already existed and nothing ran): items, and RCU as DynamoDB reported it."""

    segment: int
    items: int
    consumed_rcu: float


@dataclass
class WorkerContext:
    """What this process reuses across the tasks of one backup (see the module)."""

    key: tuple[str, WorkOptions]
    opened: OpenedPlan
    source: TableSource
    stats: RetryStats
    pace: ReadPace


_lock = threading.Lock()
_idle: list[WorkerContext] = []  # of one backup (url, options) at a time
built = 0  # contexts this process has built (tests read it: reuse is observable)


def _take(url: str, options: WorkOptions, cancelled: threading.Event) -> WorkerContext:
    """An idle context of this backup, or a new one. Raises what open_plan raises."""
    global built
    key = (url, options)
    with _lock:
        if _idle and _idle[0].key != key:
            _idle.clear()
        if _idle:
            return _idle.pop()
    stats = RetryStats()
    opened = open_plan(url, options.vault_principal, stats=stats, pool=options.threads + POOL_EXTRA)
    source = TableSource(make_session(options.table_principal), opened.plan.table,
                         pool=options.threads + POOL_EXTRA, retry=options.retry, stats=stats, cancelled=cancelled)
    with _lock:
        built += 1
    return WorkerContext(key, opened, source, stats, ReadPace.for_plan(opened.plan))


def _give_back(context: WorkerContext) -> None:
    with _lock:
        if not _idle or _idle[0].key == context.key:
            _idle.append(context)


def run_segment(url: str, segment: int, options: WorkOptions, cancelled: threading.Event,
                progress: Progress | None = None) -> SegmentDone:
    """Run (or skip, when it has a result) one segment of the backup at `url`, on this process's
    context for it. Raises what backup.work.work_segments raises (UsageError for a segment the
    plan does not have); a failed attempt has aborted its own uploads."""
    context = _take(url, options, cancelled)
    try:
        chosen_segments(context.opened.plan, [segment], None)
    except UsageError:
        _give_back(context)
        raise
    report = run_segments(context.opened, context.source, [segment], 1, context.stats, progress=progress,
                          cancelled=cancelled, pace=context.pace)  # raises: the context is dropped
    _give_back(context)
    return SegmentDone(segment, int(report.items), float(report.consumed_rcu))
