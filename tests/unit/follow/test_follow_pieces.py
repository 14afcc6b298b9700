"""follow/: the pieces that need no server — options, covered_from, the vault read back."""

from __future__ import annotations

import pytest

from ddbvault.errors import IntegrityError, UsageError
from ddbvault.follow import FollowOptions
from ddbvault.follow.follower import covered_from
from ddbvault.follow.vault_state import read_log_state
from ddbvault.format import change_log as cl
from ddbvault.storage import LocalStore

LABEL = "2026-11-30T10:00:00.000"


@pytest.mark.parametrize("changes, option", [
    ({"segment_max_records": 0}, "segment_max_records"),
    ({"segment_max_records": 100_001}, "segment_max_records"),
    ({"poll_interval_s": float("nan")}, "poll_interval_s"),
    ({"segment_max_seconds": -1}, "segment_max_seconds"),
    ({"max_seconds": float("inf")}, "--duration"),
    ({"acl": "everyone"}, "--acl"),
    ({"kms_key_id": "k"}, "--kms-key-id"),
])
def test_options_out_of_range_are_refused(changes, option):
    with pytest.raises(UsageError, match=option):
        FollowOptions(table="orders", destination="/tmp/x", **changes).validate()


def test_covered_from_is_the_streams_creation_within_a_day_else_23_hours_back():
    now = 1_796_032_800.0
    assert covered_from(now - 3600.5, now) == now - 3601
    assert covered_from(now - 86_400, now) == now - 86_400
    assert covered_from(now - 86_401, now) == now - 82_800
    assert covered_from(None, now) == now - 82_800


def test_the_vault_read_back_as_checkpoints(tmp_path):
    store = LocalStore(str(tmp_path))
    for first, last in ((1, 5), (6, 9), (3, 12)):  # overlapping: the largest last sequence wins
        store.put_new(cl.segment_key("p", "orders", LABEL, "shard-a", first, last), b"")
    store.put_new(cl.segment_key("p", "orders", LABEL, "shard-b", 20, 30), b"")
    store.put_new(cl.closed_key("p", "orders", LABEL, "shard-b"), b"")
    store.put_new(cl.start_key("p", "orders", LABEL), b"")
    store.put_new(cl.gap_key("p", "orders", 1_796_032_800, "abcdef"), b"")
    store.put_new("p/orders/20261130T100000Z-abcdef/manifest.json", b"")  # a backup beside it
    [state] = read_log_state(store, "p", "orders").values()
    assert state.label == LABEL and state.has_start
    assert (state.shards["shard-a"].last_seq, state.shards["shard-a"].closed) == (12, False)
    assert (state.shards["shard-b"].last_seq, state.shards["shard-b"].closed) == (30, True)
    assert state.newest_segment() == cl.segment_key("p", "orders", LABEL, "shard-b", 20, 30)


@pytest.mark.parametrize("key", [f"{LABEL}/shard-a/notes.txt", "readme", f"{LABEL}/shard-a/{1:041d}-{2:041d}.jsonl.gz"])
def test_a_foreign_key_under_changes_is_refused(tmp_path, key):
    store = LocalStore(str(tmp_path))
    store.put_new(cl.changes_prefix("p", "orders") + key, b"")
    with pytest.raises(IntegrityError, match="is not a change-log key") as caught:
        read_log_state(store, "p", "orders")
    assert caught.value.hint
