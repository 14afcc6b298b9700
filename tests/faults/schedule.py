"""Seeded fault schedules for the fault suite: which request of a run gets which fault.

Contract: a FaultSchedule is the `faults` callable of tests/support/throttle_proxy.py. Its
decision for a request depends only on (seed, phase, service operation, how many requests of
that operation came before), never on wall time or thread interleaving, so a failing seed
replays the same fault mix; with one worker it replays the same sequence. A `kill_at` request
number sends SIGKILL to the proxy's `kill_pid` instead (request numbers count every request).
`only=(operation, kind)` injects exactly one fault: `kind` into the first request of `operation`.
Everything it decided is kept in `injected` (a Counter of fault kinds) and `log`.
"""

from __future__ import annotations

import random
import threading
from collections import Counter

from tests.support.throttle_proxy import Fault, Request

S3_CONDITIONAL_WRITES = frozenset({"PutObject", "CompleteMultipartUpload"})
WITH_BODY = frozenset({"PutObject", "UploadPart", "CompleteMultipartUpload"})
# The kinds a request can get, by what it is. Every kind applies to every DynamoDB call (all are
# POSTs with a body) except the S3-only 412 and 409.
GENERAL = ("throttle", "error", "reset_response", "slow", "lost")
# Faults a client must retry: each one should show up in the run's retry counts.
RETRIED = {"throttle": "throttle", "error": "transient", "reset_request": "transient",
           "reset_response": "transient", "lost": "transient"}


def kinds_for(request: Request) -> tuple[str, ...]:
    kinds = GENERAL
    if request.service == "dynamodb" or request.op in WITH_BODY:
        kinds += ("reset_request",)
    if request.op in S3_CONDITIONAL_WRITES:
        kinds += ("precondition", "conflict")
    return kinds


class FaultSchedule:
    def __init__(self, seed: int, phase: str, *, rate: float, kill_at: int | None = None,
                 max_faults: int = 40, only: tuple[str, str] | None = None):
        self.seed, self.phase, self.rate, self.kill_at, self.max_faults = seed, phase, rate, kill_at, max_faults
        self.only = only
        self.injected: Counter[str] = Counter()
        self.log: list[str] = []
        self._per_op: Counter[str] = Counter()
        self._first: int | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Fault | None:
        with self._lock:
            self._first = self._first or request.n
            index = self._per_op[request.op]
            self._per_op[request.op] += 1
            if self.kill_at is not None and request.n - self._first + 1 == self.kill_at:
                return self._note(request, Fault("kill"))
            if self.only:
                return self._note(request, Fault(self.only[1])) if self.only[0] == request.op and index == 0 else None
            rng = random.Random(f"{self.seed}/{self.phase}/{request.op}/{index}")
            if sum(self.injected.values()) >= self.max_faults or rng.random() >= self.rate:
                return None
            kind = rng.choice(kinds_for(request))
            fault = Fault(kind, status=rng.choice((500, 503)) if kind == "error" else 500,
                          delay_s=round(rng.uniform(0.05, 0.8), 3) if kind == "slow" else 0.0)
            return self._note(request, fault)

    def _note(self, request: Request, fault: Fault) -> Fault:
        self.injected[fault.kind] += 1
        detail = f"/{fault.status}" if fault.kind == "error" else f"/{fault.delay_s}s" if fault.kind == "slow" else ""
        self.log.append(f"#{request.n} {request.service}:{request.op} {fault.kind}{detail}")
        return fault

    @property
    def requests_seen(self) -> int:
        return sum(self._per_op.values())

    def expected_retries(self) -> Counter[str]:
        """How many retries of each kind ("throttle", "transient") the injected faults call for."""
        expected: Counter[str] = Counter()
        for kind, count in self.injected.items():
            if kind in RETRIED:
                expected[RETRIED[kind]] += count
        return expected
