"""A token bucket measured in capacity units, shared by every scan segment (invariant 4).

Contract:
- `acquire(units)` blocks until the bucket holds `min(units, burst)` tokens, then takes `units`
  (the balance may go negative for a request larger than the burst; later callers wait it off).
- `settle(reserved, actual)` corrects a reservation with what DynamoDB reported in
  ConsumedCapacity, so the bucket is charged with real consumption, not with estimates.
- The bucket starts empty, so no window of one second ever sees more than
  `rate * (1 + burst_seconds)` units.
- Thread-safe. Time and sleep are injected so tests run on a fake clock.
- `cancel()` wakes every waiter, which then raises `RateLimiterCancelled`.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


class RateLimiterCancelled(Exception):
    """Raised by acquire() after cancel(): the run is stopping."""


class TokenBucket:
    def __init__(self, rate: float, burst_seconds: float = 0.2, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None):
        if not 0 < rate < math.inf:
            raise ValueError(f"rate must be a finite number > 0, got {rate}")
        self.rate = float(rate)
        self.burst = max(self.rate * burst_seconds, 1.0)
        self._clock = clock
        self._tokens = 0.0
        self._last = clock()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        # Default sleep waits on the cancel event, so cancel() interrupts a waiting worker.
        self._sleep = sleep or (lambda seconds: self._cancelled.wait(seconds))
        self.waited_seconds = 0.0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now

    def acquire(self, units: float) -> None:
        need = min(max(units, 0.0), self.burst)
        while True:
            if self._cancelled.is_set():
                raise RateLimiterCancelled()
            with self._lock:
                self._refill()
                if self._tokens >= need - 1e-9:  # tolerance: float refill may land just short
                    self._tokens -= units
                    return
                wait = (need - self._tokens) / self.rate
            self.waited_seconds += wait
            self._sleep(wait)

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self._refill()
            self._tokens = min(self.burst, self._tokens - (actual - reserved))

    def cancel(self) -> None:
        self._cancelled.set()


class Unlimited:
    """The same interface with no limit (used when the rate is infinite)."""

    rate = math.inf
    burst = math.inf
    waited_seconds = 0.0

    def acquire(self, units: float) -> None:
        return None

    def settle(self, reserved: float, actual: float) -> None:
        return None

    def cancel(self) -> None:
        return None


def bucket_for(rate: float) -> "TokenBucket | Unlimited":
    """The limiter for `rate` capacity units per second: math.inf means no limit."""
    return Unlimited() if math.isinf(rate) else TokenBucket(rate)
