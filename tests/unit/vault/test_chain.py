"""vault/chain.py through ChangeLog.base_for on hand-built logs: a hole in a shard's chain of
segments (a segment expired, deleted or never written) is a "missing" gap that restore --at
refuses to cross, while two followers' overlapping chains that cover each other's holes pass."""

from __future__ import annotations

import os

import pytest

from ddbvault.errors import UsageError
from ddbvault.format.dataline import KeySpec
from ddbvault.storage.local import LocalStore
from ddbvault.vault.change_log import Base, newest_changes, read_change_log, summary, utc_text
from tests.support.change_log_vault import T0, TABLE, put_closed, put_segment, put_start, record

SPEC = KeySpec((("pk", "S"), ("sk", "N")))
EARLY = Base("early", T0 + 2, T0 + 3)  # ended before every segment but the first's end


@pytest.fixture()
def store(tmp_path) -> LocalStore:
    return LocalStore(str(tmp_path))


def records(first: int, last: int, *, at: int = 0) -> list[bytes]:
    """Records first..last, record n stamped T0 + n + at, on keys k0..k2."""
    return [record(n, T0 + n + at, f"k{n % 3}", {"v": {"N": str(n)}}) for n in range(first, last + 1)]


def remove(store: LocalStore, key: str) -> None:
    """What a lifecycle expiry or a person does to a segment."""
    os.remove(os.path.join(store.root, key))


def three_segments(store: LocalStore, **shard) -> list[str]:
    """One shard, 1..10 (from its start), 11..20 and 21..30, each continuing from the one before."""
    put_start(store, T0)
    return [put_segment(store, records(1, 10), **shard), put_segment(store, records(11, 20), continues="10", **shard),
            put_segment(store, records(21, 30), continues="20", **shard)]


def test_a_segment_removed_in_the_middle_refuses_a_restore_across_it_not_one_before(store):
    keys = three_segments(store)
    remove(store, keys[1])
    log = read_change_log(store, "", TABLE)
    assert log.base_for(T0 + 8, [EARLY]).url == "early"  # before the hole: proven
    with pytest.raises(UsageError) as refused:
        log.base_for(T0 + 25, [EARLY])
    # records of second T0+10 after the last one present may be lost, and of second T0+21 before
    assert f"gap from {utc_text(T0 + 9)} to {utc_text(T0 + 22)} (missing" in refused.value.message
    assert "shardId-1" in refused.value.message
    assert utc_text(T0 + 9) in refused.value.hint  # the nearest restorable time before
    # a base taken after the hole restores past it
    assert log.base_for(T0 + 25, [EARLY, Base("later", T0 + 22, T0 + 23)]).url == "later"


def test_head_segments_expired_move_the_window_start_and_an_older_base_is_not_used(store):
    keys = three_segments(store)
    remove(store, keys[0])  # as a lifecycle rule expires the oldest first
    log = read_change_log(store, "", TABLE)
    with pytest.raises(UsageError, match=f"gap from the beginning to {utc_text(T0 + 12)} \\(missing"):
        log.base_for(T0 + 25, [EARLY])
    later = Base("later", T0 + 12, T0 + 13)
    assert log.base_for(T0 + 25, [EARLY, later]).url == "later"
    assert log.window([EARLY, later]) == [(T0 + 13, T0 + 31)]  # the proof, once made, is in the window


def test_two_followers_overlapping_chains_cover_each_others_hole(store):
    put_start(store, T0)
    put_segment(store, records(1, 10))                   # follower 1
    put_segment(store, records(21, 30), continues="20")  # follower 1: its 11..20 is gone
    put_segment(store, records(1, 25))                   # follower 2, from the shard's start
    put_segment(store, records(26, 30), continues="25")  # follower 2
    log = read_change_log(store, "", TABLE)
    assert log.base_for(T0 + 29, [EARLY]).url == "early"
    assert log.missing == []
    newest = newest_changes(log, EARLY.start - 1, T0 + 29, SPEC)
    assert sorted(r.sequence for r in newest.values()) == [27, 28, 29]


def test_a_closed_shard_whose_last_segment_is_gone_is_refused(store):
    keys = three_segments(store)
    put_closed(store, 30, T0 + 31)
    put_segment(store, records(100, 110, at=-60), shard="shardId-2", parent="shardId-1")  # T0+40..T0+50
    remove(store, keys[2])
    log = read_change_log(store, "", TABLE)
    assert log.base_for(T0 + 15, [EARLY]).url == "early"
    with pytest.raises(UsageError, match=f"gap from {utc_text(T0 + 19)} to {utc_text(T0 + 32)} \\(missing"):
        log.base_for(T0 + 45, [EARLY])


def test_a_closed_shard_read_to_its_end_passes(store):
    three_segments(store)
    put_closed(store, 30, T0 + 31)
    put_segment(store, records(100, 110, at=-60), shard="shardId-2", parent="shardId-1")
    log = read_change_log(store, "", TABLE)
    assert log.base_for(T0 + 45, [EARLY]).url == "early" and log.missing == []


def test_a_child_shard_whose_first_segment_is_gone_is_refused(store):
    put_start(store, T0)
    put_segment(store, records(1, 10))
    put_closed(store, 10, T0 + 11)
    child = dict(shard="shardId-2", parent="shardId-1")
    first = put_segment(store, records(100, 110, at=-80), **child)  # T0+20..T0+30
    put_segment(store, records(111, 120, at=-80), continues="110", **child)  # T0+31..T0+40
    remove(store, first)
    log = read_change_log(store, "", TABLE)
    with pytest.raises(UsageError, match="missing: segments of .*shardId-2"):
        log.base_for(T0 + 35, [EARLY])


def test_a_closed_shard_whose_segments_all_expired_moves_the_window_start(store):
    keys = three_segments(store)
    put_closed(store, 30, T0 + 31)
    put_segment(store, records(100, 110, at=-60), shard="shardId-2", parent="shardId-1")  # T0+40..T0+50
    for key in keys:
        remove(store, key)
    log = read_change_log(store, "", TABLE)
    with pytest.raises(UsageError, match=f"gap from the beginning to {utc_text(T0 + 32)}"):
        log.base_for(T0 + 45, [EARLY])
    assert log.base_for(T0 + 45, [EARLY, Base("later", T0 + 33, T0 + 34)]).url == "later"


def test_list_shows_a_hole_its_headers_reveal_and_reads_no_more_than_one_extra_header(store):
    keys = three_segments(store)
    remove(store, keys[1])
    log = read_change_log(store, "", TABLE)
    shown = summary(log, [EARLY])
    assert {"from": utc_text(T0 + 9), "to": utc_text(T0 + 22), "reason": "missing"} in shown["gaps"]
    assert shown["window"] == [{"from": utc_text(T0 + 3), "to": utc_text(T0 + 9)}]
    assert log.header_reads == 2 and log.reads == 0  # the newest segment's header, and the one before the hole


def test_list_does_not_walk_the_chain(store):
    keys = three_segments(store)
    remove(store, keys[0])  # the head: only the chain's first header shows it, and list does not read it
    log = read_change_log(store, "", TABLE)
    assert summary(log, [EARLY])["gaps"] == [] and log.header_reads == 1
