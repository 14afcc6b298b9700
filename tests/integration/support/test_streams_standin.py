"""Self-test of tests/support/streams_standin.py: writes go to a real moto_server, reads go
through boto3's dynamodbstreams client pointed at the stand-in, as a follower's would."""

from __future__ import annotations

import http.client
import json
import time
from itertools import count

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.streams_standin import ITERATOR_TTL_S, RETENTION_S
from tests.support.streams_standin import standin  # noqa: F401 - the stand-in's fixture

pytestmark = pytest.mark.integration
_names = count()




@pytest.fixture
def streams(standin):
    return boto3.client("dynamodbstreams", config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
def table(ddb) -> tuple[str, str]:
    """A new table with a NEW_AND_OLD_IMAGES stream: (name, stream ARN)."""
    name = f"orders-{next(_names)}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    return name, ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def put(ddb, table: str, keys, **extra) -> None:
    for key in keys:
        ddb.put_item(TableName=table, Item={"pk": {"S": key}, **{k: {"S": v} for k, v in extra.items()}})


def all_shards(streams, arn: str, **args) -> list[dict]:
    shards, args = [], {"StreamArn": arn, **args}
    while True:
        description = streams.describe_stream(**args)["StreamDescription"]
        shards += description["Shards"]
        if "LastEvaluatedShardId" not in description:
            return shards
        args["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]


def iterator_of(streams, arn: str, shard_id: str, kind: str = "TRIM_HORIZON", **args) -> str:
    return streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType=kind, **args)["ShardIterator"]


def read_shard(streams, arn: str, shard_id: str, kind: str = "TRIM_HORIZON", **args):
    """(records, page sizes, closed) reading one shard from `kind` until an empty page or the end."""
    iterator = iterator_of(streams, arn, shard_id, kind, **args)
    records, pages = [], []
    for _ in range(100):
        page = streams.get_records(ShardIterator=iterator)
        records += page["Records"]
        pages.append(len(page["Records"]))
        if "NextShardIterator" not in page:
            return records, pages, True
        if not page["Records"]:
            return records, pages, False
        iterator = page["NextShardIterator"]
    raise AssertionError("a shard that never ends")


def seq(record: dict) -> int:
    return int(record["dynamodb"]["SequenceNumber"])


def key(record: dict) -> str:
    return record["dynamodb"]["Keys"]["pk"]["S"]


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_lineage_after_splits(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, [f"a{i}" for i in range(5)], v="one")
    first = standin.split_shard()
    put(ddb, name, [f"b{i}" for i in range(20)], v="two")
    second = standin.split_shard(children=1, stream_arn=arn)
    put(ddb, name, [f"c{i}" for i in range(10)])
    shards = all_shards(streams, arn)
    by_id = {s["ShardId"]: s for s in shards}
    assert len(first) == 2 and len(second) == 2 and len(shards) == 5
    root = [s for s in shards if "ParentShardId" not in s]
    assert len(root) == 1 and {by_id[c]["ParentShardId"] for c in first} == {root[0]["ShardId"]}
    assert sorted(by_id[c]["ParentShardId"] for c in second) == sorted(first)
    for shard in shards:
        assert 28 <= len(shard["ShardId"]) <= 65
        ranges = shard["SequenceNumberRange"]
        assert ("EndingSequenceNumber" in ranges) == (shard["ShardId"] not in second)
        if "ParentShardId" in shard:  # a child starts after its parent's end
            parent = by_id[shard["ParentShardId"]]["SequenceNumberRange"]
            assert int(ranges["StartingSequenceNumber"]) > int(parent["EndingSequenceNumber"])
    seen = {}
    for shard in shards:
        records, _, closed = read_shard(streams, arn, shard["ShardId"])
        assert closed == (shard["ShardId"] not in second)
        ranges = shard["SequenceNumberRange"]
        assert [seq(r) for r in records] == sorted(seq(r) for r in records)
        for record in records:
            assert len(record["dynamodb"]["SequenceNumber"]) >= 21
            assert int(ranges["StartingSequenceNumber"]) <= seq(record)
            assert seq(record) <= int(ranges.get("EndingSequenceNumber", 10**40))
            assert record["dynamodb"]["ApproximateCreationDateTime"].microsecond == 0  # whole seconds
            seen[key(record)] = shard["ShardId"]
    assert sorted(seen) == sorted([f"a{i}" for i in range(5)] + [f"b{i}" for i in range(20)]
                                  + [f"c{i}" for i in range(10)])
    assert {seen[f"a{i}"] for i in range(5)} == {root[0]["ShardId"]}
    assert {seen[f"b{i}"] for i in range(20)} <= set(first) and {seen[f"c{i}"] for i in range(10)} <= set(second)


def test_records_keep_what_moto_gave(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["k"], v="old")
    put(ddb, name, ["k"], v="new")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "k"}})
    shard = all_shards(streams, arn)[0]["ShardId"]
    records, _, closed = read_shard(streams, arn, shard)
    assert not closed and [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    assert records[1]["dynamodb"]["OldImage"] == {"pk": {"S": "k"}, "v": {"S": "old"}}
    assert records[1]["dynamodb"]["NewImage"] == {"pk": {"S": "k"}, "v": {"S": "new"}}
    assert all(r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES" and r["eventSource"] == "aws:dynamodb"
               and r["dynamodb"]["SizeBytes"] > 0 for r in records)
    assert len({r["eventID"] for r in records}) == 3
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "ENABLED" and description["TableName"] == name
    assert description["StreamLabel"] == arn.rpartition("/stream/")[2]
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES" and "CreationRequestDateTime" in description


def test_one_key_stays_in_one_child(standin, streams, ddb, table):
    name, arn = table
    keys = [f"k{i}" for i in range(24)]
    put(ddb, name, keys, v="1")
    children = standin.split_shard(stream_arn=arn)
    put(ddb, name, keys, v="2")
    put(ddb, name, keys, v="3")
    grandchildren = standin.split_shard(stream_arn=arn)
    put(ddb, name, keys, v="4")
    shards = {s["ShardId"]: s for s in all_shards(streams, arn)}
    where: dict[str, set[str]] = {}
    for shard_id in children + grandchildren:
        for record in read_shard(streams, arn, shard_id)[0]:
            where.setdefault(key(record), set()).add(shard_id)
    assert sorted(where) == sorted(keys)
    child_of = {}
    for k, found in where.items():
        child = found & set(children)
        grandchild = found & set(grandchildren)
        assert len(child) == 1 and len(grandchild) == 1, k  # one shard per generation
        assert shards[grandchild.pop()]["ParentShardId"] == next(iter(child))  # ...down the lineage
        child_of[k] = child.pop()
    assert set(child_of.values()) == set(children)  # both children take keys


def test_trim_horizon_skips_trimmed_records(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["old1", "old2", "old3"])
    shard = all_shards(streams, arn)[0]["ShardId"]
    old, _, _ = read_shard(streams, arn, shard)
    early = iterator_of(streams, arn, shard, "TRIM_HORIZON")
    standin.trim_before(0)
    put(ddb, name, ["new1", "new2"])
    records, _, _ = read_shard(streams, arn, shard)
    assert [key(r) for r in records] == ["new1", "new2"]
    for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
        with pytest.raises(ClientError) as excinfo:
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind,
                                       SequenceNumber=old[0]["dynamodb"]["SequenceNumber"])
        assert code_of(excinfo) == "TrimmedDataAccessException"
    with pytest.raises(ClientError) as excinfo:  # an iterator from before the trim points at a trimmed record
        streams.get_records(ShardIterator=early)
    assert code_of(excinfo) == "TrimmedDataAccessException"
    again, _, _ = read_shard(streams, arn, shard, "AT_SEQUENCE_NUMBER",
                             SequenceNumber=records[0]["dynamodb"]["SequenceNumber"])
    assert [key(r) for r in again] == ["new1", "new2"]
    standin.trim_before(records[1]["dynamodb"]["SequenceNumber"])  # by sequence: below new2
    assert [key(r) for r in read_shard(streams, arn, shard)[0]] == ["new2"]
    standin.trim_before(3600)  # an older point takes nothing back
    assert [key(r) for r in read_shard(streams, arn, shard)[0]] == ["new2"]


