"""format/item_key.py: keys as users type them, checked against the table's key."""

from __future__ import annotations

import pytest

from ddbvault.format.dataline import KeySpec
from ddbvault.format.item_key import MAX_KEYS, parse_key, parse_keys

SPEC = KeySpec((("pk", "S"), ("sk", "N")))
BINARY = KeySpec((("id", "B"),))


def test_the_short_form_is_typed_by_the_table_key_and_ordered_by_it():
    assert parse_key("sk=10,pk=a", SPEC) == {"pk": {"S": "a"}, "sk": {"N": "10"}}
    assert list(parse_key("sk=10,pk=a", SPEC)) == ["pk", "sk"]
    assert parse_key("id=AAE=", BINARY) == {"id": {"B": "AAE="}}
    assert parse_key("pk=a=b,sk=1", SPEC) == {"pk": {"S": "a=b"}, "sk": {"N": "1"}}


def test_the_json_form_takes_commas_and_any_order():
    assert parse_key('{"sk":{"N":"1"},"pk":{"S":"a,b"}}', SPEC) == {"pk": {"S": "a,b"}, "sk": {"N": "1"}}
    assert parse_key('{"pk":{"S":"a"}}', None) == {"pk": {"S": "a"}}


@pytest.mark.parametrize(("text", "problem"), [
    ("pk=a", "key attribute \"sk\" is missing"),
    ("pk=a,sk=x", "N is not a number"),
    ("pk=a,sk=1,other=2", "one of the table's key attributes"),
    ("pk=a,pk=b", "twice"),
    ("pk", "NAME=VALUE"),
    ("pk=,sk=1", "is empty"),
    ('{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"y"}}', "not the table's key"),
    ('{"pk":{"N":"1"},"sk":{"N":"1"}}', "the table's key type is S"),
    ('{"pk": [1]}', "exactly one type descriptor"),
    ("{not json", "not one JSON object"),
    ("", "a key is"),
    ("pk=" + "a" * 5000, "at most 4096"),
])
def test_bad_keys_are_refused_naming_no_value(text, problem):
    with pytest.raises(ValueError) as refused:
        parse_key(text, SPEC)
    assert problem in str(refused.value)
    assert "secret" not in str(refused.value)


def test_the_short_form_needs_the_table_key():
    with pytest.raises(ValueError, match="give the key as JSON"):
        parse_key("pk=a", None)


def test_a_keys_file_names_the_bad_line_and_is_bounded():
    lines = [b'{"pk":{"S":"a"},"sk":{"N":"1"}}\n', b"\n", b"pk=a,sk=2\n"]
    with pytest.raises(ValueError, match="line 3: a keys file holds one JSON key per line"):
        parse_keys(lines, SPEC)
    assert parse_keys(lines[:2], SPEC) == [{"pk": {"S": "a"}, "sk": {"N": "1"}}]
    many = (b'{"pk":{"S":"a"},"sk":{"N":"%d"}}' % n for n in range(MAX_KEYS + 1))
    with pytest.raises(ValueError, match="more than 100,000 keys"):
        parse_keys(many, SPEC)
