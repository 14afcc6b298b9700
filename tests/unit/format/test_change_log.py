"""format/change_log/: the change log format 1.0 — keys, segments, the small objects, order."""

from __future__ import annotations

import gzip
import hashlib
from datetime import datetime, timezone

import orjson
import pytest

from ddbvault.format import change_log as cl
from ddbvault.format.changes import Change
from ddbvault.format.dataline import BadLine, KeySpec

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t1"
STREAM = ARN + "/stream/2026-11-30T10:00:00.123"
LABEL = "2026-11-30T10:00:00.123"
SHARD = "shardId-00000001541626099285-f35f62ef"
KEYS = {"pk": {"S": "a"}, "sk": {"N": "1"}}
FIELDS = {"table": "t1", "table_arn": ARN, "stream_arn": STREAM, "stream_view_type": "NEW_AND_OLD_IMAGES",
          "shard_id": SHARD, "parent_shard_id": None, "continues_from": None}


def record(seq: int | str, event="INSERT", when=1796032800, keys=KEYS, **body) -> bytes:
    dynamodb = {"ApproximateCreationDateTime": when, "Keys": keys, "SequenceNumber": str(seq),
                "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if event != "REMOVE":
        dynamodb["NewImage"] = {**keys, "v": {"S": f"value{seq}"}}
    dynamodb.update(body)
    return orjson.dumps({"eventID": "e", "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                         "awsRegion": "us-east-1", "dynamodb": dynamodb})


def segment_text(header: dict, lines: list[bytes]) -> bytes:
    return orjson.dumps(header) + b"\n" + b"".join(line + b"\n" for line in lines)


def good_header(lines: list[bytes], **changes) -> dict:
    body = b"".join(line + b"\n" for line in lines)
    seqs = [orjson.loads(line)["dynamodb"]["SequenceNumber"] for line in lines]
    header = {"change_log": "1.0", "tool_version": "1.0.0", **FIELDS, "first_sequence": seqs[0],
              "last_sequence": seqs[-1], "count": len(lines), "first_time": "2026-11-30T10:00:00Z",
              "last_time": "2026-11-30T10:00:00Z", "records_sha256": hashlib.sha256(body).hexdigest(),
              "written_at": "2026-11-30T10:01:00Z"}
    header.update(changes)
    return header


# ---- keys ---------------------------------------------------------------------------------------

def test_keys_sort_by_sequence_and_parse_back():
    small = cl.segment_key("p", "t1", LABEL, SHARD, 9, 10)
    large = cl.segment_key("p", "t1", LABEL, SHARD, "100", "2000000000000000000000")
    assert small == f"p/t1/changes/{LABEL}/{SHARD}/{9:040d}-{10:040d}.jsonl.gz"
    assert sorted([large, small]) == [small, large]
    prefix = cl.changes_prefix("p", "t1")
    assert cl.parse_log_key(large[len(prefix):]) == cl.LogKey(
        "segment", LABEL, SHARD, 100, 2000000000000000000000, large.rsplit("/", 1)[1])
    closed = cl.parse_log_key(cl.closed_key("p", "t1", LABEL, SHARD)[len(prefix):])
    assert (closed.kind, closed.label, closed.shard_id) == ("closed", LABEL, SHARD)
    start = cl.parse_log_key(cl.start_key("p", "t1", LABEL)[len(prefix):])
    assert (start.kind, start.label) == ("start", LABEL)
    gap_key = cl.gap_key("p", "t1", datetime(2026, 11, 30, 10, 0, 1, tzinfo=timezone.utc), "a1b2c3")
    assert gap_key == "p/t1/changes/gaps/20261130T100001Z-a1b2c3.json"
    assert cl.parse_log_key(gap_key[len(prefix):]).kind == "gap"


@pytest.mark.parametrize("relative", [
    "", "x", f"{LABEL}/{SHARD}/{1:040d}-{2:040d}.json.gz",
    f"../{SHARD}/{1:040d}-{2:040d}.jsonl.gz", f"{LABEL}/../{1:040d}-{2:040d}.jsonl.gz",
    f"./start.json", f"{LABEL}/./closed.json", f"{LABEL}//closed.json",
    f"{LABEL}/{SHARD}/{2:040d}-{1:040d}.jsonl.gz",                                # first past last
    f"{LABEL}/{SHARD}/{1:041d}-{2:041d}.jsonl.gz",                                # 41 digits
    f"{LABEL}/{SHARD}/{1:039d}-{2:040d}.jsonl.gz",                                # not padded
    f"{LABEL}/{SHARD}/" + "\u0661" * 40 + f"-{2:040d}.jsonl.gz",                   # non-ASCII digits
    f"{LABEL}/sh ard/closed.json", f"{LABEL}/{'s' * 66}/closed.json", f"{'l' * 65}/start.json",
    "gaps/start.json", "gaps/20261399T100001Z-a1b2c3.json", "gaps/20261130T100001Z-A1B2C3.json",
    f"{LABEL}/{SHARD}/closed.json/x", f"{LABEL}/{SHARD}/other.json",
])
def test_hostile_keys_are_refused(relative):
    with pytest.raises(BadLine, match="is not a change-log key"):
        cl.parse_log_key(relative)


@pytest.mark.parametrize("label", [".", "..", "gaps", "a/b", "", "x" * 65, "l\u00e9"])
def test_keys_are_not_made_from_bad_labels(label):
    with pytest.raises(ValueError):
        cl.start_key("p", "t1", label)


@pytest.mark.parametrize("shard, seq", [("..", 1), (SHARD, -1), (SHARD, 10 ** 40), (SHARD, "1" * 41),
                                        (SHARD, "\u0661"), (SHARD, "1e5"), (SHARD, "")])
def test_keys_are_not_made_from_bad_shards_or_sequences(shard, seq):
    with pytest.raises(ValueError):
        cl.segment_key("p", "t1", LABEL, shard, seq, 10 ** 39)


def test_label_of_stream_arn():
    assert cl.label_of_stream_arn(STREAM) == LABEL
    for bad in (ARN, "stream/x", ARN + "/stream/..", ARN + "/stream/"):
        with pytest.raises(ValueError):
            cl.label_of_stream_arn(bad)


# ---- segments -----------------------------------------------------------------------------------

def test_a_segment_round_trips_and_its_records_are_changes():
    lines = [record("1100000000017454423009"), record("1100000000017454423010", "MODIFY", when=1796032801.7),
             record("1100000000017454423011", "REMOVE", when=1796032802)]
    data = cl.build_segment({**FIELDS, "continues_from": "1100000000017454423000"}, lines, written_at=1796032900)
    header, records = cl.parse_segment(data)
    assert (header.first_sequence, header.last_sequence, header.count) == (
        "1100000000017454423009", "1100000000017454423011", 3)
    assert (header.first_time, header.last_time, header.written_at) == (1796032800, 1796032802, 1796032900)
    assert header.continues_from == "1100000000017454423000" and header.label == LABEL
    assert [r.raw for r in records] == lines
    assert records[1].time_s == 1796032801  # floored
    assert records[1].change == Change(KEYS, {**KEYS, "v": {"S": "value1100000000017454423010"}}, 1796032801_000_000)
    assert records[2].change == Change(KEYS, None, 1796032802_000_000)
    key = cl.parse_log_key(cl.segment_key("p", "t", LABEL, SHARD, header.first_sequence, header.last_sequence)
                           [len(cl.changes_prefix("p", "t")):])
    assert cl.parse_segment(data, expect=key)[0] == header
    other = cl.parse_log_key(f"{LABEL}/{SHARD}/{1:040d}-{2:040d}.jsonl.gz")
    with pytest.raises(BadLine, match="another shard or sequence range"):
        cl.parse_segment(data, expect=other)


def test_motos_records_are_read_as_it_sends_them():
    """moto: times with milliseconds, an empty NewImage on REMOVE, an empty OldImage on INSERT."""
    insert = record(5, when=1796032800.999, OldImage={})
    remove = orjson.dumps({"eventName": "REMOVE", "dynamodb": {
        "ApproximateCreationDateTime": 1796032801.0, "Keys": KEYS, "SequenceNumber": "6",
        "NewImage": {}, "OldImage": {**KEYS, "v": {"S": "x"}}}})
    _, records = cl.parse_segment(cl.build_segment(FIELDS, [insert, remove]))
    assert [r.time_s for r in records] == [1796032800, 1796032801]
    assert records[1].new_image is None


def test_a_segment_checks_the_table_key_when_given():
    data = cl.build_segment(FIELDS, [record(1)])
    cl.parse_segment(data, key=KeySpec((("pk", "S"), ("sk", "N"))))
    with pytest.raises(BadLine, match="line 2: dynamodb.Keys"):
        cl.parse_segment(data, key=KeySpec((("pk", "S"), ("sk", "S"))))


BAD_RECORDS = [
    (b"not json", "not one JSON object"),
    (orjson.dumps([1]), "not a stream record"),
    (orjson.dumps({"eventName": "INSERT"}), "not a stream record"),
    (record(1, event="DELETE"), "eventName"),
    (record("\u0661\u0662"), "SequenceNumber"),
    (record("1" * 41), "SequenceNumber"),
    (record(""), "SequenceNumber"),
    (record(1, when=-1), "ApproximateCreationDateTime"),
    (record(1, when="yesterday"), "ApproximateCreationDateTime"),
    (record(1, when="2026-11-30T10:00:00"), "ApproximateCreationDateTime"),
    (record(1, when=1e300), "ApproximateCreationDateTime"),
    (record(1, when=True), "ApproximateCreationDateTime"),
    (record(1, keys={}), "dynamodb.Keys"),
    (record(1, keys={"a": {"S": "1"}, "b": {"S": "2"}, "c": {"S": "3"}}), "dynamodb.Keys"),
    (record(1, keys={"a": {"BOOL": True}}), "not of type S, N or B"),
    (record(1, keys={"a": {"N": "x"}}), "dynamodb.Keys"),
    (record(1, NewImage={"pk": {"S": "b"}, "sk": {"N": "1"}}), "NewImage's key differs"),
    (record(1, NewImage={**KEYS, "v": {"SS": []}}), "dynamodb.NewImage"),
    (record(1, NewImage=[]), "dynamodb.NewImage"),
    (record(1, OldImage={**KEYS, "v": {"Q": 1}}), "dynamodb.OldImage"),
    (record(1, event="REMOVE", NewImage={**KEYS}), "REMOVE record has a dynamodb.NewImage"),
    (orjson.dumps({"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": 1, "Keys": KEYS,
                                                        "SequenceNumber": "1"}}), "no dynamodb.NewImage"),
]


@pytest.mark.parametrize("line, message", BAD_RECORDS)
def test_hostile_records_are_refused_on_build_and_on_parse(line, message):
    with pytest.raises(BadLine, match=message):
        cl.build_segment(FIELDS, [line])
    lines = [record(0), line]  # records are checked before the header's sums: any valid header
    with pytest.raises(BadLine, match=f"line 3: .*{message}"):
        cl.parse_segment(gzip.compress(segment_text(good_header([record(0), record(1)]), lines)))


def test_no_message_holds_a_value():
    secret = "SECRET-VALUE"
    line = record(1, NewImage={"pk": {"S": secret}, "sk": {"N": "1"}, "v": {"N": secret}})
    with pytest.raises(BadLine) as caught:
        cl.build_segment(FIELDS, [line])
    assert secret not in str(caught.value)


LINES = [record(10), record(11), record(12)]


def test_the_hand_made_header_is_valid():
    """So that each hostile header below is refused for its one change."""
    header, records = cl.parse_segment(gzip.compress(segment_text(good_header(LINES), LINES)))
    assert header.count == 3 and [r.sequence for r in records] == [10, 11, 12]


@pytest.mark.parametrize("changes, message", [
    ({"change_log": "2.0"}, "format 2.0; this ddbvault reads 1.x"),
    ({"change_log": 1.0}, "not a version"),
    ({"change_log": "1.0.0"}, "not a version"),
    ({"count": 2}, "holds 3 record lines, its header says 2"),
    ({"count": 4}, "holds 3 record lines, its header says 4"),
    ({"count": "3"}, "count is not an integer"),
    ({"count": 0}, "count is not 1 to"),
    ({"count": 100_001}, "count is not 1 to"),
    ({"records_sha256": "0" * 64}, "records_sha256 is not the sha256"),
    ({"records_sha256": "A" * 64}, "not 64 lowercase hex"),
    ({"first_sequence": "9"}, "first_sequence/last_sequence"),
    ({"last_sequence": "13"}, "first_sequence/last_sequence"),
    ({"first_sequence": "\u0661\u0660"}, "first_sequence is not a sequence number"),
    ({"last_sequence": "1" * 41}, "last_sequence is not a sequence number"),
    ({"continues_from": "10"}, "not strictly ascending after continues_from"),
    ({"continues_from": 9}, "continues_from is not a sequence number"),
    ({"first_time": "2026-11-30T10:00:01Z"}, "first_time/last_time"),
    ({"last_time": "2026-11-30 10:00:01"}, "last_time is not a UTC time"),
    ({"written_at": "2026-13-30T10:00:01Z"}, "written_at is not a UTC time"),
    ({"stream_view_type": "KEYS_ONLY"}, "stream_view_type"),
    ({"stream_arn": ARN}, "stream_arn is not a stream ARN"),
    ({"stream_arn": ARN + "/stream/.."}, "stream_arn is not a stream ARN"),
    ({"shard_id": "../x"}, "shard_id is not a shard id"),
    ({"parent_shard_id": 5}, "parent_shard_id is not a shard id"),
    ({"parent_shard_id": SHARD}, "parent_shard_id is its own shard_id"),
    ({"table": ""}, "table is not a string"),
    ({"extra": 1}, "has unknown fields"),
])
def test_hostile_headers_are_refused(changes, message):
    header = good_header(LINES, **changes)
    with pytest.raises(BadLine, match=message):
        cl.parse_segment(gzip.compress(segment_text(header, LINES)))


def test_missing_header_fields_are_named():
    header = good_header(LINES)
    del header["records_sha256"]
    with pytest.raises(BadLine, match="lacks records_sha256"):
        cl.parse_segment(gzip.compress(segment_text(header, LINES)))


def test_out_of_order_and_duplicate_sequences_are_refused():
    for lines in ([record(11), record(10)], [record(10), record(10)]):
        with pytest.raises(BadLine, match="strictly ascending"):
            cl.build_segment(FIELDS, lines)
        header = good_header(lines, first_sequence="10", last_sequence="10")
        with pytest.raises(BadLine, match="strictly ascending"):
            cl.parse_segment(gzip.compress(segment_text(header, lines)))


@pytest.mark.parametrize("data, message", [
    (b"", "not gzip|truncated"),
    (b"plain text", "not gzip"),
    (gzip.compress(b"")[:-4], "truncated"),
    (gzip.compress(b'{"a":1}'), "no header line"),
    (gzip.compress(b"{}\n") + b"junk", "followed by other bytes"),
    (gzip.compress(b"[]\n"), "header is not one JSON object"),
])
def test_broken_containers_are_refused(data, message):
    with pytest.raises(BadLine, match=message):
        cl.parse_segment(data)


def test_line_structure_is_checked():
    text = segment_text(good_header(LINES), LINES)
    with pytest.raises(BadLine, match="does not end in a newline"):
        cl.parse_segment(gzip.compress(text[:-1]))
    blank = text.replace(LINES[1] + b"\n", LINES[1] + b"\n\n")
    with pytest.raises(BadLine):
        cl.parse_segment(gzip.compress(blank))


def test_oversize_segments_are_refused_before_they_are_held():
    bomb = gzip.compress(b"{" + b" " * (3 * 1024 * 1024) + b"}\n")
    with pytest.raises(BadLine, match="more than 1,048,576 bytes uncompressed"):
        cl.parse_segment(bomb, max_bytes=1024 * 1024)
    lines = [record(n) for n in range(1, 6)]
    with pytest.raises(BadLine, match="count is not 1 to 4"):
        cl.parse_segment(cl.build_segment(FIELDS, lines), max_records=4)


def test_build_refuses_bad_given_fields():
    with pytest.raises(ValueError):
        cl.build_segment({**FIELDS, "count": 3}, LINES)
    with pytest.raises(ValueError):
        cl.build_segment(FIELDS, [])
    with pytest.raises(BadLine, match="shard_id"):
        cl.build_segment({**FIELDS, "shard_id": "a/b"}, LINES)
    with pytest.raises(BadLine, match="stream_view_type"):
        cl.build_segment({**FIELDS, "stream_view_type": "OLD_IMAGE"}, LINES)


# ---- start, closed, gaps ------------------------------------------------------------------------

def test_small_objects_round_trip():
    start = cl.StartRecord("t1", STREAM, "NEW_IMAGE", 1796032800, 1796032900)
    assert cl.parse_start(cl.start_object(start)) == start
    closed = cl.ClosedRecord(SHARD, "1100000000017454423011", 1796032900)
    assert cl.parse_closed(cl.closed_object(closed)) == closed
    assert cl.parse_closed(cl.closed_object(cl.ClosedRecord(SHARD, None, 1))).last_sequence is None
    gap = cl.GapRecord("t1", None, 1796032800, "trimmed", STREAM, SHARD, 1796032900)
    assert cl.parse_gap(cl.gap_object(gap)) == gap
    assert gap.to_dict()["to"] == "2026-11-30T10:00:00Z"


@pytest.mark.parametrize("parse, obj, message", [
    (cl.parse_gap, {"reason": "bored"}, "reason is not one of"),
    (cl.parse_gap, {"from": "2026-11-30T10:00:01Z", "to": "2026-11-30T10:00:00Z"}, "from is after its to"),
    (cl.parse_gap, {"to": None}, "to is not a UTC time"),
    (cl.parse_gap, {"shard_id": ".."}, "shard_id is not a shard id"),
    (cl.parse_gap, {"change_log": "3.1"}, "format 3.1"),
    (cl.parse_gap, {"surprise": True}, "unknown fields"),
    (cl.parse_closed, {"last_sequence": "\u0661"}, "last_sequence is not a sequence number"),
    (cl.parse_closed, {"last_sequence": "1" * 41}, "last_sequence is not a sequence number"),
    (cl.parse_start, {"covered_from": 5}, "covered_from is not a UTC time"),
    (cl.parse_start, {"stream_view_type": "KEYS_ONLY"}, "stream_view_type"),
])
def test_hostile_small_objects_are_refused(parse, obj, message):
    base = {cl.parse_gap: cl.GapRecord("t1", 1, 2, "trimmed", STREAM, None, 3).to_dict(),
            cl.parse_closed: orjson.loads(cl.closed_object(cl.ClosedRecord(SHARD, "5", 1))),
            cl.parse_start: orjson.loads(cl.start_object(cl.StartRecord("t1", STREAM, "NEW_IMAGE", 1, 2)))}[parse]
    with pytest.raises(BadLine, match=message):
        parse(orjson.dumps({**base, **obj}))


def test_small_objects_are_bounded_and_json():
    with pytest.raises(BadLine, match="over 65,536 bytes"):
        cl.parse_gap(b" " * 70_000)
    with pytest.raises(BadLine, match="not one JSON object"):
        cl.parse_closed(b"[1]")
    with pytest.raises(BadLine, match="not one JSON object"):
        cl.parse_start(b"{")


# ---- order --------------------------------------------------------------------------------------

def stream_record(shard: str, seq: int) -> cl.StreamRecord:
    return cl.StreamRecord(shard, seq, 0, "INSERT", KEYS, KEYS, b"")


def test_a_child_shards_record_is_newer_whatever_its_sequence():
    parents = {"child": "parent", "grandchild": "child", "parent": None, "other": None}
    assert cl.is_newer(stream_record("child", 1), stream_record("parent", 99), parents)
    assert cl.is_newer(stream_record("grandchild", 1), stream_record("parent", 99), parents)
    assert not cl.is_newer(stream_record("parent", 99), stream_record("grandchild", 1), parents)
    assert cl.is_newer(stream_record("other", 100), stream_record("parent", 99), parents)
    assert not cl.is_newer(stream_record("other", 98), stream_record("child", 99), parents)
    assert cl.is_newer(stream_record("parent", 2), stream_record("parent", 1), parents)
    assert not cl.is_newer(stream_record("parent", 1), stream_record("parent", 1), parents)


@pytest.mark.parametrize(("shard", "ancestor", "parents"), [
    ("a", "z", {"a": "b", "b": "a"}),
    ("a", "b", {"a": "b", "b": "a"}),  # the ancestor on the loop: refused, not "a descends from b"
    ("b", "a", {"a": "b", "b": "a"}),
    ("a", "a", {"a": "a"}),
    ("c", "a", {"c": "b", "b": "a", "a": "c"}),
    ("x", "a", {"x": "a", "a": "a"}),
])
def test_a_lineage_loop_is_refused(shard, ancestor, parents):
    with pytest.raises(BadLine, match="loop"):
        cl.descends_from(shard, ancestor, parents)


def test_two_records_in_shards_that_are_each_others_parent_have_no_order():
    parents = {"a": "b", "b": "a"}
    with pytest.raises(BadLine, match="loop"):
        cl.is_newer(stream_record("a", 1), stream_record("b", 2), parents)
    with pytest.raises(BadLine, match="loop"):
        cl.is_newer(stream_record("b", 2), stream_record("a", 1), parents)


def test_utc_text_and_parse_utc():
    assert cl.utc_text(1796032800.9) == "2026-11-30T10:00:00Z"
    assert cl.parse_utc("2026-11-30T10:00:00Z") == 1796032800
    for bad in ("2026-11-30T10:00:00.5Z", "2026-11-30T10:00:00+00:00", "\u0662026-11-30T10:00:00Z", None):
        with pytest.raises(BadLine):
            cl.parse_utc(bad)


def test_read_header_reads_only_the_first_line():
    import io

    data = cl.build_segment(FIELDS, LINES)
    assert cl.read_header(io.BytesIO(data)) == cl.parse_segment(data)[0]
    with pytest.raises(BadLine, match="ends before its header line"):
        cl.read_header(io.BytesIO(gzip.compress(b'{"change_log": "1.0"')))
    with pytest.raises(BadLine, match="header line is over"):
        cl.read_header(io.BytesIO(gzip.compress(b"{" + b" " * 200_000 + b"}\n")))
    with pytest.raises(BadLine, match="not gzip"):
        cl.read_header(io.BytesIO(b"not gzip at all"))
