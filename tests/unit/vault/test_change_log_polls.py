"""vault/change_log.py and poll records: a quiet table's log is known complete to its newest
trusted poll record, not to its last write; polls the segments do not back are not trusted."""

from __future__ import annotations

import time

import pytest

from ddbvault.errors import IntegrityError, UsageError
from ddbvault.format import change_log as fmt
from ddbvault.vault.change_log import POLLS_READ, Base, read_change_log, summary, utc_text
from tests.support.change_log_vault import LABEL, T0, TABLE, MemoryStore, put_poll, put_segment, put_start, record


def v(n) -> dict:
    return {"v": {"N": str(n)}}


@pytest.fixture()
def store() -> MemoryStore:
    store = MemoryStore()
    put_start(store, T0)
    put_segment(store, [record(1, T0 + 1, "a", v(1)), record(7, T0 + 2, "b", v(1))], written_at=T0 + 100)
    return store


BASES = [Base("b", T0 + 10, T0 + 20)]


def test_a_trusted_poll_carries_the_window_past_the_last_write(store):
    before = read_change_log(store, "", TABLE)
    assert before.known_until() == T0 + 100
    with pytest.raises(UsageError, match="known complete only"):
        before.base_for(T0 + 4000, BASES)
    put_poll(store, T0 + 5000, {"shardId-1": "7"}, written_at=T0 + 5006)
    log = read_change_log(store, "", TABLE)
    assert log.known_until() == log.polled_until() == T0 + 5000
    assert log.window(BASES) == [(T0 + 20, T0 + 5000)]
    assert log.base_for(T0 + 4000, BASES).url == "b"
    with pytest.raises(UsageError, match=f"known complete only up to {utc_text(T0 + 5000)}"):
        log.base_for(T0 + 5001, BASES)
    shown = summary(log, BASES)
    assert shown["known_until"] == shown["polled_until"] == utc_text(T0 + 5000)


def test_a_poll_older_than_the_newest_segment_changes_nothing(store):
    put_poll(store, T0 + 50, {"shardId-1": "1"})
    assert read_change_log(store, "", TABLE).known_until() == T0 + 100


@pytest.mark.parametrize("shards", [
    {"shardId-1": "8"},                          # past the stored sequences
    {"shardId-1": "7", "shardId-9": "3"},        # a shard the vault holds nothing of
    {"shardId-9": None},                         # misses the open shard the vault holds
])
def test_a_poll_the_segments_do_not_back_is_not_trusted(store, shards):
    key = put_poll(store, T0 + 5000, shards)
    log = read_change_log(store, "", TABLE)
    assert log.known_until() == T0 + 100 and log.polled_until() is None
    assert key in log.ignored


def test_an_untrusted_newest_poll_falls_back_to_an_older_trusted_one(store):
    put_poll(store, T0 + 3000, {"shardId-1": "7"})
    put_poll(store, T0 + 5000, {"shardId-1": "9"})
    assert read_change_log(store, "", TABLE).known_until() == T0 + 3000


def test_only_the_newest_polls_are_read(store):
    for n in range(POLLS_READ + 5):
        put_poll(store, T0 + 1000 + n, {"shardId-1": "7"})
    oldest = sorted(k for k in store.objects if "/polls/" in k)[0]
    store.objects[oldest] = b"{not json"  # never read: bounded to the newest POLLS_READ
    store.gets.clear()
    log = read_change_log(store, "", TABLE)
    assert log.known_until() == T0 + 1000 + POLLS_READ + 4
    assert len([k for k in store.gets if "/polls/" in k]) == 1


@pytest.mark.parametrize("damage, message", [
    ({"arn_label": "2026-12-01T00:00:00.000"}, "of another stream"),
    ({"table": "other"}, "of another table"),
    ({"written_at": int(time.time()) + 86_400}, "written in the future"),
])
def test_a_hostile_poll_is_refused_by_name(store, damage, message):
    key = put_poll(store, T0 + 5000, {"shardId-1": "7"}, **damage)
    with pytest.raises(IntegrityError, match=message) as refused:
        read_change_log(store, "", TABLE).known_until()
    assert key in refused.value.message


def test_a_damaged_poll_is_refused_by_name(store):
    key = fmt.poll_key("", TABLE, LABEL, T0 + 5000, "abcdef")
    store.objects[key] = b'{"change_log":"1.0"}'
    with pytest.raises(IntegrityError, match="lacks") as refused:
        read_change_log(store, "", TABLE).known_until()
    assert key in refused.value.message
    store.objects[key] = b" " * 70_000
    with pytest.raises(IntegrityError, match="over 65,536 bytes"):
        read_change_log(store, "", TABLE).known_until()
