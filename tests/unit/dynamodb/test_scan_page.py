"""A Scan response body -> a ScanPage: the data lines a backup writes are byte for byte the lines
of the item dicts (the pre-issue-10 path: orjson.dumps({"Item": item}) + newline per item of
orjson.loads(body)), and an unusable body is one MalformedResponse naming the segment, never a
value. The parse is pure: no client or server is involved (TableSource is built without one)."""

from __future__ import annotations

import gc
import json
import threading

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbvault.devtools.sample_data import edge_case_items, sample_item
from ddbvault.dynamodb.scan import TableSource
from ddbvault.errors import AwsError
from ddbvault.format.codec import encode_lines, item_to_wire

ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/t"


def source() -> TableSource:
    table = TableSource.__new__(TableSource)  # only the pure _parse_page is used: no session
    table.arn = ARN
    return table


def old_lines(body: bytes) -> bytes:
    """The data lines as backup wrote them before Scan pages became lines inside the parse."""
    return b"".join(orjson.dumps({"Item": item}) + b"\n" for item in orjson.loads(body)["Items"])


def page_body(items: list[dict], **extra) -> bytes:
    return orjson.dumps({"Items": items, "Count": len(items), "ScannedCount": len(items),
                         "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 2.5}, **extra})


# Wire-form attribute values of every type, nested maps and lists included.
text = st.text(max_size=12)
number = st.from_regex(r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,10})?(E[+-]?[0-9]{1,2})?", fullmatch=True)
b64 = st.binary(max_size=12).map(lambda b: item_to_wire({"x": {"B": b}})["x"]["B"])
scalar = st.one_of(text.map(lambda s: {"S": s}), number.map(lambda n: {"N": n}), b64.map(lambda b: {"B": b}),
                   st.booleans().map(lambda b: {"BOOL": b}), st.just({"NULL": True}),
                   st.lists(text, min_size=1, max_size=4, unique=True).map(lambda v: {"SS": v}),
                   st.lists(number, min_size=1, max_size=4, unique=True).map(lambda v: {"NS": v}),
                   st.lists(b64, min_size=1, max_size=4, unique=True).map(lambda v: {"BS": v}))
value = st.recursive(scalar, lambda inner: st.one_of(
    st.dictionaries(text, inner, max_size=4).map(lambda m: {"M": m}),
    st.lists(inner, max_size=4).map(lambda v: {"L": v})), max_leaves=12)
item = st.dictionaries(text.filter(bool), value, min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(item, max_size=8), st.sampled_from(["orjson", "spaced", "ascii"]))
def test_lines_are_the_item_dicts_lines_byte_for_byte(items, server_style):
    """Whatever the server's JSON style (compact, spaced like moto's json.dumps, non-ASCII escaped
    as \\uXXXX), the lines are what orjson writes for the items parsed from the body."""
    document = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
    body = {"orjson": lambda: orjson.dumps(document),
            "spaced": lambda: json.dumps(document, ensure_ascii=False).encode(),
            "ascii": lambda: json.dumps(document, ensure_ascii=True).encode()}[server_style]()
    page = source()._parse_page(body, "segment 0 of 1", lines=True)
    assert page.lines == old_lines(body) == encode_lines(orjson.loads(body)["Items"])
    assert page.count == len(items) and page.items == []
    assert page.largest_item_bytes == max((len(orjson.dumps(i)) for i in orjson.loads(body)["Items"]), default=0)


def test_sample_and_edge_items_and_the_end_of_a_segment():
    items = [item_to_wire(sample_item(i)) for i in range(50)] + [item_to_wire(i) for i in edge_case_items()]
    body = page_body(items, LastEvaluatedKey={"pk": items[-1]["pk"], "sk": items[-1]["sk"]})
    page = source()._parse_page(body, "segment 0 of 1", lines=True)
    assert page.lines == old_lines(body) and page.count == len(items)
    assert page.last_evaluated_key == {"pk": items[-1]["pk"], "sk": items[-1]["sk"]} and page.consumed_rcu == 2.5
    empty = source()._parse_page(page_body([]), "segment 0 of 1", lines=True)
    assert (empty.lines, empty.count, empty.largest_item_bytes, empty.last_evaluated_key) == (b"", 0, 0, None)


def test_duplicate_names_in_an_item_are_written_as_orjson_reads_them():
    body = b'{"Items":[{"pk":{"S":"a"},"v":{"S":"first"},"v":{"S":"last"}}],"Count":1}'
    page = source()._parse_page(body, "segment 0 of 1", lines=True)
    assert page.lines == old_lines(body) == b'{"Item":{"pk":{"S":"a"},"v":{"S":"last"}}}\n'


def test_dicts_are_still_there_for_verify():
    items = [item_to_wire(sample_item(i)) for i in range(3)]
    page = source()._parse_page(page_body(items), "segment 0 of 1")
    assert page.items == items and page.lines is None


SECRET = "s3cr3t-value"


@pytest.mark.parametrize("body,reason", [
    (b'{"Items": [{"pk": {"S": "a\\ud800"}}], "Count": 1', "JSONDecodeError"),
    (b'{"Items": [{"pk": {"S": "' + SECRET.encode() + b'"}}]', "JSONDecodeError"),
    (b'{"Items": [{"pk": {"S": "\xff\xfe"}}], "Count": 1}', "JSONDecodeError"),
    (b'{"Items": [{"pk": {"S": "x"}, "d": ' + b'{"L": [' * 600 + b']}' * 600 + b'}], "Count": 1}',
     "JSONDecodeError"),
    (b'["Items"]', "AttributeError"),
    (b'{"Items": {"pk": {"S": "x"}}}', "Items is not a list"),
    (b'{"Items": [], "LastEvaluatedKey": "' + SECRET.encode() + b'"}', "LastEvaluatedKey is not an object"),
    (b'{"Items": [{"pk": {"S": "' + SECRET.encode() + b'"}}], "Count": 2}', "Count is 2 but the page holds 1"),
    (b'{"Items": [{"pk": {"S": "x"}}], "Count": "1"}', "Count is a string, not a whole number"),
    (b'{"Items": [{"pk": {"S": "x"}}], "Count": true}', "Count is a boolean, not a whole number"),
    (b'{"Items": [{"pk": {"S": "x"}}, {"pk": {"S": "y"}}], "Count": 2, "ScannedCount": 1}',
     "ScannedCount is 1, fewer than the 2 Items"),
    (b'{"Items": [], "Count": 0, "ScannedCount": 1.5}', "ScannedCount is a fraction, not a whole number"),
    (b'{"Items": [], "ConsumedCapacity": {"CapacityUnits": -1}}', "CapacityUnits is -1"),
    (b'{"Items": [], "ConsumedCapacity": {"CapacityUnits": "' + SECRET.encode() + b'"}}', "CapacityUnits is a string"),
])
@pytest.mark.parametrize("lines", [True, False])
def test_an_unusable_body_is_one_malformed_response_without_values(body, reason, lines):
    with pytest.raises(AwsError) as err:
        source()._parse_page(body, "segment 3 of 8", lines=lines)
    assert err.value.code == "MalformedResponse" and err.value.action == "Scan"
    assert "segment 3 of 8" in err.value.message and reason in err.value.message, err.value.message
    assert SECRET not in err.value.message and ARN in err.value.message
    assert gc.isenabled()


def test_json_numbers_in_an_item_are_written_as_orjson_reads_them():
    """Not DynamoDB JSON (N is a string), but the lines stay those of the parsed dicts."""
    body = b'{"Items": [{"pk": {"S": "x"}, "n": {"N": 123456789012345678901234567890}, "f": 1E2}], "Count": 1}'
    page = source()._parse_page(body, "segment 0 of 1", lines=True)
    assert page.lines == old_lines(body) == b'{"Item":{"pk":{"S":"x"},"n":{"N":1.2345678901234568e+29},"f":100.0}}\n'


def test_the_collector_is_paused_only_during_a_parse_and_left_as_found():
    body = page_body([item_to_wire(sample_item(i)) for i in range(200)])
    assert gc.isenabled()
    errors = []

    def parse_many():
        try:
            for _ in range(30):
                source()._parse_page(body, "segment 0 of 1", lines=True)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=parse_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and gc.isenabled()
    gc.disable()
    try:  # a process that turned the collector off keeps it off
        source()._parse_page(body, "segment 0 of 1", lines=True)
        assert not gc.isenabled()
    finally:
        gc.enable()
