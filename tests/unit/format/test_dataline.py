"""dataline.parse_line: exactly one {"Item": ...} object of valid attribute values, or BadLine.

Every malformed kind is refused with a message that names the attribute, never its value;
every valid type is accepted and comes back as the parsed item, which encode_put serialises.
"""

from __future__ import annotations

import base64

import orjson
import pytest

from ddbvault.format.dataline import BadLine, KeySpec, encode_put, key_fingerprint, parse_line
from ddbvault.devtools.sample_data import edge_case_items, sample_item
from ddbvault.format.codec import item_to_wire

KEY = KeySpec.of({"KeySchema": [{"AttributeName": "sk", "KeyType": "RANGE"},
                                {"AttributeName": "pk", "KeyType": "HASH"}],
                  "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}]})
SECRET = "SECRET-VALUE-42"
B64 = base64.b64encode(b"\x00\x01secret").decode()


def line(**attributes) -> bytes:
    return orjson.dumps({"Item": {"pk": {"S": "user#1"}, "sk": {"N": "7"}, **attributes}})


def refused(raw: bytes, key: KeySpec | None = KEY) -> str:
    with pytest.raises(BadLine) as info:
        parse_line(raw, key)
    message = str(info.value)
    assert SECRET not in message and "secret" not in message
    return message


def test_key_spec_puts_the_partition_key_first_and_needs_types():
    assert KEY.attributes == (("pk", "S"), ("sk", "N"))
    assert KeySpec.of({}) is None
    assert KeySpec.of({"KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}], "AttributeDefinitions": []}) is None


@pytest.mark.parametrize("value", [
    {"S": ""}, {"S": SECRET}, {"S": "ключ \u2028 \"quoted\""},
    {"N": "0"}, {"N": "-0"}, {"N": "12345678901234567890123456789012345678"},
    {"N": "9.9999999999999999999999999999999999999E+125"}, {"N": "-9.9999999999999999999999999999999999999E+125"},
    {"N": "1E-130"}, {"N": "-1e-130"}, {"N": "0.000"}, {"N": "1.5"}, {"N": ".5"}, {"N": "100000000000000000000000000000000000000000"},
    {"B": ""}, {"B": B64},
    {"SS": ["a", "b"]}, {"NS": ["1", "2.5", "-3E+4"]}, {"BS": [B64, "AA=="]},
    {"M": {}}, {"M": {"": {"S": "empty key inside a map"}, "x": {"L": [{"NULL": True}, {"BOOL": False}]}}},
    {"L": []}, {"L": [{"M": {"deep": {"L": [{"N": "1"}]}}}]},
    {"BOOL": True}, {"BOOL": False}, {"NULL": True},
])
def test_every_valid_type_is_accepted_and_serialised_back_as_it_was(value):
    item, key = parse_line(line(a=value), KEY)
    assert item["a"] == value and key == {"pk": {"S": "user#1"}, "sk": {"N": "7"}}
    assert orjson.loads(encode_put(item)) == {"PutRequest": {"Item": item}}


def test_the_projects_own_edge_case_and_sample_items_pass():
    for item in edge_case_items() + [sample_item(i, payload_bytes=100) for i in range(20)]:
        parse_line(orjson.dumps({"Item": item_to_wire(item)}), KEY)


@pytest.mark.parametrize("raw, says", [
    # the injection of adversarial-t2/10: text after the object that would close the request
    (line() + b'],"victim":[{"PutRequest":{"Item":{"pk":{"S":"INJECTED"},"sk":{"N":"1"}}}', "not one JSON object"),
    (line() + b" trailing", "not one JSON object"),
    (line() + line(), "not one JSON object"),
    (b'{"Item": {"pk": {"S": "user#1"}, "sk": {"N": "7"}}', "not one JSON object"),
    (b"not json " + SECRET.encode(), "not one JSON object"),
    (b"", "not one JSON object"),
    (b'"\\ud800"', "not one JSON object"),
    (b"[]", '{"Item"'),
    (b'{"Item": []}', '{"Item"'),
    (b'{"Item": {}}', "no attributes"),
    (b'{"Item": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "Extra": 1}', '{"Item"'),
    (b'{"item": {"pk": {"S": "a"}, "sk": {"N": "1"}}}', '{"Item"'),
])
def test_anything_but_one_item_object_is_refused(raw, says):
    assert says in refused(raw)


@pytest.mark.parametrize("value, says", [
    ({"Q": SECRET}, 'unknown type descriptor "Q"'),
    ({"S": SECRET, "N": "1"}, "exactly one type descriptor"),
    ({}, "exactly one type descriptor"),
    ([SECRET], "exactly one type descriptor"),
    (SECRET, "exactly one type descriptor"),
    ({"S": 5}, "S is not a string"),
    ({"N": 5}, "N is not a string"),
    ({"N": SECRET}, "N is not a number"),
    ({"N": "not-a-number"}, "N is not a number"),
    ({"N": ""}, "N is not a number"),
    ({"N": "NaN"}, "N is not a number"), ({"N": "Infinity"}, "N is not a number"),
    ({"N": " 1"}, "N is not a number"), ({"N": "1_000"}, "N is not a number"), ({"N": "0x10"}, "N is not a number"),
    ({"N": "1.00000000000000000000000000000000000001"}, "more than 38 significant digits"),
    ({"N": "1E+126"}, "outside DynamoDB's range"), ({"N": "-1E+126"}, "outside DynamoDB's range"),
    ({"N": "9.9E-131"}, "outside DynamoDB's range"),
    ({"B": SECRET + "!"}, "B is not valid base64"), ({"B": "QQ"}, "B is not valid base64"),
    ({"B": 7}, "B is not a base64 string"),
    ({"SS": []}, "SS is not a non-empty list"), ({"SS": "a"}, "SS is not a non-empty list"),
    ({"SS": ["a", 1]}, "SS has a member that is not a string"),
    ({"SS": [SECRET, SECRET]}, "SS has duplicate members"),
    ({"NS": ["1", "x"]}, "NS has a member that is not a number"),
    ({"NS": ["1", "1.0"]}, "NS has duplicate members"),
    ({"BS": ["AA==", "!!"]}, "BS has a member that is not valid base64"),
    ({"BS": [B64, B64]}, "BS has duplicate members"),
    ({"M": []}, "M is not an object"),
    ({"L": {}}, "L is not a list"),
    ({"BOOL": "true"}, "BOOL is not true or false"), ({"BOOL": 1}, "BOOL is not true or false"),
    ({"NULL": False}, "NULL is not true"), ({"NULL": None}, "NULL is not true"),
])
def test_every_malformed_value_is_refused_naming_the_attribute_not_the_value(value, says):
    message = refused(line(a=value))
    assert message.startswith('attribute "a"') and says in message


def test_a_nested_problem_names_its_path():
    value = {"M": {"x": {"L": [{"N": "1"}, {"M": {"y": {"N": SECRET}}}]}}}
    assert refused(line(a=value)) == 'attribute "a"."x"[1]."y": N is not a number'


@pytest.mark.parametrize("levels, says", [(300, ("nests deeper than",)),
                                           # orjson >= 3.10 refuses past 1024 levels itself; older
                                           # ones parse it and ddbvault's own bound refuses it
                                           (2000, ("not one JSON object", "nests deeper than"))])
def test_nesting_is_bounded_without_a_recursion_error(levels, says):
    raw = (b'{"Item":{"pk":{"S":"a"},"sk":{"N":"1"},"a":' + b'{"L":[' * levels + b'{"NULL":true}'
           + b"]}" * levels + b"}}")
    message = refused(raw)
    assert any(phrase in message for phrase in says), message


def test_empty_top_level_attribute_name_is_refused():
    assert "empty name" in refused(line(**{"": {"S": "x"}}))


@pytest.mark.parametrize("item, says", [
    ({"pk": {"S": "a"}}, 'key attribute "sk" is missing'),
    ({"sk": {"N": "1"}}, 'key attribute "pk" is missing'),
    ({"pk": {"S": "a"}, "sk": {"Q": "17"}}, 'unknown type descriptor "Q"'),
    ({"pk": {"S": "a"}, "sk": {"S": "17"}}, 'key attribute "sk" is S, the table\'s key type is N'),
    ({"pk": {"B": "AA=="}, "sk": {"N": "1"}}, 'key attribute "pk" is B'),
    ({"pk": {"S": ""}, "sk": {"N": "1"}}, 'key attribute "pk" is empty'),
])
def test_the_tables_key_must_be_there_with_its_type(item, says):
    raw = orjson.dumps({"Item": item})
    assert says in refused(raw)
    if "descriptor" in says:  # without a KeySpec a bad descriptor is still bad ...
        assert says in refused(raw, None)
    else:  # ... but the key is not checked
        assert parse_line(raw, None) == (item, None)


def test_key_fingerprints_compare_keys_by_value():
    fp = key_fingerprint
    assert fp({"pk": {"S": "a"}, "sk": {"N": "1"}}) == fp({"pk": {"S": "a"}, "sk": {"N": "1.00"}})
    assert fp({"pk": {"S": "a"}, "sk": {"N": "100"}}) == fp({"pk": {"S": "a"}, "sk": {"N": "1E+2"}})
    assert fp({"pk": {"S": "a"}, "sk": {"N": "0"}}) == fp({"pk": {"S": "a"}, "sk": {"N": "-0.0"}})
    assert fp({"pk": {"S": "a"}, "sk": {"N": "1"}}) != fp({"pk": {"S": "a"}, "sk": {"N": "2"}})
    assert fp({"pk": {"S": "a"}, "sk": {"N": "1"}}) != fp({"pk": {"S": "a"}, "sk": {"S": "1"}})
    assert fp({"pk": {"S": "a1"}, "sk": {"N": "1"}}) != fp({"pk": {"S": "a"}, "sk": {"N": "11"}})
    assert fp({"id": {"B": "QQ=="}}) == fp({"id": {"B": "QR=="}})  # both are the byte b"A"
    big = "12345678901234567890123456789012345678"
    assert fp({"id": {"N": big}}) != fp({"id": {"N": big[:-1] + "9"}})


@pytest.mark.parametrize("schema", [{"KeySchema": "pk"}, {"KeySchema": [{"AttributeName": "pk"}],
                                     "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]},
                                    {"KeySchema": [{}], "AttributeDefinitions": [5]}, []])
def test_a_malformed_schema_gives_no_key_rather_than_a_crash(schema):
    assert KeySpec.of(schema) is None
