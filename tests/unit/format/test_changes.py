"""format/changes.py: incremental-export change records parsed strictly, and each key's last change."""

from __future__ import annotations

import orjson
import pytest

from ddbvault.format.changes import Change, final_changes, parse_change_line, request_of
from ddbvault.format.dataline import BadLine, KeySpec

KEY = KeySpec((("pk", "S"), ("sk", "N")))
KEYS = {"pk": {"S": "a"}, "sk": {"N": "1"}}


def line(**record) -> bytes:
    return orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "1700000000000001"}}, "Keys": KEYS, **record})


def test_a_put_and_a_delete_record():
    put = parse_change_line(line(NewImage={**KEYS, "v": {"S": "x"}}, OldImage={**KEYS}), KEY)
    assert put == Change(KEYS, {**KEYS, "v": {"S": "x"}}, 1700000000000001)
    assert orjson.loads(request_of(put)) == {"PutRequest": {"Item": {**KEYS, "v": {"S": "x"}}}}
    deleted = parse_change_line(line(OldImage={**KEYS, "v": {"S": "x"}}), KEY)
    assert deleted.new_image is None
    assert orjson.loads(request_of(deleted)) == {"DeleteRequest": {"Key": KEYS}}


@pytest.mark.parametrize("raw,message", [
    (b"not json", "not one JSON object"),
    (orjson.dumps({"Keys": KEYS}), "change record"),
    (orjson.dumps({"Metadata": {}, "Keys": KEYS}), "WriteTimestampMicros"),
    (orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "-1"}}, "Keys": KEYS}), "WriteTimestampMicros"),
    (orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "9" * 5000}}, "Keys": KEYS}), "WriteTimestampMicros"),
    (orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "\u0661\u0662"}}, "Keys": KEYS}), "WriteTimestampMicros"),
    (line(Item={**KEYS}), "change record"),
    (orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "1"}}, "Keys": {"pk": {"S": "a"}}}), "Keys: key attribute"),
    (orjson.dumps({"Metadata": {"WriteTimestampMicros": {"N": "1"}}, "Keys": {**KEYS, "v": {"S": "x"}}}),
     "not the table's key"),
    (line(NewImage={"pk": {"S": "b"}, "sk": {"N": "1"}}), "NewImage's key differs"),
    (line(NewImage={**KEYS, "v": {"N": "x1"}}), "NewImage: attribute"),
    (line(OldImage=[]), "OldImage is not an object"),
])
def test_bad_records_are_refused_without_values(raw, message):
    with pytest.raises(BadLine, match=message) as raised:
        parse_change_line(raw, KEY)
    assert "x1" not in str(raised.value)


def test_final_changes_keep_each_keys_last_change_by_time():
    other = {"pk": {"S": "b"}, "sk": {"N": "2"}}
    changes = [Change(KEYS, {**KEYS, "v": {"N": "2"}}, 20), Change(other, None, 5),
               Change(KEYS, {**KEYS, "v": {"N": "1"}}, 10),  # older, read later: loses
               Change({"pk": {"S": "a"}, "sk": {"N": "1.0"}}, None, 20)]  # the same key (1 == 1.0), a tie: later wins
    final = final_changes(changes)
    assert [c.keys for c in final] == [{"pk": {"S": "a"}, "sk": {"N": "1.0"}}, other]
    assert final[0].new_image is None
    assert final_changes(final) == final  # replaying the result is the same
