"""Table selectors and restore renames, pure: parsing, matching, refusals."""

from __future__ import annotations

import pytest

from ddbvault.dynamodb.selectors import (Selector, describe, no_match, parse_rename, parse_selector,
                                         parse_selectors, renamed)
from ddbvault.errors import UsageError


@pytest.mark.parametrize("text, name, matches", [
    ("orders-*", "orders-eu", True),
    ("orders-*", "Orders-eu", False),  # case-sensitive
    ("orders-*", "old-orders-eu", False),
    ("orders-??", "orders-eu", True),
    ("orders-[eu]*", "orders-us", True),
    ("orders-[!u]*", "orders-us", False),
    ("billing", "billing", True),
    ("billing", "billing2", False),
])
def test_globs(text, name, matches):
    assert parse_selector(text).matches_name(name) is matches


def test_tags_match_key_and_exact_value():
    selector = parse_selector("tag:backup=daily")
    assert selector == Selector("tag:backup=daily", tag_key="backup", tag_value="daily")
    assert selector.matches_tags({"backup": "daily", "team": "x"})
    assert not selector.matches_tags({"backup": "Daily"})
    assert not selector.matches_tags({})
    assert not selector.matches_name("backup")  # a tag selector never matches by name
    assert parse_selector("tag:env=").matches_tags({"env": ""})
    assert parse_selector("tag:a:b/c=x=y").tag_value == "x=y"  # the first = separates


def test_duplicates_are_kept_once_in_order():
    assert [s.text for s in parse_selectors(["b-*", "a-*", "b-*"])] == ["b-*", "a-*"]


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("  ", "empty"), ("tag:", "tag:KEY=VALUE"), ("tag:backup", "tag:KEY=VALUE"),
    ("tag:=daily", "tag:KEY=VALUE"), ("tag:k=v\n", "tag:KEY=VALUE"), ("orders/*", "name pattern"),
    ("orders *", "name pattern"), ("x" * 256, "name pattern"),
])
def test_malformed_selectors_are_usage_errors(text, words):
    with pytest.raises(UsageError, match=words) as caught:
        parse_selector(text)
    assert "orders-*" in caught.value.hint


@pytest.mark.parametrize("text, name, target", [
    ("orders-*=dr-orders-*", "orders-eu", "dr-orders-eu"),
    ("orders-*=dr-orders-*", "orders-", "dr-orders-"),
    ("orders-*=dr-orders-*", "billing", None),
    ("*-orders=*-dr", "eu-orders", "eu-dr"),
    ("ab*ba=x*", "aba", None),  # head and tail may not overlap
    ("orders=dr-orders", "orders", "dr-orders"),
    ("orders=dr-orders", "orders-eu", None),
    ("orders-*=dr-all", "orders-eu", "dr-all"),
])
def test_rename_apply(text, name, target):
    assert parse_rename(text).apply(name) == target


@pytest.mark.parametrize("text", ["", "orders", "=x", "x=", "a*b*=c", "a*=b**", "a=b*", "a b=c", "a=b/c"])
def test_malformed_renames_are_usage_errors(text):
    with pytest.raises(UsageError, match="not a rename") as caught:
        parse_rename(text)
    assert "orders-*=dr-orders-*" in caught.value.hint


def test_renamed_first_match_wins_and_every_table_must_map():
    renames = (parse_rename("orders-eu=eu-special"), parse_rename("orders-*=dr-*"))
    assert renamed(["orders-eu", "orders-us"], renames) == {"orders-eu": "eu-special", "orders-us": "dr-us"}
    with pytest.raises(UsageError, match="no --rename maps 'billing'") as caught:
        renamed(["orders-eu", "billing"], renames)
    assert "'billing=billing'" in caught.value.hint
    assert renamed(["billing"], (parse_rename("*=*"),)) == {"billing": "billing"}  # said explicitly


def test_renamed_refuses_collisions_and_invalid_names():
    with pytest.raises(UsageError, match="both 'a-1' and 'a-2' to 'one'"):
        renamed(["a-1", "a-2"], (parse_rename("a-*=one"),))
    with pytest.raises(UsageError, match="not a valid table name"):
        renamed(["orders"], (parse_rename("orders*=x*"),))  # "x" is too short


def test_a_message_names_at_most_ten_selectors():
    many = parse_selectors([f"zz{i}-*" for i in range(3000)])
    message = no_match(many, "in us-east-1").message
    assert message.endswith("'zz8-*', 'zz9-*' and 2990 more") and len(message) < 200
    assert describe(many[:2]) == "'zz0-*', 'zz1-*'"


def test_hundreds_of_unmapped_tables_make_one_short_line():
    with pytest.raises(UsageError) as caught:
        renamed([f"t{i:03d}" for i in range(300)], (parse_rename("orders-*=dr-*"),))
    assert caught.value.message.endswith("'t008', 't009' and 290 more") and len(caught.value.message) < 200
    assert "'t000=dr-t000'" in caught.value.hint
