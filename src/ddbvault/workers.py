"""Worker threads that drain a queue of work and stop together: backup's segments, restore's
data objects. One place for the start/join/cancel rules (the coordinator pattern of s3transfer).

- `handle(item)` runs on `count` threads until the queue is empty or the run is cancelled.
- The first failure (any exception not in `quiet`) is recorded and cancels the run, so the
  other workers stop at their next check and clean up (abort uploads, keep checkpoints).
- If the main thread is interrupted (Ctrl-C, SIGTERM as KeyboardInterrupt), the run is cancelled,
  every worker is joined, and the interruption propagates to the caller, who names what stopped.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, TypeVar

T = TypeVar("T")


def drain(todo: "queue.SimpleQueue[T]", handle: Callable[[T], None], *, count: int, name: str,
          cancelled: threading.Event, cancel: Callable[[], None],
          quiet: tuple[type[BaseException], ...] = ()) -> list[BaseException]:
    """Run the workers; returns the errors they raised, the first (the cause) first."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
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

    threads = [threading.Thread(target=worker, name=f"{name}-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)
    except BaseException:
        cancel()
        for thread in threads:
            thread.join()
        raise
    return errors
