"""The one place ddbvault retries AWS calls: exponential backoff with full jitter.

Two layers, on purpose:
- botocore's "standard" retry mode (configured in aws/session.py, 3 attempts) absorbs brief
  transport faults inside each call;
- `call_with_retries` here gives throttling, 5xx and connection resets a longer, patient budget
  (default 10 attempts, delays up to 20 s), and is what the scan loop and uploads use.

Both layers feed one RetryStats: `call_with_retries` records the retries it makes, and
`count_botocore_retries` hooks a client's events so the attempts botocore repeats inside one
call are counted too, classified the same way (throttle, else transient).

When the budget runs out the last exception propagates unchanged; the error translator turns
it into RetriesExhaustedError. Nothing is ever retried without a delay, and nothing is dropped.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

log = logging.getLogger(__name__)
T = TypeVar("T")

THROTTLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling",
    "RequestLimitExceeded", "TooManyRequestsException", "SlowDown", "RequestThrottled",
    "RequestThrottledException", "ThrottledException", "BandwidthLimitExceeded",
    # DynamoDB Streams' throttle ("Your request rate is too high", GetRecords/GetShardIterator);
    # DynamoDB's control plane uses it for too many table operations at once: waiting helps too
    "LimitExceededException",
})
TRANSIENT_CODES = frozenset({
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable",
    "ServiceUnavailableException", "RequestTimeout", "RequestTimeoutException",
    "PriorRequestNotComplete",
})


# S3 answers a HEAD request without a body, so botocore names its error by the status alone;
# S3's throttling answer is "503 Slow Down", so a bare "503" counts as throttling.
BARE_THROTTLE_STATUS = "503"


def is_throttle_code(code: str | None) -> bool:
    return code in THROTTLE_CODES or code == BARE_THROTTLE_STATUS


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in THROTTLE_CODES or code in TRANSIENT_CODES or status >= 500
    return isinstance(exc, (ConnectionError, HTTPClientError))


def is_throttle(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and is_throttle_code(exc.response.get("Error", {}).get("Code"))


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    base_delay: float = 0.1
    max_delay: float = 20.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**attempt)]; attempt counts from 0."""
        return rand() * min(self.max_delay, self.base_delay * (2 ** attempt))


class RetryStats:
    """Counts retries across threads, for the run's summary: every failed attempt that was
    followed by another attempt, by botocore or by call_with_retries. A retry is also counted
    in the RetryStats `attributed_to()` set for the calling context (a segment attempt's own
    count, recorded in its result), when there is one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.throttles = 0
        self.transient = 0

    def record(self, exc: BaseException) -> None:
        self.add(throttle=is_throttle(exc))

    def add(self, *, throttle: bool) -> None:
        self._add(throttle)
        extra = _ATTRIBUTED.get()
        if extra is not None and extra is not self:
            extra._add(throttle)

    def _add(self, throttle: bool) -> None:
        with self._lock:
            if throttle:
                self.throttles += 1
            else:
                self.transient += 1


# The RetryStats of the work the current context does (a segment attempt), beside the run's own:
# botocore's hooks and call_with_retries run in the calling thread, so a contextvar reaches them.
# Work handed to another thread carries it with contextvars.copy_context().run.
_ATTRIBUTED: contextvars.ContextVar[RetryStats | None] = contextvars.ContextVar("ddbvault_retry_stats",
                                                                                default=None)


@contextlib.contextmanager
def attributed_to(stats: RetryStats) -> Iterator[RetryStats]:
    """Within the block (this context), every retry counted anywhere is also counted in `stats`."""
    token = _ATTRIBUTED.set(stats)
    try:
        yield stats
    finally:
        _ATTRIBUTED.reset(token)


_ATTEMPTS = "ddbvault_attempts"  # key in botocore's per-call context: one entry per attempt


def _attempt_received(context: dict, parsed_response: dict | None = None, **_) -> None:
    """botocore's `response-received`, once per attempt (an answer or a transport error):
    remember whether it was a throttle."""
    code = ((parsed_response or {}).get("Error") or {}).get("Code")
    context.setdefault(_ATTEMPTS, []).append(is_throttle_code(code))


def count_botocore_retries(client, stats: RetryStats) -> None:
    """Count in `stats` the attempts botocore's own retry mode repeats inside each call of
    `client`: every attempt of a call but its last was retried. The call ends with
    `after-call` (an answer, error or not) or `after-call-error` (a transport error)."""
    def call_done(context: dict, **_) -> None:
        for throttle in context.pop(_ATTEMPTS, [])[:-1]:
            stats.add(throttle=throttle)

    events = client.meta.events
    events.register("response-received", _attempt_received)
    events.register("after-call", call_done)
    events.register("after-call-error", call_done)


def call_with_retries(fn: Callable[[], T], *, policy: RetryPolicy, what: str,
                      stats: RetryStats | None = None,
                      sleep: Callable[[float], object] | None = None,
                      cancelled: threading.Event | None = None) -> T:
    """Call fn() until it succeeds or a non-retryable error or the attempt budget ends it.

    `sleep` defaults to waiting on `cancelled`, so a cancelled run stops waiting at once; the
    caller checks `cancelled` itself after we return or raise.
    """
    event = cancelled or threading.Event()
    wait = sleep or event.wait
    for attempt in range(policy.attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_retryable(exc) or attempt == policy.attempts - 1 or event.is_set():
                raise
            if stats:
                stats.record(exc)
            delay = policy.delay(attempt)
            log.debug("%s: %s, retry %d/%d in %.2fs", what, type(exc).__name__, attempt + 1,
                      policy.attempts - 1, delay)
            wait(delay)
    raise AssertionError("unreachable")
