"""The coordinator of one run's workers: a queue of work, the shared capacity limiter,
cancellation, a lock for the run's counters, and the errors the workers raised.

Backup drains segments (backup/segments.py), restore drains data objects (restore/writer.py),
verify drains data objects with one worker (verify/__init__.py). All three stop the same way:

- the first failure cancels the run: the cancelled event is set and the limiter wakes every
  waiter with RateLimiterCancelled, so each worker stops at its next check and cleans up;
- a worker that notices the cancellation raises `Cancelled`, which is not an error of its own;
- an interruption of the main thread (Ctrl-C, SIGTERM delivered as KeyboardInterrupt) joins
  every worker, then raises InterruptedRun with the caller's message (exit 130).

The thread rules themselves (start, join, which failure is the cause) are runtime/workers.py.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Generic, Iterable, TypeVar

from ..capacity.limiter import RateLimiterCancelled
from ..errors import InterruptedRun
from .workers import drain

T = TypeVar("T")


class Cancelled(Exception):
    """A worker noticed the run was cancelled; not an error of its own."""


class Coordinator(Generic[T]):
    """Shared state of one run's workers. `limiter` is the run's capacity limiter
    (capacity/limiter.py); `cancelled` may be shared with a caller that wants to stop the run."""

    def __init__(self, work: Iterable[T], limiter, cancelled: threading.Event | None = None):
        self.todo: queue.SimpleQueue[T] = queue.SimpleQueue()
        for item in work:
            self.todo.put(item)
        self.limiter = limiter
        self.cancelled = cancelled or threading.Event()
        self.lock = threading.Lock()  # guards the counters the caller keeps on its own run object
        self.errors: list[BaseException] = []

    def cancel(self) -> None:
        """Stop every worker at its next check; waiters on the limiter wake at once."""
        self.cancelled.set()
        self.limiter.cancel()

    def check(self) -> None:
        """Raise Cancelled if the run was cancelled."""
        if self.cancelled.is_set():
            raise Cancelled()

    def run(self, handle: Callable[[T], None], *, workers: int, name: str,
            interrupted: Callable[[], str]) -> list[BaseException]:
        """Run `handle` on `workers` threads until the queue is empty or the run is cancelled.
        Returns the failures, the cause first (also kept in `errors`). Raises InterruptedRun,
        with the message `interrupted()` gives, when the main thread is interrupted."""
        try:
            self.errors = drain(self.todo, handle, count=workers, name=name, cancelled=self.cancelled,
                                cancel=self.cancel, quiet=(Cancelled, RateLimiterCancelled))
        except BaseException:  # KeyboardInterrupt / SystemExit in the main thread: stopped cleanly
            raise InterruptedRun(interrupted()) from None
        return self.errors
