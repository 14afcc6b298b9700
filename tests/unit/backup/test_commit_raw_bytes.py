"""backup/commit.raw_bytes_of: a committed backup's raw_bytes is summed from its segments'
stored results only when each is there and is the winner its manifest names; else unknown."""

from __future__ import annotations


import pytest

from ddbvault.backup.commit import raw_bytes_of
from ddbvault.format.manifest import Manifest
from ddbvault.format.plan import SegmentResult

ID = "20261127T081900Z-3f9a1c"
WINNERS = ["0123456789abcdef", "fedcba9876543210"]


def _result(segment: int, raw: int, attempt_id: str | None = None) -> SegmentResult:
    return SegmentResult(ID, segment, attempt_id or WINNERS[segment], "2026-11-27T08:19:00Z",
                         "2026-11-27T08:19:05Z", 5.0, 10, raw, 1.5, False, 0, 0)


def _manifest(segments: list[dict] | None) -> Manifest:
    return Manifest(tool_version="0", backup_id=ID, source={}, schema={}, options={}, started_at="",
                    finished_at="", objects=[], consumed_capacity={}, segments=segments)


RECORDS = [{"segment": s, "items": 10, "objects": 0, "consumed_rcu": 1.5, "seconds": 5.0, "attempt_id": a,
            "attempts": 1} for s, a in enumerate(WINNERS)]


def test_the_winners_results_are_summed():
    assert raw_bytes_of(_manifest(RECORDS), {0: _result(0, 700), 1: _result(1, 300)}, 2) == 1000


@pytest.mark.parametrize("results, manifest", [
    ({0: _result(0, 700)}, _manifest(RECORDS)),                                   # a result is gone
    ({0: _result(0, 700), 1: _result(1, 300, "1111111111111111")}, _manifest(RECORDS)),  # not the winner
    ({0: _result(0, 700), 1: _result(1, 300)}, _manifest(None)),                  # no segments record
    ({0: _result(0, 700), 1: _result(1, 300)}, _manifest(RECORDS[:1])),          # a record short of the plan
])
def test_anything_short_of_proof_is_unknown(results, manifest):
    assert raw_bytes_of(manifest, results, 2) is None


def test_a_zero_proven_is_zero_not_unknown():
    empty = {0: _result(0, 0), 1: _result(1, 0)}
    assert raw_bytes_of(_manifest(RECORDS), empty, 2) == 0
