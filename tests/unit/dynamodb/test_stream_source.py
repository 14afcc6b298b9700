"""dynamodb/stream_source.py: a DescribeStream page's shards are checked before a key is made of them."""

from __future__ import annotations

import pytest

from ddbvault.dynamodb.stream_source import Shard, _shards_of
from ddbvault.errors import AwsError

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t1/stream/2026-11-30T10:00:00.000"


def test_shards_with_parents_and_closed_ranges():
    page = {"Shards": [
        {"ShardId": "shardId-1", "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"}},
        {"ShardId": "shardId-2", "ParentShardId": "shardId-1", "SequenceNumberRange": {"StartingSequenceNumber": "10"}}]}
    assert _shards_of(page, ARN) == [Shard("shardId-1", None, True), Shard("shardId-2", "shardId-1", False)]


@pytest.mark.parametrize("page", [
    {"Shards": "x"}, {"Shards": [1]}, {"Shards": [{"ShardId": "../etc"}]}, {"Shards": [{"ShardId": "s" * 66}]},
    {"Shards": [{"ShardId": "ok", "ParentShardId": ".."}]}, {"Shards": [{}]}, [],
])
def test_hostile_pages_are_malformed_responses(page):
    with pytest.raises(AwsError, match="DescribeStream on .* returned an unusable response"):
        _shards_of(page, ARN)
