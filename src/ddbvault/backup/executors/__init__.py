"""Where a backup's segments run: threads in this process, a local process pool, or a Dask cluster.

    run_work(plan, spec, work_options)   every segment of `plan` without a result gets one

A backup is plan -> work -> commit (docs/scale.md, docs/executors.md). `backup_table` writes
the plan, calls run_work with the executor its options name, then commits. The processes and
dask executors run `work.work_segments(plan.url, [segment], ...)` as one task per segment, so
that a slow segment holds back no other and a lost task redoes one segment:

- "threads": work_segments on every segment at once, with its own threads, in this process.
- "processes": executors/pool.py, a pool of P processes started with "spawn" (boto3 is not
  fork-safe, so never "fork"). A child that dies is not fatal by itself: the segments still
  without a result run again in a fresh pool, at most `spec.restarts` times.
- "dask": executors/cluster.py, tasks on a `distributed` scheduler (tcp://HOST:PORT), with
  retries; the scheduler reruns the task of a worker that died.

Why re-running is safe: any number of attempts of one segment may run, even at once; exactly
one creates the segment's result and makes its data visible, the others abort their own uploads
(the contract in format/plan.py). Why the read cap holds: each attempt's limiter allows
plan.worker_read_rate_rcu_per_s (the cap / plan.parallelism), and no executor runs more than
plan.parallelism segments at once.

Raises what work_segments raises (errors.py) from the first segment that failed, after stopping
the others; InterruptedRun (exit 130) when `cancelled` is set or the main thread is interrupted;
DdbvaultError (exit 1) naming the segments when workers kept dying; UsageError for a spec out of
range or the dask extra missing.
"""

from __future__ import annotations

import logging
import threading

from ...format.plan import MAX_PARALLELISM, BackupPlan
from ...runtime.progress import Progress
from ..commit import missing_segments
from ..work import WorkOptions, work_segments
from .cluster import cluster_threads, run_on_dask
from .pool import run_in_pool
from .spec import EXECUTORS, MAX_PROCESSES, ExecutorSpec, parse_scheduler

__all__ = ["EXECUTORS", "MAX_PROCESSES", "ExecutorSpec", "default_parallelism", "parse_scheduler", "run_work"]
log = logging.getLogger(__name__)


def run_work(plan: BackupPlan, spec, work_options: WorkOptions, *,
             progress: Progress | None = None, cancelled: threading.Event | None = None) -> None:
    """Give every segment of `plan` that has no result one, on the executor `spec` names (an
    ExecutorSpec, or BackupOptions: ExecutorSpec.of them). `progress` hears items, bytes and RCU
    as segments run (threads and processes: page by page; dask: items and RCU as each segment
    finishes). Setting `cancelled` stops every worker; each aborts its uploads. AWS calls: those
    of work_segments (Scan; S3 or local writes) in the workers, and an S3 HeadObject of each
    segments/S.json here (which segments have a result). Raises: see the module."""
    spec = spec if isinstance(spec, ExecutorSpec) else ExecutorSpec.of(spec)
    spec.validate()
    progress = progress or Progress()
    cancelled = cancelled or threading.Event()
    todo = missing_segments(plan.url, vault_principal=work_options.vault_principal)
    if not todo:
        log.info("%s: every segment has a result; nothing to run", plan.url)
        return
    log.info("%s: %d of %d segments to run on %s", plan.url, len(todo), plan.segments, _describe(spec, plan))
    if spec.kind == "threads":
        work_segments(plan.url, todo, options=work_options, progress=progress, cancelled=cancelled)
    elif spec.kind == "processes":
        run_in_pool(plan, todo, spec, work_options, progress, cancelled)
    else:
        run_on_dask(plan, todo, spec, work_options, progress, cancelled)


def _describe(spec: ExecutorSpec, plan: BackupPlan) -> str:
    if spec.kind == "processes":
        return f"a pool of {min(spec.processes or plan.parallelism, plan.parallelism)} processes"
    if spec.kind == "dask":
        return f"the Dask scheduler {spec.scheduler}, {plan.parallelism} at once"
    return "threads in this process"


def default_parallelism(spec: ExecutorSpec) -> int:
    """What a plan declares when the user gave no --parallelism: 1 for threads (one
    process, one shared limiter), the pool's size for processes, and for dask the worker
    threads the scheduler has now (each may run a segment), capped at MAX_PARALLELISM."""
    if spec.kind == "processes":
        return spec.processes or 1
    if spec.kind == "dask":
        return max(1, min(cluster_threads(spec), MAX_PARALLELISM))
    return 1
