"""The "dask" executor: a backup's segments as tasks on a Dask `distributed` scheduler.

- Optional: `pip install 'ddbvault[dask]'`; without it, a UsageError saying so. Every worker
  needs ddbvault (the same version) and AWS credentials of its own (the standard chain).
- The scheduler is tcp://HOST:PORT; connecting is bounded by spec.connect_timeout_s.
- One task per segment, at most plan.parallelism running or queued at once: each attempt's
  limiter allows plan.worker_read_rate_rcu_per_s, so that is what keeps the read cap.
- A worker that dies mid-segment: the scheduler runs its task again elsewhere (its
  `allowed-failures`, 3 by default); a task that raised runs again up to spec.retries times.
  A segment whose workers kept dying (KilledWorker) is submitted again, at most spec.restarts
  times, then run_work fails naming it. Attempts that overlap are safe (format/plan.py).
- A task the scheduler cancels (it lost the connection to this client, or restarted) fails the
  run, naming the segments left, with the hint to resume.
- Stopping: a distributed.Event named after the backup is set; each running task watches it
  and cancels its segment (aborting its uploads); queued tasks are cancelled.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import CancelledError

from ...errors import DdbvaultError, InterruptedRun, UsageError
from ...plural import counted
from ...format.plan import BackupPlan
from ...runtime.progress import Progress
from ..work import WorkOptions
from .spec import ExecutorSpec, parse_scheduler, resume_hint, workers_lost
from .task import SegmentDone, run_segment

log = logging.getLogger(__name__)
POLL_S = 0.25
WATCH_S = 1.0  # how often a running task looks at the stop event


def _distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError("--executor dask needs Dask's distributed package, which is not installed",
                         hint="pip install 'ddbvault[dask]'") from None
    return distributed


def connect(spec: ExecutorSpec):
    """A distributed.Client of spec.scheduler (close it). Raises DdbvaultError (exit 1), one line,
    when the scheduler does not answer within spec.connect_timeout_s."""
    distributed = _distributed()
    address = parse_scheduler(spec.scheduler or "")
    try:
        return distributed.Client(address, timeout=spec.connect_timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise DdbvaultError(f"cannot reach the Dask scheduler at {address} within {spec.connect_timeout_s:g} s "
                            f"({type(exc).__name__})",
                            hint="start it (`dask scheduler`) or check --scheduler's host and port") from None


def cluster_threads(spec: ExecutorSpec) -> int:
    """The worker threads the scheduler has now: a segment may run on each."""
    with connect(spec) as client:
        return sum(client.nthreads().values())


def run_on_dask(plan: BackupPlan, todo: list[int], spec: ExecutorSpec, work_options: WorkOptions,
                progress: Progress, cancelled: threading.Event) -> None:
    """Run `todo`'s segments as Dask tasks (see the module)."""
    distributed = _distributed()
    from distributed.scheduler import KilledWorker

    try:
        client = connect(spec)
    except DdbvaultError as exc:  # the plan is written: say how to carry on
        exc.hint = f"{exc.hint}; then {resume_hint(plan)}"
        raise
    with client:
        stop = distributed.Event(f"ddbvault-stop-{plan.backup_id}-{uuid.uuid4().hex[:8]}", client=client)
        run = _Run(client, plan, spec, work_options, stop.name)
        try:
            run.drain(todo, progress, cancelled, KilledWorker)
        except BaseException as exc:
            _stop_tasks(stop, client, list(run.running))
            if isinstance(exc, (KeyboardInterrupt, InterruptedRun)):
                raise InterruptedRun(f"backup {plan.url} interrupted; the Dask tasks were stopped and no "
                                     "manifest was written", hint=resume_hint(plan)) from None
            raise


def _stop_tasks(stop, client, futures: list) -> None:
    """Tell the running tasks to stop (each aborts its uploads) and cancel the others. Best
    effort: when the scheduler is gone, so are its tasks' connections, and they stop by
    themselves (their watcher fails)."""
    try:
        stop.set()
        client.cancel(futures, force=True)
    except Exception as exc:  # noqa: BLE001 - the error that stopped the run is the one to report
        log.warning("could not tell the Dask tasks to stop (%s)", type(exc).__name__)


class _Run:
    def __init__(self, client, plan: BackupPlan, spec: ExecutorSpec, work_options: WorkOptions, stop_name: str):
        self.client, self.plan, self.spec = client, plan, spec
        self.work_options, self.stop_name = work_options, stop_name
        self.running: dict = {}  # future -> segment
        self.queued: list[int] = []  # not submitted yet, the next one last
        self.killed: dict[int, int] = {}  # segment -> times its workers kept dying

    def submit(self, segment: int) -> None:
        key = f"ddbvault-{self.plan.backup_id}-{segment:06d}-{uuid.uuid4().hex[:8]}"
        future = self.client.submit(_dask_segment, self.plan.url, segment, self.work_options, self.stop_name,
                                    key=key, retries=self.spec.retries, pure=False)
        self.running[future] = segment

    def drain(self, todo: list[int], progress: Progress, cancelled: threading.Event, killed_worker) -> None:
        self.queued = list(reversed(todo))
        while self.queued or self.running:
            while self.queued and len(self.running) < self.plan.parallelism:
                self.submit(self.queued.pop())
            if cancelled.wait(POLL_S):
                raise InterruptedRun("cancelled")
            for future in [f for f in self.running if f.done()]:
                segment = self.running.pop(future)
                try:
                    done: SegmentDone = future.result()
                except killed_worker:
                    self._again(segment)
                    continue
                except CancelledError:  # not by us: the scheduler dropped it, or the connection
                    raise workers_lost(self.plan, self._left(segment),
                                       f"the Dask scheduler {self.spec.scheduler} cancelled segment {segment}'s "
                                       "task (was its connection lost?)") from None
                progress.advance(done.items, 0, done.consumed_rcu)  # a task reports no line bytes

    def _left(self, segment: int) -> list[int]:
        return [segment, *self.running.values(), *self.queued]

    def _again(self, segment: int) -> None:
        """The workers running `segment` kept dying: submit it again, or give up."""
        self.killed[segment] = self.killed.get(segment, 0) + 1
        if self.killed[segment] > self.spec.restarts:
            raise workers_lost(self.plan, self._left(segment),
                               f"the Dask workers running segment {segment} died {counted(self.killed[segment], 'time')}")
        log.warning("%s: the Dask workers running segment %d kept dying; submitting it again (%d of %d)",
                    self.plan.url, segment, self.killed[segment], self.spec.restarts)
        self.submit(segment)


def _dask_segment(url: str, segment: int, options: WorkOptions, stop_name: str) -> SegmentDone:
    """On a Dask worker: run one segment; a thread cancels it when the stop event is set."""
    import distributed

    cancelled, finished = threading.Event(), threading.Event()
    # The worker's client, taken here in the task's thread: the watcher thread has no context.
    stop = distributed.Event(stop_name, client=distributed.get_client())

    def watch() -> None:
        while not finished.is_set():
            try:
                if stop.wait(WATCH_S):
                    cancelled.set()
                    return
            except Exception as exc:  # noqa: BLE001 - the scheduler is gone: stop as if told to
                log.warning("segment %d: the Dask scheduler cannot be asked whether to stop (%s); stopping",
                            segment, type(exc).__name__)
                cancelled.set()
                return

    watcher = threading.Thread(target=watch, name="ddbvault-dask-stop", daemon=True)
    watcher.start()
    try:
        return run_segment(url, segment, options, cancelled)
    finally:
        finished.set()
