"""The one coordinator that backup, restore and verify share (runtime/coordinator.py): the
first failure cancels the run and wakes the limiter's waiters; a noticed cancellation is not an
error; an interruption of the main thread becomes InterruptedRun with the caller's message."""

from __future__ import annotations

import threading

import pytest

from ddbvault.capacity.limiter import CapacityLimiter, Unlimited
from ddbvault.errors import IntegrityError, InterruptedRun
from ddbvault.runtime.coordinator import Cancelled, Coordinator


def test_every_item_is_handled_once_by_the_workers():
    coordinator: Coordinator[int] = Coordinator(range(100), Unlimited())
    seen, lock = [], threading.Lock()

    def handle(item: int) -> None:
        with lock:
            seen.append(item)

    assert coordinator.run(handle, workers=4, name="test", interrupted=lambda: "x") == []
    assert sorted(seen) == list(range(100)) and not coordinator.cancelled.is_set()


def test_the_first_failure_cancels_and_wakes_a_worker_waiting_on_the_limiter():
    limiter = CapacityLimiter(1.0)  # starts empty: a 50-unit acquire would wait ~50 s
    coordinator: Coordinator[int] = Coordinator([0, 1], limiter)
    waiting = threading.Event()
    cause = IntegrityError("object 1 is corrupted")

    def handle(item: int) -> None:
        if item == 0:
            waiting.set()
            limiter.acquire(50.0)  # raises RateLimiterCancelled once the run is cancelled
            raise AssertionError("the limiter let a cancelled run through")
        waiting.wait(5)
        raise cause

    errors = coordinator.run(handle, workers=2, name="test", interrupted=lambda: "x")
    assert errors == [cause] and coordinator.errors == [cause] and coordinator.cancelled.is_set()


def test_a_noticed_cancellation_is_not_an_error():
    coordinator: Coordinator[int] = Coordinator(range(3), Unlimited())
    coordinator.cancel()

    def handle(item: int) -> None:
        coordinator.check()

    assert coordinator.run(handle, workers=1, name="test", interrupted=lambda: "x") == []
    with pytest.raises(Cancelled):
        coordinator.check()


def test_an_interrupted_main_thread_raises_interrupted_run_with_the_callers_message(monkeypatch):
    import ddbvault.runtime.coordinator as module

    def interrupted_drain(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "drain", interrupted_drain)
    coordinator: Coordinator[int] = Coordinator([1], Unlimited())
    with pytest.raises(InterruptedRun) as raised:
        coordinator.run(lambda item: None, workers=1, name="test", interrupted=lambda: "backup of t interrupted")
    assert raised.value.message == "backup of t interrupted"
