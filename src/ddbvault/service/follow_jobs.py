"""Continuous backup in the service: `kind: follow` jobs (service/config.py).

A follow job runs the follower (follow/: follow_table) as back-to-back PASSES, each bounded by
the job's `run_seconds` (FollowOptions.max_seconds; default 30 s), in a loop on one scheduler
thread per job (`follow_forever`), rather than as one call that never returns. Why:
- shutdown: at SIGTERM the service stops starting passes; the pass under way ends within
  run_seconds, inside the default shutdown grace (60 s). A pass cut short is safe anyway: the
  vault is the checkpoint and every object is create-only, so the next start continues after the
  last segment it finds.
- state: each pass's FollowResult updates the status page, /metrics and the notifications, so
  they are never older than run_seconds; one endless call would report nothing until it ended.
- failures: a pass that raises is recorded, counted and notified like a failed backup, and the
  next pass starts after a backoff (5 s, doubling to 5 min), so a lasting fault (a revoked role,
  a disabled stream) neither kills the job's thread nor floods the notifiers.
- cost: a pass starts from the checkpoint the job's previous pass left in memory
  (FollowState.memory, follow/vault_state.FollowMemory: each shard's position, and the newest
  object's and poll record's time, so a pass knows when the next poll record is due) instead of
  listing the whole change log;
  the first pass of the service, and the pass after a failed one, list it.
`ddbvault run` runs one pass with `until_idle` (stop once the stream has nothing new).

Each gap a pass reports is counted (ddbvault_follow_gaps_total), kept on the status page (the last
RECENT_GAPS) and sent once as a GapEvent (notify/event.py) to the job's notifiers.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..aws.session import Principal
from ..follow.vault_state import FollowMemory
from ..notify.event import GapEvent
from ..storage.base import DEFAULT_ACL
from .config import JobConfig, JobOptions

log = logging.getLogger(__name__)
RECENT_GAPS = 5
BACKOFF_S = (5.0, 300.0)  # first wait after a failed pass, and the most it doubles to
MIN_PASS_S = 1.0


@dataclass
class FollowState:
    """What the status page shows of a follow job: totals since the service started, the last
    pass's lag (seconds from the newest record's change time to its segment; None: nothing
    pending), when a segment was last written, and the recent gaps. Times are ISO 8601 UTC."""

    job: str
    table: str
    state: str = "starting"  # "following", "failed"
    passes: int = 0
    records: int = 0
    segments: int = 0
    gaps: int = 0
    lag_s: float | None = None
    shards: int | None = None
    last_pass_at: str | None = None
    last_segment_at: str | None = None
    last_poll_at: str | None = None  # when a pass last wrote a poll record (a quiet table's proof of coverage)
    error: str | None = None
    hint: str | None = None
    recent_gaps: deque = field(default_factory=lambda: deque(maxlen=RECENT_GAPS))
    # The follower's checkpoint from the last pass (follow/vault_state.py); not shown anywhere.
    memory: FollowMemory = field(default_factory=FollowMemory, repr=False)

    def to_dict(self) -> dict:
        data = {k: v for k, v in self.__dict__.items() if k not in ("recent_gaps", "memory")}
        return {**data, "recent_gaps": list(self.recent_gaps)}


def follow_options(job: JobConfig, options: JobOptions, *, until_idle: bool):
    """The FollowOptions of one pass of `job`: its table, destination, region, roles, ACL and SSE."""
    from ..follow import FollowOptions

    acl = DEFAULT_ACL if options.acl is None else (None if options.acl == "none" else options.acl)
    return FollowOptions(
        table=job.table, destination=options.destination, until_idle=until_idle, max_seconds=job.pass_seconds,
        acl=acl, sse=options.sse, kms_key_id=options.kms_key_id,
        table_principal=Principal(region=options.region, role_arn=options.source_role,
                                  session_name="ddbvault-follow-source"),
        vault_principal=Principal(region=options.region, role_arn=options.dest_role,
                                  external_id=options.external_id, session_name="ddbvault-follow-dest"))


def run_pass(job: JobConfig, options: JobOptions, *, until_idle: bool, cancelled: threading.Event | None = None,
             memory: FollowMemory | None = None):
    """One pass of the follower (raises what follow_table raises); `cancelled` ends it early
    (the service's cancel_all after its shutdown grace), its buffers written first. `memory`:
    the job's FollowMemory, so a pass starts from the previous pass's checkpoint instead of
    listing the change log (the first pass, and one after a failed pass, list it)."""
    from ..follow import follow_table

    return follow_table(follow_options(job, options, until_idle=until_idle), cancelled=cancelled, memory=memory)


def record_pass(state: FollowState, result, now: datetime | None = None) -> list[GapEvent]:
    """Fold one pass's FollowResult into `state`; returns one GapEvent per gap it reported."""
    now_text = _iso(now or datetime.now(timezone.utc))
    state.state, state.error, state.hint = "following", None, None
    state.passes += 1
    state.records += result.records
    state.segments += result.segments
    state.lag_s = result.lag_s
    state.shards = getattr(result, "shards", None)
    state.last_pass_at = now_text
    if result.segments:
        state.last_segment_at = now_text
    if getattr(result, "polls", 0):
        state.last_poll_at = now_text
    events = [GapEvent.from_gap(state.job, state.table, gap) for gap in result.gaps]
    state.gaps += len(events)
    state.recent_gaps.extend(event.to_dict() for event in events)
    return events


def record_failure(state: FollowState, message: str, hint: str | None, now: datetime | None = None) -> None:
    state.state, state.error, state.hint = "failed", message, hint
    state.passes += 1
    state.last_pass_at = _iso(now or datetime.now(timezone.utc))


def follow_forever(runner, name: str, stopping: threading.Event) -> None:
    """Passes of job `name` (runner.run) until `stopping` is set; a failed pass is followed by
    a backoff wait (module docstring). Never raises: runner.run records every failure."""
    wait = BACKOFF_S[0]
    while not stopping.is_set():
        record = runner.run(name)
        if record.outcome == "failure":
            log.warning("job %s: next pass in %.0f s", name, wait)
            stopping.wait(wait)
            wait = min(wait * 2, BACKOFF_S[1])
        else:
            wait = BACKOFF_S[0]
            if (record.seconds or 0) < MIN_PASS_S:  # a pass that returned at once: no busy loop
                stopping.wait(MIN_PASS_S)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