def test_records_older_than_24_hours_are_trimmed(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a", "b"])
    shard = all_shards(streams, arn)[0]["ShardId"]
    records, _, _ = read_shard(streams, arn, shard)
    standin.now = lambda: time.time() + RETENTION_S - 60
    assert len(read_shard(streams, arn, shard)[0]) == 2
    standin.now = lambda: time.time() + RETENTION_S + 5
    assert read_shard(streams, arn, shard)[0] == []
    with pytest.raises(ClientError) as excinfo:
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   SequenceNumber=records[1]["dynamodb"]["SequenceNumber"])
    assert code_of(excinfo) == "TrimmedDataAccessException"


def test_iterators_expire(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a"])
    shard = all_shards(streams, arn)[0]["ShardId"]
    iterator = iterator_of(streams, arn, shard, "TRIM_HORIZON")
    page = streams.get_records(ShardIterator=iterator)
    standin.expire_iterators()
    for old in (iterator, page["NextShardIterator"]):
        with pytest.raises(ClientError) as excinfo:
            streams.get_records(ShardIterator=old)
        assert code_of(excinfo) == "ExpiredIteratorException"
    fresh = iterator_of(streams, arn, shard, "TRIM_HORIZON")
    standin.now = lambda: time.time() + ITERATOR_TTL_S - 30
    assert [key(r) for r in streams.get_records(ShardIterator=fresh)["Records"]] == ["a"]
    standin.now = lambda: time.time() + ITERATOR_TTL_S + 30
    with pytest.raises(ClientError) as excinfo:
        streams.get_records(ShardIterator=fresh)
    assert code_of(excinfo) == "ExpiredIteratorException"


def post(standin, target: str, body: dict) -> tuple[int, str, dict]:
    """A raw x-amz-json-1.0 request: (status, Content-Type, JSON answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", standin.port, timeout=10)
    try:
        conn.request("POST", "/", body=json.dumps(body), headers={
            "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        conn.close()


def test_error_wire_shape(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a"])
    iterator = iterator_of(streams, arn, all_shards(streams, arn)[0]["ShardId"])
    standin.expire_iterators()
    status, content_type, answer = post(standin, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator})
    assert (status, content_type) == (400, "application/x-amz-json-1.0")
    assert answer["__type"] == "com.amazonaws.dynamodb.v20120810#ExpiredIteratorException" and answer["message"]
    status, _, answer = post(standin, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": "not-one"})
    assert status == 400 and answer["__type"].endswith("#ValidationException")
    status, _, answer = post(standin, "DynamoDB_20120810.PutItem", {})  # DynamoDB goes to moto, not here
    assert status == 400 and answer["__type"].endswith("#UnknownOperationException")


def test_unknown_stream_shard_and_bad_arguments(standin, streams, ddb, table):
    _, arn = table
    for bad_arn in (arn.rpartition("/stream/")[0] + "/stream/2000-01-01T00:00:00.000",
                    arn.replace(":table/orders", ":table/nothing")):
        with pytest.raises(ClientError) as excinfo:
            streams.describe_stream(StreamArn=bad_arn)
        assert code_of(excinfo) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-00000000",
                                   ShardIteratorType="LATEST")
    assert code_of(excinfo) == "ResourceNotFoundException"
    shard = all_shards(streams, arn)[0]["ShardId"]
    for args in ({"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "1" + "0" * 20},  # below the shard
                 {"ShardIteratorType": "AT_SEQUENCE_NUMBER", "SequenceNumber": "40000000000000000000x"},
                 {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": time.time()}):
        with pytest.raises(ClientError) as excinfo:
            streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **args)
        assert code_of(excinfo) == "ValidationException", args
    iterator = iterator_of(streams, arn, shard, "LATEST")
    with pytest.raises(ClientError) as excinfo:
        streams.get_records(ShardIterator=iterator, Limit=1001)
    assert code_of(excinfo) == "ValidationException"


def test_latest_and_after_sequence_number(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a", "b"])
    shard = all_shards(streams, arn)[0]["ShardId"]
    latest = iterator_of(streams, arn, shard, "LATEST")
    put(ddb, name, ["c"])
    assert [key(r) for r in streams.get_records(ShardIterator=latest)["Records"]] == ["c"]
    first = read_shard(streams, arn, shard)[0][0]
    after, _, _ = read_shard(streams, arn, shard, "AFTER_SEQUENCE_NUMBER",
                             SequenceNumber=first["dynamodb"]["SequenceNumber"])
    assert [key(r) for r in after] == ["b", "c"]


def test_page_caps_records(standin, streams, table):
    name, arn = table
    sequences = standin.add_records(name, [{"dynamodb": {"Keys": {"pk": {"S": f"k{i}"}},
                                                         "NewImage": {"pk": {"S": f"k{i}"}}}} for i in range(2500)])
    assert len(sequences) == 2500 and [int(s) for s in sequences] == sorted(int(s) for s in sequences)
    shard = all_shards(streams, arn)[0]["ShardId"]
    records, pages, _ = read_shard(streams, arn, shard)
    assert pages == [1000, 1000, 500, 0] and [r["dynamodb"]["SequenceNumber"] for r in records] == sequences
    assert standin.records_served == 2500
    standin.max_records_per_page = 700
    assert read_shard(streams, arn, shard)[1] == [700, 700, 700, 400, 0]
    iterator = iterator_of(streams, arn, shard, "TRIM_HORIZON")
    assert len(streams.get_records(ShardIterator=iterator, Limit=3)["Records"]) == 3


def test_page_caps_one_megabyte(standin, streams, ddb, table):
    name, arn = table
    big = "x" * 300_000  # each record ~300 KB of wire JSON: 3 to a 1 MiB page, not 4
    put(ddb, name, [f"big{i}" for i in range(7)], v=big)
    shard = all_shards(streams, arn)[0]["ShardId"]
    records, pages, _ = read_shard(streams, arn, shard)
    assert pages == [3, 3, 1, 0] and all(r["dynamodb"]["NewImage"]["v"]["S"] == big for r in records)
    standin.max_page_bytes = 1000  # a record bigger than the cap still comes, alone
    assert read_shard(streams, arn, shard)[1] == [1, 1, 1, 1, 1, 1, 1, 0]


def test_throttling(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a"])
    shard = all_shards(streams, arn)[0]["ShardId"]
    iterator = iterator_of(streams, arn, shard, "TRIM_HORIZON")
    standin.throttle_next(2)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            streams.get_records(ShardIterator=iterator)
        assert code_of(excinfo) == "LimitExceededException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(streams.get_records(ShardIterator=iterator)["Records"]) == 1
    standin.throttle_next(2)
    retrying = boto3.client("dynamodbstreams", config=Config(retries={"mode": "standard", "total_max_attempts": 4}))
    page = retrying.get_records(ShardIterator=iterator)
    assert len(page["Records"]) == 1 and page["ResponseMetadata"]["RetryAttempts"] == 2
    assert standin.calls[-7:] == ["GetShardIterator"] + ["GetRecords"] * 6 and standin.records_served == 2


def test_describe_stream_pagination_and_filter(standin, streams, ddb, table):
    name, arn = table
    for _ in range(3):
        standin.split_shard(stream_arn=arn)
    everything = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert len(everything["Shards"]) == 15 and "LastEvaluatedShardId" not in everything
    pages, args = [], {"StreamArn": arn, "Limit": 4}
    while True:
        description = streams.describe_stream(**args)["StreamDescription"]
        pages.append([s["ShardId"] for s in description["Shards"]])
        if "LastEvaluatedShardId" not in description:
            break
        assert description["LastEvaluatedShardId"] == pages[-1][-1]
        args["ExclusiveStartShardId"] = description["LastEvaluatedShardId"]
    assert [len(p) for p in pages] == [4, 4, 4, 3]
    assert sum(pages, []) == [s["ShardId"] for s in everything["Shards"]]
    root = everything["Shards"][0]
    assert "ParentShardId" not in root
    children = streams.describe_stream(StreamArn=arn, ShardFilter={"Type": "CHILD_SHARDS", "ShardId": root["ShardId"]})
    assert [s["ParentShardId"] for s in children["StreamDescription"]["Shards"]] == [root["ShardId"]] * 2
    standin.list_children_first = True
    assert all_shards(streams, arn, Limit=2) == list(reversed(everything["Shards"]))
    with pytest.raises(ClientError) as excinfo:
        streams.describe_stream(StreamArn=arn, Limit=101)
    assert code_of(excinfo) == "ValidationException"


def test_list_streams_pages(standin, streams, ddb, table):
    name, arn = table
    listed, args = [], {"Limit": 1}
    while True:
        page = streams.list_streams(**args)
        assert len(page["Streams"]) <= 1
        listed += page["Streams"]
        if "LastEvaluatedStreamArn" not in page:
            break
        args["ExclusiveStartStreamArn"] = page["LastEvaluatedStreamArn"]
    assert arn in [s["StreamArn"] for s in listed] and len(listed) == len({s["StreamArn"] for s in listed})
    assert streams.list_streams(TableName=name)["Streams"] == [
        {"StreamArn": arn, "TableName": name, "StreamLabel": arn.rpartition("/stream/")[2]}]


def test_moto_quirks_repaired(standin, streams, ddb):
    """moto 5.1.22 double-encodes top-level binaries in stream records and sends empty images;
    the stand-in sends what AWS would: each value base64 once, no empty image."""
    name = f"binary-{next(_names)}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    item = {"pk": {"B": b"\x00\x01"}, "b": {"B": b"\xff"}, "bs": {"BS": [b"\x03", b"\x04"]},
            "m": {"M": {"x": {"B": b"\x05"}}}, "l": {"L": [{"B": b"\x06"}]}}
    ddb.put_item(TableName=name, Item=item)
    ddb.delete_item(TableName=name, Key={"pk": {"B": b"\x00\x01"}})
    shard = all_shards(streams, arn)[0]["ShardId"]
    insert, remove = read_shard(streams, arn, shard)[0]
    assert insert["dynamodb"]["Keys"] == {"pk": {"B": b"\x00\x01"}} and insert["dynamodb"]["NewImage"] == item
    assert "OldImage" not in insert["dynamodb"] and "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"] == item
    standin.repair_moto_quirks = False  # moto's own, for records dealt from now on
    ddb.put_item(TableName=name, Item=item)
    raw = read_shard(streams, arn, shard)[0][2]
    assert raw["dynamodb"]["Keys"] == {"pk": {"B": b"AAE="}} and raw["dynamodb"]["OldImage"] == {}


def test_disabled_and_replaced_streams(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a"])
    standin.split_shard(stream_arn=arn)
    put(ddb, name, ["b"])
    standin.disable_stream(arn)
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert all("EndingSequenceNumber" in s["SequenceNumberRange"] for s in description["Shards"])
    read = {key(r) for s in description["Shards"] for r in read_shard(streams, arn, s["ShardId"])[0]}
    assert read == {"a", "b"}
    with pytest.raises(ValueError):
        standin.split_shard(stream_arn=arn)
    other, other_arn = f"replaced-{next(_names)}", None
    ddb.create_table(TableName=other, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    other_arn = ddb.describe_table(TableName=other)["Table"]["LatestStreamArn"]
    put(ddb, other, ["x"])
    assert streams.describe_stream(StreamArn=other_arn)["StreamDescription"]["StreamStatus"] == "ENABLED"
    ddb.delete_table(TableName=other)
    gone = streams.describe_stream(StreamArn=other_arn)["StreamDescription"]
    assert gone["StreamStatus"] == "DISABLED" and "EndingSequenceNumber" in gone["Shards"][0]["SequenceNumberRange"]
    assert [key(r) for r in read_shard(streams, other_arn, gone["Shards"][0]["ShardId"])[0]] == ["x"]


def test_trimmed_closed_shards_can_disappear(standin, streams, ddb, table):
    name, arn = table
    put(ddb, name, ["a"])
    children = standin.split_shard(stream_arn=arn, children=1)
    put(ddb, name, ["b"])
    root = [s for s in all_shards(streams, arn) if "ParentShardId" not in s][0]["ShardId"]
    standin.trim_before(0)
    assert len(all_shards(streams, arn)) == 2  # by default a trimmed shard stays listed
    standin.drop_trimmed_shards = True
    listed = all_shards(streams, arn)
    assert [s["ShardId"] for s in listed] == children and listed[0]["ParentShardId"] == root
    with pytest.raises(ClientError) as excinfo:
        streams.get_shard_iterator(StreamArn=arn, ShardId=root, ShardIteratorType="TRIM_HORIZON")
    assert code_of(excinfo) == "ResourceNotFoundException"
    put(ddb, name, ["c"])
    assert [key(r) for r in read_shard(streams, arn, children[0])[0]] == ["c"]
