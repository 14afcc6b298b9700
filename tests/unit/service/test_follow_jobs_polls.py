"""service/follow_jobs.py: a pass that wrote a poll record shows when on the status state."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from ddbvault.service.follow_jobs import FollowState, record_pass


def test_the_state_keeps_when_a_pass_last_wrote_a_poll_record():
    state = FollowState("f", "orders")
    quiet = SimpleNamespace(records=0, segments=0, gaps=[], lag_s=None, shards=1, polls=0)
    record_pass(state, quiet, datetime(2026, 11, 30, 10, tzinfo=timezone.utc))
    assert state.last_poll_at is None
    polled = SimpleNamespace(**{**quiet.__dict__, "polls": 1})
    record_pass(state, polled, datetime(2026, 11, 30, 11, tzinfo=timezone.utc))
    assert state.to_dict()["last_poll_at"] == "2026-11-30T11:00:00Z" and state.last_segment_at is None
