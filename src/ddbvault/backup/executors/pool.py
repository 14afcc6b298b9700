"""The "processes" executor: a backup's segments on a local pool of P processes.

- Started with multiprocessing's "spawn": boto3 sessions, clients and their connection pools are
  not fork-safe, so a child starts a fresh interpreter and makes its own. Not "forkserver",
  though it would import ddbvault once instead of once per child: its server keeps the
  environment of the moment it started, so a later change of AWS_* variables (another profile,
  endpoint or region in the same process) would silently not reach the children.
- One task per segment, at most 2 x P submitted at once (P running, P queued), so memory stays
  bounded by P, not by the segment count, and a slow segment holds back no other.
- Each child reports every page's items, bytes and RCU on a queue; a thread here passes them to
  the run's Progress.
- A child that dies (SIGKILL, the OOM killer) breaks the pool (BrokenProcessPool) and with it
  every segment then in flight. Not fatal by itself: the segments without a result run again in
  a fresh pool, at most spec.restarts times, each restart logged; then DdbvaultError names them.
- Stopping (a failed segment, `cancelled`, Ctrl-C or SIGTERM here): the queued tasks are dropped,
  each child gets SIGTERM, which cancels its segment (its uploads are aborted), and is killed
  if it has not exited within STOP_GRACE_S.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue as queues
import signal
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from ...errors import InterruptedRun
from ...plural import counted
from ...format.plan import BackupPlan
from ...runtime.progress import Progress
from ..work import WorkOptions
from .spec import ExecutorSpec, resume_hint, workers_lost
from .task import SegmentDone, run_segment

log = logging.getLogger(__name__)
START_METHOD = "spawn"
STOP_GRACE_S = 30.0  # how long a stopped child may take to abort its uploads before SIGKILL
POLL_S = 0.25  # how often the parent looks at `cancelled` while segments run

# In a child: set by SIGTERM or SIGINT (_child_start), read by work_segments; the progress queue.
_child_cancelled = threading.Event()
_child_events: multiprocessing.Queue | None = None


def run_in_pool(plan: BackupPlan, todo: list[int], spec: ExecutorSpec, work_options: WorkOptions,
                progress: Progress, cancelled: threading.Event) -> None:
    """Run `todo`'s segments on a pool of min(spec.processes or plan.parallelism,
    plan.parallelism) processes; restart the pool after a child died (see the module)."""
    size = min(spec.processes or plan.parallelism, plan.parallelism)
    if spec.processes and spec.processes > size:  # e.g. --resume of a backup planned for fewer
        log.warning("%s: the plan shares its read cap among %d workers, so %d processes run, not %d",
                    plan.url, plan.parallelism, size, spec.processes)
    remaining = sorted(todo)
    for restart in range(spec.restarts + 1):
        remaining = _Generation(plan, work_options, min(size, len(remaining)), progress, cancelled).run(remaining)
        if not remaining:
            return
        if restart < spec.restarts:
            log.warning("%s: a worker process died; running the %d segments left without a result in a "
                        "fresh pool (restart %d of %d)", plan.url, len(remaining), restart + 1, spec.restarts)
    raise workers_lost(plan, remaining, f"worker processes died {counted(spec.restarts + 1, 'time')}")


class _Generation:
    """One pool: runs segments until they are all done, or the pool broke (then run() returns
    the segments that did not finish), or a segment failed or the run was stopped (raises)."""

    def __init__(self, plan: BackupPlan, work_options: WorkOptions, size: int, progress: Progress,
                 cancelled: threading.Event):
        self.plan, self.work_options, self.size = plan, work_options, size
        self.progress, self.cancelled = progress, cancelled
        self.context = multiprocessing.get_context(START_METHOD)

    def run(self, segments: list[int]) -> list[int]:
        events = self.context.Queue()
        done = threading.Event()
        forwarder = threading.Thread(target=_forward, args=(events, self.progress, done),
                                     name="ddbvault-pool-progress", daemon=True)
        forwarder.start()
        pool = ProcessPoolExecutor(max_workers=self.size, mp_context=self.context,
                                   initializer=_child_start, initargs=(events,))
        try:
            lost = self._drain(pool, deque(segments))
        except BaseException as exc:
            _stop(pool)
            if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, InterruptedRun)):
                raise InterruptedRun(f"backup {self.plan.url} interrupted; the worker processes were stopped and "
                                     "no manifest was written", hint=resume_hint(self.plan)) from None
            raise
        finally:
            done.set()
            forwarder.join(timeout=5)
            events.close()
            events.cancel_join_thread()
        pool.shutdown(wait=True)
        return lost

    def _drain(self, pool: ProcessPoolExecutor, todo: deque[int]) -> list[int]:
        running: dict[Future, int] = {}
        while todo or running:
            while todo and len(running) < 2 * self.size:
                segment = todo.popleft()
                running[pool.submit(_child_segment, self.plan.url, segment, self.work_options)] = segment
            finished, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            if self.cancelled.is_set():
                raise InterruptedRun("cancelled")
            for future in finished:
                segment = running.pop(future)
                try:
                    future.result()
                except BrokenProcessPool:  # every future of the pool fails so: all of them are lost
                    return sorted([segment, *running.values(), *todo])
        return []


def _stop(pool: ProcessPoolExecutor) -> None:
    """Drop the queued tasks; SIGTERM every child (it cancels its segment and aborts its uploads);
    SIGKILL those still alive after STOP_GRACE_S. The pool's processes are a private attribute of
    ProcessPoolExecutor (stable since 3.2); it has no public way to stop a running task."""
    children = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for child in children:
        if child.is_alive():
            child.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
        if child.is_alive():
            log.warning("worker process %s did not stop within %.0f s; killing it", child.pid, STOP_GRACE_S)
            child.kill()
            child.join(5)


def _forward(events: multiprocessing.Queue, progress: Progress, done: threading.Event) -> None:
    """Pass the children's page counts to `progress` until `done` and the queue is empty."""
    while True:
        try:
            items, size, units = events.get(timeout=0.2)
        except queues.Empty:
            if done.is_set():
                return
            continue
        except (EOFError, OSError, ValueError):  # the queue was closed under us
            return
        progress.advance(items, size, units)


# --- in the child ------------------------------------------------------------------------------

class _QueueProgress(Progress):
    """A child's Progress: every page's counts go to the parent's queue."""

    def advance(self, items: int, size_bytes: int, capacity_units: float) -> None:
        if _child_events is not None:
            _child_events.put((items, size_bytes, capacity_units))


def _child_start(events: multiprocessing.Queue) -> None:
    """Pool initializer: SIGTERM (from _stop) and SIGINT (Ctrl-C reaches the whole process
    group) cancel the child's segment instead of killing it mid-upload."""
    global _child_events
    _child_events = events
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: _child_cancelled.set())


def _child_segment(url: str, segment: int, options: WorkOptions) -> SegmentDone:
    return run_segment(url, segment, options, _child_cancelled, _QueueProgress())
