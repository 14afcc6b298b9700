"""Where a backup's segments run: threads in this process, a local process pool, or a Dask cluster.

    run_work(plan, spec, work_options)   every segment of `plan` without a result gets one

A backup is plan -> work -> commit (docs/scale.md). `backup_table` writes the plan, calls
run_work with the ExecutorSpec its options name, then commits. Each executor runs
`work.work_segments(plan.url, [segment], ...)` once per segment, one task per segment so that a
slow segment holds back no other, on its own:

- "threads": this process, work_segments' own threads (the one-shot backup of before).
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
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...errors import DdbvaultError, UsageError
from ...format.plan import MAX_PARALLELISM, BackupPlan
from ...runtime.progress import Progress
from ..commit import missing_segments
from ..work import WorkOptions, work_segments

__all__ = ["EXECUTORS", "ExecutorSpec", "parse_scheduler", "resume_hint", "run_work"]
log = logging.getLogger(__name__)

EXECUTORS = ("threads", "processes", "dask")
MAX_PROCESSES = 256  # one host's pool; beyond that, a cluster (dask, Batch, Kubernetes)
MAX_RESTARTS = 100
_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]", re.ASCII)


@dataclass(frozen=True)
class ExecutorSpec:
    """How run_work runs segments. `kind` is one of EXECUTORS. `processes`: the pool's size
    ("processes"; None: plan.parallelism; never above it). `scheduler`: tcp://HOST:PORT of a
    Dask scheduler ("dask"). `connect_timeout_s`: how long connecting to it may take, seconds.
    `restarts`: fresh pools after a child died ("processes"), resubmissions of a segment whose
    workers kept dying ("dask"); then run_work fails naming the segments. `retries`: Dask's own
    retries of a task that raised."""

    kind: str = "threads"
    processes: int | None = None
    scheduler: str | None = None
    connect_timeout_s: float = 10.0
    restarts: int = 3
    retries: int = 2

    @classmethod
    def of(cls, options) -> "ExecutorSpec":
        """The spec a BackupOptions names (its executor, processes and scheduler)."""
        return cls(kind=options.executor, processes=options.processes, scheduler=options.scheduler)

    def validate(self) -> None:
        """Raises UsageError naming the CLI option of a value out of range or a combination
        that would be ignored (never guessed past)."""
        if self.kind not in EXECUTORS:
            raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
        if self.processes is not None and not 1 <= self.processes <= MAX_PROCESSES:
            raise UsageError(f"--processes must be 1..{MAX_PROCESSES}, got {self.processes}",
                             hint="beyond one host, run the segments on a cluster: --executor dask "
                                  "--scheduler tcp://HOST:PORT (docs/scale.md)")
        if self.processes is not None and self.kind != "processes":
            raise UsageError(f"--processes is for --executor processes, not {self.kind}",
                             hint="drop --executor, or --processes")
        if (self.scheduler is not None) != (self.kind == "dask"):
            raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT, and --scheduler needs "
                             "--executor dask", hint="--executor dask --scheduler tcp://10.0.0.5:8786")
        if self.scheduler is not None:
            parse_scheduler(self.scheduler)
        if not 0 < self.connect_timeout_s <= 600 or not 0 <= self.restarts <= MAX_RESTARTS \
                or not 0 <= self.retries <= MAX_RESTARTS:
            raise UsageError("executor: connect_timeout_s must be in (0, 600], restarts and retries "
                             f"in 0..{MAX_RESTARTS}")

    def default_parallelism(self) -> int:
        """What a plan declares when the user gave no --parallelism: 1 for threads (one
        process, one shared limiter), the pool's size for processes, and for dask the worker
        threads the scheduler has now (each may run a segment), capped at MAX_PARALLELISM."""
        if self.kind == "processes":
            return self.processes or 1
        if self.kind == "dask":
            from .cluster import cluster_threads

            return max(1, min(cluster_threads(self), MAX_PARALLELISM))
        return 1


def parse_scheduler(text: str) -> str:
    """`text` as `tcp://HOST:PORT`, checked: UsageError for anything else (another scheme, no
    port, a path, a user name). HOST is a name, an IPv4 address or a bracketed IPv6 address."""
    # A user name or password is never echoed (no credential in any output).
    refused = UsageError(f"--scheduler {'(with a user name, not shown)' if '@' in text else repr(text[:200])} "
                         "is not tcp://HOST:PORT",
                         hint="--scheduler tcp://HOST:PORT, the address `dask scheduler` prints (port 8786 by default)")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise refused from None
    host = parts.netloc.rsplit(":", 1)[0] if parts.netloc else ""
    if (len(text) > 300 or parts.scheme != "tcp" or not port or not _HOST.fullmatch(host)
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise refused
    return f"tcp://{host}:{port}"


def resume_hint(plan: BackupPlan) -> str:
    return f"ddbvault backup --resume {plan.url} (it runs only the segments without a result)"


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
        from .pool import run_in_pool

        run_in_pool(plan, todo, spec, work_options, progress, cancelled)
    else:
        from .cluster import run_on_dask

        run_on_dask(plan, todo, spec, work_options, progress, cancelled)


def _describe(spec: ExecutorSpec, plan: BackupPlan) -> str:
    if spec.kind == "processes":
        return f"a pool of {min(spec.processes or plan.parallelism, plan.parallelism)} processes"
    if spec.kind == "dask":
        return f"the Dask scheduler {spec.scheduler}, {plan.parallelism} at once"
    return "threads in this process"


def workers_lost(plan: BackupPlan, segments: list[int], what: str) -> DdbvaultError:
    """The error of a run whose workers kept dying: it names the segments left and how to resume."""
    shown = ", ".join(str(s) for s in sorted(segments)[:20]) + (" ..." if len(segments) > 20 else "")
    return DdbvaultError(f"backup {plan.url}: {what}; {len(segments)} segments have no result ({shown}); "
                         "no manifest written", hint=resume_hint(plan))
