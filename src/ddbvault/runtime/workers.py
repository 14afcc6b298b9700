"""Worker threads that drain a queue of work and stop together: backup's segments, restore's
data objects. One place for the start/join/cancel rules (the coordinator pattern of s3transfer).

- `handle(item)` runs on `count` threads until the queue is empty or the run is cancelled.
- The first failure (any exception not in `quiet`) is recorded and cancels the run, so the
  other workers stop at their next check and clean up (abort uploads, keep checkpoints).
  Every failure keeps its own class: the caller raises the first, the cause; the others are
  logged at INFO, shown with -v (class and, for ddbvault's own errors, message).
- A failure of the main thread while starting workers (e.g. RuntimeError "can't start new
  thread") is a failure like any other: recorded, the run cancelled, started workers joined.
- Only an interruption of the main thread (Ctrl-C, SIGTERM as KeyboardInterrupt, SystemExit)
  propagates: the run is cancelled, every worker is joined, and the caller names what stopped.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, TypeVar

from ..errors import DdbvaultError

T = TypeVar("T")
log = logging.getLogger(__name__)


def drain(todo: "queue.SimpleQueue[T]", handle: Callable[[T], None], *, count: int, name: str,
          cancelled: threading.Event, cancel: Callable[[], None],
          quiet: tuple[type[BaseException], ...] = ()) -> list[BaseException]:
    """Run the workers; returns the errors they raised, the first (the cause) first."""
    errors: list[BaseException] = []
    lock = threading.Lock()
    # Each worker sets its own event when it has cleaned up. Waiting on these rather than on
    # Thread.join() matters: a join interrupted by a signal can report a thread as finished
    # while it still runs, and the process would then exit mid-cleanup.
    finished = [threading.Event() for _ in range(count)]

    def worker(done: threading.Event) -> None:
        try:
            while not cancelled.is_set():
                try:
                    item = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    handle(item)
                except quiet:
                    return
                except BaseException as exc:  # the first failure stops everyone
                    with lock:
                        errors.append(exc)
                    cancel()
                    return
        finally:
            done.set()

    started: list[threading.Event] = []
    try:
        for i, done in enumerate(finished):
            threading.Thread(target=worker, args=(done,), name=f"{name}-{i}", daemon=True).start()
            started.append(done)
        _wait_all(started)
    except Exception as exc:  # e.g. no thread could be started: a failure, not an interruption
        with lock:
            errors.append(exc)
        cancel()
        _wait_all(started)
    except BaseException:  # interrupted: stop every started worker and wait for its cleanup
        cancel()
        _wait_all(started)
        raise
    _log_others(name, errors)
    return errors


def _log_others(name: str, errors: list[BaseException]) -> None:
    """Log the failures after the first (which the caller reports). Messages of exceptions that
    are not ddbvault's own could quote data, so only their class is logged."""
    for exc in errors[1:]:
        detail = f": {exc.message}" if isinstance(exc, DdbvaultError) else ""
        log.info("%s: another worker failed too: %s%s", name, type(exc).__name__, detail)


def _wait_all(events: list[threading.Event]) -> None:
    for event in events:
        while not event.wait(0.2):
            pass
