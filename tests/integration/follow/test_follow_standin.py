"""follow_table() against the Streams stand-in (tests/support/streams_standin.py): shard splits and
lineage, page caps, segment roll-over, iterator expiry, throttling, trimming and a follower down
for over a day. DynamoDB writes go to moto_server; stream reads go to the stand-in, which deals
moto's records into its own shards (as moto made them: no B values here, which moto's stream
encodes twice)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from itertools import count

import pytest

from ddbvault.follow import FollowMemory, FollowOptions, follow_table
from ddbvault.format import change_log as cl
from ddbvault.storage import open_store
from ddbvault.storage.destination import parse_destination
from tests.support import change_logs
from tests.support.change_logs import create_streamed
from tests.support.streams_standin import standin  # noqa: F401 - the stand-in's fixture

pytestmark = pytest.mark.integration
_tables = (f"standin-{n}" for n in count())




@pytest.fixture
def table(ddb) -> str:
    name = next(_tables)
    create_streamed(ddb, name, hash_only=True)
    return name


@pytest.fixture
def vault(tmp_path):
    return str(tmp_path), open_store(parse_destination(str(tmp_path)))


def put(ddb, table: str, keys, version: int = 0) -> None:
    for key in keys:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, "v": {"N": str(version)}})


def options(table: str, dest: str, **changes) -> FollowOptions:
    return replace(FollowOptions(table=table, destination=dest, until_idle=True, poll_interval_s=0.05), **changes)


def newest_per_key(found: list[cl.StreamRecord], parents: dict) -> dict[str, cl.StreamRecord]:
    """Each key's newest record by the contract's order (lineage, then sequence)."""
    newest: dict[str, cl.StreamRecord] = {}
    for record in found:
        pk = record.keys["pk"]["S"]
        if pk not in newest or cl.is_newer(record, newest[pk], parents):
            newest[pk] = record
    return newest


def parents_of(store, table: str) -> dict:
    return {h.shard_id: h.parent_shard_id for h, _ in change_logs.segments(store, "", table)}


def test_split_shards_are_read_parents_first_and_closed(ddb, standin, table, vault):
    dest, store = vault
    keys = [f"k{n:02d}" for n in range(24)]
    put(ddb, table, keys, 1)
    first_children = standin.split_shard(children=2)
    put(ddb, table, keys, 2)
    standin.split_shard(children=2)
    put(ddb, table, keys[:12], 3)
    standin.list_children_first = True  # AWS promises no order: the follower must not rely on one
    result = follow_table(options(table, dest))
    found = change_logs.records(store, "", table)
    assert result.records == len(found) == 24 + 24 + 12 and result.gaps == []
    assert result.shards == 7 and result.closed_shards == 3  # 1 + 2 + 4; the root and its children closed
    label = cl.label_of_stream_arn(result.stream_arn)
    closed = [cl.parse_log_key(k).shard_id for k in change_logs.log_keys(store, "", table) if k.endswith("closed.json")]
    assert sorted(closed) == sorted(s["ShardId"] for s in standin.shards(result.stream_arn)
                                    if "EndingSequenceNumber" in s["SequenceNumberRange"])
    assert set(first_children) < set(closed)
    for shard_id in closed:
        parsed = cl.parse_closed(store.get(cl.closed_key("", table, label, shard_id)))
        assert parsed.last_sequence == str(max(r.sequence for r in found if r.shard_id == shard_id))
    parents = parents_of(store, table)
    newest = newest_per_key(found, parents)
    assert {k: int(r.new_image["v"]["N"]) for k, r in newest.items()} == {
        k: 3 if k in keys[:12] else 2 for k in keys}
    # a child's records were read after its parent's closed.json: each child's first segment
    # continues from nothing and names its parent
    for header, _ in change_logs.segments(store, "", table):
        if header.parent_shard_id is not None:
            assert header.parent_shard_id in closed and header.continues_from is None


def test_a_restart_between_splits_continues_each_shard(ddb, standin, table, vault):
    dest, store = vault
    put(ddb, table, ["a", "b", "c", "d"], 1)
    assert follow_table(options(table, dest)).records == 4
    standin.split_shard(children=2)
    put(ddb, table, ["a", "b", "c", "d"], 2)
    again = follow_table(options(table, dest))
    assert again.records == 4 and again.closed_shards == 1 and again.gaps == []
    assert follow_table(options(table, dest)).records == 0  # nothing twice
    found = change_logs.records(store, "", table)
    newest = newest_per_key(found, parents_of(store, table))
    assert {k: r.new_image["v"]["N"] for k, r in newest.items()} == dict.fromkeys("abcd", "2")


def test_page_caps_and_segment_roll_over(ddb, standin, table, vault):
    dest, store = vault
    standin.max_records_per_page, standin.max_page_bytes = 7, 1500
    keys = [f"p{n:03d}" for n in range(45)]
    put(ddb, table, keys)
    result = follow_table(options(table, dest, segment_max_records=10))
    assert result.records == 45 and result.segments == 5 and result.get_records_calls >= 45 // 7
    segments = change_logs.segments(store, "", table)
    assert [h.count for h, _ in segments] == [10, 10, 10, 10, 5]
    for (before, _), (after, _) in zip(segments, segments[1:]):
        assert after.continues_from == before.last_sequence  # the chain of one shard
    assert [r.keys["pk"]["S"] for r in change_logs.records(store, "", table)] == keys


def test_throttling_is_retried(ddb, standin, table, vault):
    dest, store = vault
    put(ddb, table, ["t1", "t2"])
    standin.throttle_next(5)  # more than botocore's own 3 attempts: aws/retry.py takes over
    result = follow_table(options(table, dest))
    assert result.records == 2 and result.throttle_retries >= 5


def test_an_expired_iterator_is_renewed_after_the_last_record_read(ddb, standin, table, vault):
    dest, store = vault
    put(ddb, table, ["e1", "e2", "e3"])
    done: dict = {}
    run = threading.Thread(target=lambda: done.setdefault("result", follow_table(
        options(table, dest, until_idle=False, max_seconds=6, segment_max_seconds=0.5))))
    run.start()
    deadline = time.monotonic() + 5
    while len(change_logs.records(store, "", table)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    standin.expire_iterators()
    put(ddb, table, ["e4", "e5"])
    run.join(30)
    result = done["result"]
    assert result.iterator_renewals >= 1 and result.gaps == []
    assert [r.keys["pk"]["S"] for r in change_logs.records(store, "", table)] == ["e1", "e2", "e3", "e4", "e5"]


def test_trimmed_records_become_a_gap_and_the_follower_carries_on(ddb, standin, table, vault):
    dest, store = vault
    put(ddb, table, ["r1", "r2"])
    follow_table(options(table, dest))
    put(ddb, table, ["r3", "r4", "r5"])
    standin.trim_before(0)  # r1..r5 trimmed: r3..r5 were never read
    put(ddb, table, ["r6", "r7"])
    before = int(time.time())
    result = follow_table(options(table, dest))
    assert result.records == 2
    [gap] = result.gaps
    assert gap["reason"] == "trimmed" and gap["shard_id"] is not None and gap["stream_arn"] == result.stream_arn
    assert cl.parse_utc(gap["from"]) <= before <= cl.parse_utc(gap["to"])
    assert [g.to_dict() for g in change_logs.gaps(store, "", table)] == [gap]
    assert [r.keys["pk"]["S"] for r in change_logs.records(store, "", table)] == ["r1", "r2", "r6", "r7"]


def test_a_follower_down_for_over_a_day_records_a_gap(ddb, standin, table, vault):
    dest, store = vault
    put(ddb, table, ["d1"])
    first = follow_table(options(table, dest))
    later = time.time() + 25 * 3600
    standin.now = lambda: time.time() + 25 * 3600  # everything so far is over 24 h old: trimmed
    result = follow_table(options(table, dest, clock=lambda: time.time() + 25 * 3600))
    [gap] = result.gaps  # follower_down covers the trimmed checkpoint: no second gap
    assert gap["reason"] == "follower_down" and gap["shard_id"] is None
    [(header, _)] = change_logs.segments(store, "", table)
    assert cl.parse_utc(gap["from"]) == header.last_time
    assert abs(cl.parse_utc(gap["to"]) - (later - 23 * 3600)) <= 5
    assert first.gaps == [] and result.records == 0


def test_passes_with_a_memory_follow_splits_as_a_restart_does(ddb, standin, table, vault):
    """A FollowMemory carries each shard's checkpoint and closed.json from pass to pass (the
    service's follow jobs): across a split, the same log as restarts write, nothing twice."""
    dest, store = vault
    memory = FollowMemory()
    put(ddb, table, ["a", "b", "c", "d"], 1)
    assert follow_table(options(table, dest), memory=memory).records == 4
    first_keys = change_logs.log_keys(store, "", table)
    standin.split_shard(children=2)
    put(ddb, table, ["a", "b", "c", "d"], 2)
    again = follow_table(options(table, dest), memory=memory)
    assert again.records == 4 and again.closed_shards == 1 and again.gaps == []
    third = follow_table(options(table, dest), memory=memory)
    assert (third.records, third.segments, third.closed_shards) == (0, 0, 0)  # the closed parent is not read again
    keys = change_logs.log_keys(store, "", table)
    assert set(first_keys) < set(keys)
    found = change_logs.records(store, "", table)
    assert len(found) == 8 and len({(r.shard_id, r.sequence) for r in found}) == 8
    for header, _ in change_logs.segments(store, "", table):
        assert header.parent_shard_id is None or header.continues_from is None


def test_a_memory_older_than_23_hours_is_not_used(ddb, standin, table, vault):
    """The vault's rules apply again (a follower_down gap) when the last pass ended so long ago
    that records it had not read may be trimmed."""
    dest, store = vault
    memory = FollowMemory()
    put(ddb, table, ["m1"])
    assert follow_table(options(table, dest), memory=memory).records == 1
    later = lambda: time.time() + 25 * 3600  # noqa: E731
    standin.now = later
    result = follow_table(options(table, dest, clock=later), memory=memory)
    assert [gap["reason"] for gap in result.gaps] == ["follower_down"]
    fresh = follow_table(options(table, dest, clock=later), memory=memory)  # the memory of that pass: fresh
    assert fresh.gaps == [] and fresh.records == 0
