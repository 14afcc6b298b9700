"""format/change_log/: poll records — their key, round trip and hostile objects."""

from __future__ import annotations

import orjson
import pytest

from ddbvault.format import change_log as cl
from ddbvault.format.dataline import BadLine

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/t1/stream/2026-11-30T10:00:00.123"
LABEL = "2026-11-30T10:00:00.123"
SHARD = "shardId-00000001541626099285-f35f62ef"
WHEN = 1796032800  # 2026-11-30T10:00:00Z


def good(**changes) -> dict:
    poll = cl.PollRecord("t1", STREAM, WHEN, {SHARD: "1100000000017454423011", "shardId-2": None}, WHEN + 2)
    return {**orjson.loads(cl.poll_object(poll)), **changes}


def test_a_poll_key_sorts_by_time_and_parses_back():
    key = cl.poll_key("p", "t1", LABEL, WHEN, "a1b2c3")
    assert key == f"p/t1/changes/{LABEL}/polls/20261130T100000Z-a1b2c3.json"
    assert sorted([cl.poll_key("p", "t1", LABEL, WHEN + 1, "000000"), key])[0] == key
    parsed = cl.parse_log_key(key[len(cl.changes_prefix("p", "t1")):])
    assert (parsed.kind, parsed.label, parsed.shard_id, parsed.name) == ("poll", LABEL, None,
                                                                          "20261130T100000Z-a1b2c3.json")
    with pytest.raises(ValueError):
        cl.poll_key("p", "t1", LABEL, WHEN, "A1B2C3")


@pytest.mark.parametrize("relative", [
    f"{LABEL}/polls/20261399T100000Z-a1b2c3.json", f"{LABEL}/polls/20261130T100000Z-a1b2c3.jsonl.gz",
    f"{LABEL}/polls/x/20261130T100000Z-a1b2c3.json", f"../polls/20261130T100000Z-a1b2c3.json",
    f"{LABEL}/polls/closed.json", f"{LABEL}/polls/{1:040d}-{2:040d}.jsonl.gz", "polls/20261130T100000Z-a1b2c3.json",
])
def test_hostile_poll_keys_are_refused(relative):
    with pytest.raises(BadLine, match="is not a change-log key"):
        cl.parse_log_key(relative)


def test_polls_is_no_shard_id():
    with pytest.raises(ValueError):
        cl.check_shard_id("polls")


def test_a_poll_record_round_trips():
    poll = cl.PollRecord("t1", STREAM, WHEN, {SHARD: "5", "shardId-2": None}, WHEN)
    assert cl.parse_poll(cl.poll_object(poll)) == poll


@pytest.mark.parametrize("changes, message", [
    ({"polled_at": cl.utc_text(WHEN + 3)}, "polled_at is after its written_at"),  # a poll from the future
    ({"polled_at": WHEN}, "polled_at is not a UTC time"),
    ({"shards": {}}, "shards is not an object of 1-500"),
    ({"shards": [SHARD]}, "shards is not an object"),
    ({"shards": {f"shardId-{n}": None for n in range(501)}}, "1-500"),
    ({"shards": {"..": "5"}}, "holds a key that is not a shard id"),
    ({"shards": {"polls": "5"}}, "holds a key that is not a shard id"),
    ({"shards": {SHARD: 5}}, "not a sequence number"),
    ({"shards": {SHARD: "1" * 41}}, "not a sequence number"),
    ({"shards": {SHARD: "\u0661"}}, "not a sequence number"),
    ({"shards": {SHARD: "-5"}}, "not a sequence number"),
    ({"stream_arn": "arn:aws:dynamodb:us-east-1:1:table/t1"}, "stream_arn is not a stream ARN"),
    ({"change_log": "2.0"}, "format 2.0"),
    ({"surprise": 1}, "unknown fields"),
])
def test_hostile_poll_records_are_refused_naming_no_value(changes, message):
    with pytest.raises(BadLine, match=message) as refused:
        cl.parse_poll(orjson.dumps(good(**changes)))
    assert "1100000000017454423011" not in str(refused.value) and "\u0661" not in str(refused.value)


def test_an_oversize_poll_record_is_refused_before_parsing():
    with pytest.raises(BadLine, match="over 65,536 bytes"):
        cl.parse_poll(orjson.dumps(good()) + b" " * 70_000)
    with pytest.raises(BadLine):
        cl.poll_object(cl.PollRecord("t1", STREAM, WHEN + 1, {SHARD: "5"}, WHEN))  # the builder checks too
