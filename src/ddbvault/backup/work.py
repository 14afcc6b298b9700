"""`backup work`: the second step of a scan backup (docs/scale.md): scan segments of a planned
backup, each as one attempt (backup/segments.py), in this process.

Any number of `work` processes may run on one backup, on any machines, even on the same
segments at once: each segment gets exactly one result, and nothing but the winners' data is
ever visible under data/. A segment that already has a result is skipped, so re-running a
work unit (a retried Batch child, a rescheduled Dask task, `backup --resume`) redoes only
what is missing.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..aws.retry import RetryPolicy, RetryStats
from ..aws.session import Principal, make_session
from ..capacity.limiter import CapacityLimiter, Unlimited, limiter_for
from ..capacity.read_plan import PageSizer
from ..dynamodb.scan import TableSource
from ..errors import IntegrityError, InterruptedRun, NotFoundError, UsageError
from ..plural import counted
from ..format.layout import BackupLayout
from ..format.plan import BackupPlan, plan_key
from ..format.retention import parse_utc, tag_of
from ..runtime.progress import Progress
from ..storage import ObjectStore, WriteOptions, open_store, session_for
from ..storage.base import CANNED_ACLS, SSE_CHOICES
from ..storage.destination import Destination
from ..vault.reader import parse_backup_url
from .segments import ScanRun, SegmentOutcome, run_workers

log = logging.getLogger(__name__)
# The index of this worker in an array of workers, as the platforms set it:
INDEX_VARIABLES = ("JOB_COMPLETION_INDEX",        # Kubernetes Indexed Job (batch/v1 Job, completionMode: Indexed)
                   "AWS_BATCH_JOB_ARRAY_INDEX")   # AWS Batch array job child


@dataclass(frozen=True)
class WorkOptions:
    """How a work unit runs. `threads`: segments scanned at once in this process (1..256)."""

    threads: int = 4
    table_principal: Principal = field(default_factory=Principal)
    vault_principal: Principal = field(default_factory=Principal)
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass
class WorkReport:
    """What one `work` call did: each segment's outcome, and this process's totals (items and
    RCU of every attempt it ran, won or lost; retries of all its calls)."""

    url: str
    segments: list[SegmentOutcome]
    items: int
    consumed_rcu: float
    seconds: float
    throttle_retries: int
    transient_retries: int

    def to_dict(self) -> dict:
        return {"url": self.url, "segments": [s.to_dict() for s in self.segments], "items": self.items,
                "consumed_rcu": self.consumed_rcu, "seconds": self.seconds,
                "throttle_retries": self.throttle_retries, "transient_retries": self.transient_retries}


@dataclass
class OpenedPlan:
    """A planned backup, opened for work or commit."""

    plan: BackupPlan
    destination: Destination
    layout: BackupLayout
    store: ObjectStore


@dataclass
class ReadPace:
    """The read-capacity limiter (capacity/limiter.py) and Scan page sizer (capacity/read_plan.py)
    that one worker's attempts read under, at the plan's worker_read_rate_rcu_per_s (RCU/s)."""

    limiter: CapacityLimiter | Unlimited
    sizer: PageSizer

    @classmethod
    def for_plan(cls, plan: BackupPlan) -> "ReadPace":
        limiter = limiter_for(plan.worker_read_rate_rcu_per_s or float("inf"))
        return cls(limiter, PageSizer(limiter.rate, limiter.burst, plan.consistent_read))


def open_plan(url: str, principal: Principal, *, stats: RetryStats, pool: int = 10) -> OpenedPlan:
    """The plan of the backup at `url` (DEST/TABLE/BACKUP_ID), read and checked, with a store
    that writes as the plan says (ACL, SSE, storage class, part size, the keep policy's tags).
    Raises UsageError (not a backup URL; a complete backup made without a plan: schema-only,
    export engine or older), NotFoundError (no plan: `backup plan` first),
    IntegrityError (a malformed plan), AwsError. S3: GetObject of plan.json."""
    destination, layout = parse_backup_url(url)
    session = session_for(destination, principal)
    store = open_store(destination, session, stats=stats, pool=pool)
    where = destination.url_of(plan_key(layout.root))
    try:
        body = store.get(plan_key(layout.root), limit=4 * 1024 * 1024)
    except NotFoundError as exc:
        if getattr(exc, "code", "") == "NoSuchBucket":
            raise
        if store.seen(layout.manifest_key):  # complete, and not planned: nothing to work on or commit
            raise UsageError(f"{url} is a complete backup that has no plan (--schema-only, --engine export, or "
                             "made before plan/work/commit), so there is nothing to work on, commit or resume",
                             hint=f"ddbvault verify {url}") from None
        raise NotFoundError(f"{url} has no plan ({where})",
                            hint="plan the backup first: ddbvault backup plan TABLE --to DEST") from None
    plan = BackupPlan.from_json(body, where, layout.backup_id, layout.table, url=destination.url_of(layout.root))
    _check_write_options(plan, where)
    options = WriteOptions(acl=plan.acl, sse=plan.sse, kms_key_id=plan.kms_key_id,
                           storage_class=plan.storage_class, part_size=plan.part_size)
    store = open_store(destination, session, options, stats=stats, pool=pool)
    if plan.retention is not None:
        try:
            tier, expires = plan.retention["tier"], parse_utc(plan.retention["expires_at"])
        except (KeyError, TypeError, ValueError):
            raise IntegrityError(f"{where} is invalid: retention: needs a tier and an expires_at",
                                 hint="start a new backup") from None
        store.apply_retention(tag_of(tier), expires)
    return OpenedPlan(plan, destination, layout, store)


def _check_write_options(plan: BackupPlan, where: str) -> None:
    if plan.acl is not None and plan.acl not in CANNED_ACLS or plan.sse is not None and plan.sse not in SSE_CHOICES:
        raise IntegrityError(f"{where} is invalid: acl or sse is not one S3 knows", hint="start a new backup")


def index_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The worker's index from JOB_COMPLETION_INDEX (Kubernetes Indexed Job,
    https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode) or
    AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job,
    https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html); None when neither is set.
    Raises UsageError for a value that is not a non-negative integer, or when both differ."""
    environ = os.environ if environ is None else environ
    found: dict[str, int] = {}
    for name in INDEX_VARIABLES:
        text = environ.get(name)
        if text is None or text == "":
            continue
        if not text.isascii() or not text.isdigit() or len(text) > 7:
            raise UsageError(f"{name} must be a non-negative integer index, got {text[:20]!r}")
        found[name] = int(text)
    if len(set(found.values())) > 1:
        raise UsageError(f"{' and '.join(found)} are both set, to different indexes",
                         hint="unset one of them")
    return next(iter(found.values()), None)


def segments_of_index(plan: BackupPlan, index: int) -> list[int]:
    """The segments worker `index` of plan.parallelism scans: s % parallelism == index."""
    if not 0 <= index < plan.parallelism:
        raise UsageError(f"index {index} is out of range: the plan has {counted(plan.parallelism, 'worker')} (0.."
                         f"{plan.parallelism - 1})", hint="run as many workers as `backup plan --parallelism` said")
    return list(range(index, plan.segments, plan.parallelism))


def chosen_segments(plan: BackupPlan, segments: Sequence[int] | None, index: int | None) -> list[int]:
    """The segments to work on: `segments` (sorted, each checked against the plan), or those of
    worker `index`, or every segment. Raises UsageError for an out-of-range one, or both given."""
    if segments is not None and index is not None:
        raise UsageError("--segment and --index are exclusive",
                         hint="give --segment S (repeatable) or --index I, not both")
    if index is not None:
        return segments_of_index(plan, index)
    if segments is None:
        return list(range(plan.segments))
    chosen = sorted(set(segments))
    bad = [s for s in chosen if not 0 <= s < plan.segments]
    if bad:
        raise UsageError(f"segment {bad[0]} is out of range: the plan has {counted(plan.segments, 'segment')} "
                         f"(0..{plan.segments - 1})", hint="give segments the plan has, as `backup plan` printed")
    return chosen


def work_segments(url: str, segments: Sequence[int] | None = None, *, index: int | None = None,
                  options: WorkOptions | None = None, progress: Progress | None = None,
                  cancelled: threading.Event | None = None) -> WorkReport:
    """Scan the chosen segments of the planned backup at `url`, each without a result yet, as
    one attempt each (backup/segments.py), `options.threads` at a time, under one read limiter
    of the plan's worker_read_rate_rcu_per_s (RCU/s). `segments` None and `index` None: every
    segment; `index` I: segments s with s % plan.parallelism == I.

    AWS calls: S3 GetObject (plan.json), HeadObject (segments/S.json: a result already?),
    PutObject (attempts/, segments/; If-None-Match: *), CreateMultipartUpload, UploadPart,
    CompleteMultipartUpload (If-None-Match: *) or AbortMultipartUpload; DynamoDB Scan.
    Raises UsageError (2), NotFoundError (3: no plan, no table), AccessDeniedError (4),
    AwsError (5), IntegrityError (6), InterruptedRun (130)."""
    options = options or WorkOptions()
    if not 1 <= options.threads <= 256:
        raise UsageError(f"--workers must be 1..256, got {options.threads}")
    stats = RetryStats()
    opened = open_plan(url, options.vault_principal, stats=stats, pool=options.threads + 4)
    chosen = chosen_segments(opened.plan, segments, index)
    source = TableSource(make_session(options.table_principal), opened.plan.table, pool=options.threads + 4,
                         retry=options.retry, stats=stats, cancelled=cancelled)
    return run_segments(opened, source, chosen, options.threads, stats, progress=progress, cancelled=cancelled)


def run_segments(opened: OpenedPlan, source: TableSource, chosen: list[int], threads: int, stats: RetryStats,
                 *, progress: Progress | None = None, cancelled: threading.Event | None = None,
                 pace: ReadPace | None = None) -> WorkReport:
    """The attempts of `chosen` in this process (see work_segments); raises the first failure.
    `pace`: the limiter and page sizer to read under (default: new ones, at the plan's
    worker_read_rate_rcu_per_s). A caller running one segment after another in one process
    passes the same one each time, so no segment starts from an empty limiter or sizes its first
    pages from nothing; a failed run cancels its limiter, so it must not be passed again."""
    plan, t0 = opened.plan, time.monotonic()
    cancelled = cancelled or threading.Event()
    source.cancelled = cancelled  # the run's event: a cancelled run stops waiting on retries at once
    pace = pace or ReadPace.for_plan(plan)
    run = ScanRun(plan, source, opened.store, opened.layout, pace.limiter, chosen, progress or Progress(), cancelled,
                  sizer=pace.sizer)
    log.info("%s: working on %d of %d segments with %d threads, read rate %s", plan.url, len(chosen),
             plan.segments, min(threads, max(1, len(chosen))),
             "unlimited" if plan.worker_read_rate_rcu_per_s is None
             else f"{plan.worker_read_rate_rcu_per_s:,.1f} RCU/s")
    resume = f"ddbvault backup --resume {plan.url} (it runs only the segments without a result)"
    try:
        run_workers(run, threads, interrupted=f"work on {plan.url} interrupted; no manifest written")
    except InterruptedRun as exc:
        raise InterruptedRun(exc.message, hint=resume) from None
    if run.errors:
        raise run.errors[0]
    if run.cancelled.is_set():
        raise InterruptedRun(f"work on {plan.url} cancelled; no manifest written", hint=resume)
    outcomes = [run.outcomes[s] for s in chosen if s in run.outcomes]
    return WorkReport(url=plan.url, segments=outcomes, items=run.items, consumed_rcu=round(run.consumed_rcu, 3),
                      seconds=round(time.monotonic() - t0, 3), throttle_retries=stats.throttles,
                      transient_retries=stats.transient)
