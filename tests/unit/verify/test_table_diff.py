"""The pure half of `verify --against-table`: canonical digests and the bounded comparison."""

from __future__ import annotations

import orjson
import pytest

from ddbvault.format.codec import item_to_wire
from ddbvault.devtools.sample_data import edge_case_items, sample_item
from ddbvault.verify.table_diff import (DIFFERS, MISSING_FROM_TABLE, ONLY_IN_TABLE, TableDiff,
                                 differing_attributes, encode_key, item_digest)

KEY = ("pk", "sk")


def item(pk: str, sk: str = "1", **attrs) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": sk}, **attrs}


def test_digest_ignores_set_order_and_attribute_order_only():
    a = item("a", tags={"SS": ["x", "y"]}, n={"NS": ["1", "2"]}, b={"BS": ["AA==", "AQ=="]},
             m={"M": {"p": {"S": "1"}, "q": {"SS": ["k", "j"]}}})
    b = {"m": {"M": {"q": {"SS": ["j", "k"]}, "p": {"S": "1"}}}, "b": {"BS": ["AQ==", "AA=="]},
         "n": {"NS": ["2", "1"]}, "tags": {"SS": ["y", "x"]}, "sk": {"N": "1"}, "pk": {"S": "a"}}
    assert item_digest(a) == item_digest(b) and len(item_digest(a)) == 32


@pytest.mark.parametrize("left,right", [
    ({"N": "1"}, {"N": "1.0"}),  # exact wire form: N strings as DynamoDB wrote them
    ({"L": [{"S": "a"}, {"S": "b"}]}, {"L": [{"S": "b"}, {"S": "a"}]}),  # lists keep order
    ({"S": "1"}, {"N": "1"}),
    ({"SS": ["a"]}, {"SS": ["a", "b"]}),
    ({"M": {}}, {"L": []}),
    ({"B": "AA=="}, {"B": "AAA="}),
    ({"BOOL": True}, {"BOOL": False}),
])
def test_digest_tells_different_values_apart(left, right):
    assert item_digest(item("a", v=left)) != item_digest(item("a", v=right))


def test_digest_is_stable_for_every_edge_case():
    for value in [item_to_wire(i) for i in edge_case_items() + [sample_item(3)]]:
        assert item_digest(value) == item_digest(orjson.loads(orjson.dumps(value)))


def test_differing_attributes_names_changed_added_and_removed():
    backup = item("a", x={"S": "1"}, gone={"N": "1"}, same={"SS": ["p", "q"]})
    table = item("a", x={"S": "2"}, new={"N": "1"}, same={"SS": ["q", "p"]})
    assert differing_attributes(backup, table) == ["gone", "new", "x"]


def test_encode_key_is_compact_json_and_names_a_missing_key_attribute():
    assert orjson.loads(encode_key(item("a", "2", x={"S": "v"}), KEY)) == {"pk": {"S": "a"}, "sk": {"N": "2"}}
    with pytest.raises(ValueError, match="'sk'"):
        encode_key({"pk": {"S": "a"}}, KEY)


def _compare(backup: list[dict], table: list[dict], limit: int = 10) -> TableDiff:
    diff = TableDiff("t", KEY, limit)
    for entry in backup:
        diff.add_backup_item(entry)
    for entry in table:
        diff.add_table_item(entry)
    diff.finish()
    return diff


def test_missing_only_in_table_and_differing_are_counted_and_named():
    backup = [item("same", v={"S": "1"}), item("changed", v={"S": "old"}), item("deleted")]
    table = [item("changed", v={"S": "new"}, w={"N": "1"}), item("same", v={"S": "1"}), item("new")]
    diff = _compare(backup, table)
    assert diff.wanted() == {encode_key(item("changed"), KEY)}
    for entry in backup:
        if diff.resolve(entry):
            break
    result = diff.result()
    assert not result.matches
    assert (result.backup_items, result.table_items) == (3, 3)
    assert (result.missing_from_table, result.only_in_table, result.differing) == (1, 1, 1)
    kinds = {d.kind: d for d in result.differences}
    assert kinds[DIFFERS].key == {"pk": {"S": "changed"}, "sk": {"N": "1"}}
    assert kinds[DIFFERS].attributes == ("v", "w")
    assert kinds[ONLY_IN_TABLE].key["pk"] == {"S": "new"}
    assert kinds[MISSING_FROM_TABLE].key["pk"] == {"S": "deleted"}


def test_output_carries_keys_and_attribute_names_but_no_other_values():
    diff = _compare([item("k1", secret={"S": "OLD-SECRET"})], [item("k1", secret={"S": "NEW-SECRET"})])
    diff.resolve(item("k1", secret={"S": "OLD-SECRET"}))
    result = diff.result()
    text = orjson.dumps(result.to_dict()).decode() + "\n".join(result.lines())
    assert "k1" in text and "secret" in text and "SECRET" not in text


def test_reported_differences_are_capped_but_counts_are_not():
    diff = _compare([item(f"b{i}") for i in range(7)], [item(f"t{i}") for i in range(5)], limit=3)
    result = diff.result()
    assert (result.missing_from_table, result.only_in_table) == (7, 5)
    assert len(result.differences) == 3 and "showing 3 of 12" in result.lines()[-1]


def test_matching_sides_match_and_report_nothing():
    items = [item_to_wire(sample_item(i)) for i in range(50)]
    result = _compare(items, list(reversed(items))).result()
    assert result.matches and result.lines() == [] and result.table_items == 50


def test_a_key_twice_in_the_backup_is_a_mismatch():
    result = _compare([item("a"), item("a")], [item("a")]).result()
    assert result.duplicate_backup_keys == 1 and not result.matches


def test_backup_side_keeps_a_digest_per_item_not_the_item():
    diff = TableDiff("t", KEY)
    diff.add_backup_item(item("a", big={"S": "x" * 100_000}))
    (key, digest), = diff._digests.items()
    assert isinstance(key, str) and len(key) < 50 and len(digest) == 32
