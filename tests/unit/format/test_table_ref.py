"""format.layout.parse_table_ref: a table name or a table ARN, strictly; hostile input gets one
UsageError naming what was wrong, with a hint, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ddbvault.errors import UsageError
from ddbvault.format.layout import TableRef, parse_table_ref

ARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"


def test_a_name_is_a_name_and_calls_name_it():
    ref = parse_table_ref("orders")
    assert ref == TableRef("orders")
    assert ref.api_name == "orders" and ref.region_for("us-east-1") == "us-east-1"


@pytest.mark.parametrize("arn, partition, region", [
    (ARN, "aws", "eu-west-1"),
    ("arn:aws-cn:dynamodb:cn-north-1:111122223333:table/o.r-d_s", "aws-cn", "cn-north-1"),
    ("arn:aws-us-gov:dynamodb:us-gov-west-1:111122223333:table/orders", "aws-us-gov", "us-gov-west-1"),
    ("arn:aws-iso-b:dynamodb:us-isob-east-1:111122223333:table/orders", "aws-iso-b", "us-isob-east-1"),
])
def test_a_table_arn_gives_its_parts_and_is_what_describe_table_takes(arn, partition, region):
    ref = parse_table_ref(arn)
    assert (ref.partition, ref.region, ref.account, ref.arn, ref.api_name) == \
        (partition, region, "111122223333", arn, arn)
    assert ref.name == arn.rsplit("/", 1)[1]


def test_the_region_is_the_arns_and_another_one_is_refused():
    ref = parse_table_ref(ARN)
    assert ref.region_for(None) == ref.region_for("eu-west-1") == "eu-west-1"
    with pytest.raises(UsageError, match="--region us-east-1 disagrees with the table ARN's region eu-west-1") as exc:
        ref.region_for("us-east-1")
    assert "drop --region" in exc.value.hint


@pytest.mark.parametrize("text, message, hint", [
    (f"{ARN}/stream/2026-11-30T00:00:00.000", "is a stream ARN, not a table's", f"pass the table's ARN, {ARN}"),
    (f"{ARN}/index/by-customer", "is an index ARN, not a table's", f"pass the table's ARN, {ARN}"),
    (f"{ARN}/export/01234567890123-abcdefgh", "is an export ARN", f"pass the table's ARN, {ARN}"),
    (f"{ARN}/backup/01234567890123-abcdefgh", "is a backup ARN", f"pass the table's ARN, {ARN}"),
    (f"{ARN}/", "nothing may follow table/NAME", f"pass the table's ARN, {ARN}"),
    (f"{ARN}/other/x", "nothing may follow table/NAME", None),
    ("arn:aws:dynamodb:eu-west-1:11112222333:table/orders", "is not a table ARN", None),  # 11 digits
    ("arn:aws:dynamodb:eu-west-1:1111222233334:table/orders", "is not a table ARN", None),  # 13 digits
    ("arn:aws:dynamodb:eu-west-1:١١١١٢٢٢٢٣٣٣٣:table/orders", "is not a table ARN", None),  # not ASCII digits
    ("arn:aws:dynamodb:EU-WEST-1:111122223333:table/orders", "is not a table ARN", None),
    ("arn:aws:dynamodb:europe:111122223333:table/orders", "is not a table ARN", None),
    ("arn:aws:dynamodb::111122223333:table/orders", "is not a table ARN", None),
    ("arn:aws:dynamodb::111122223333:global-table/orders", "is not a table ARN", None),
    ("arn:AWS:dynamodb:eu-west-1:111122223333:table/orders", "is not a table ARN", None),
    ("arn:aws:s3:::orders", "is not a table ARN", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/", "names no valid table", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/ab", "names no valid table", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/or ders", "names no valid table", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/orders\n", "names no valid table", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/" + "x" * 256, "names no valid table", None),
    ("arn:aws:dynamodb:eu-west-1:111122223333:table/*", "names no valid table", None),
    ("orders\n", "neither a table name", None),
    ("../etc", "neither a table name", None),
    ("or", "neither a table name", None),
    ("x" * 2000, "longer than 1024 characters", None),
    ("", "no table given", None),
])
def test_hostile_references_are_refused_with_the_fix(text, message, hint):
    with pytest.raises(UsageError, match=message) as exc:
        parse_table_ref(text, what="--table")
    assert exc.value.message.startswith("--table")
    assert exc.value.hint and (hint is None or exc.value.hint == hint)
    assert len(exc.value.message) < 400  # a long input is shortened, never printed whole
    assert "\n" not in exc.value.message


def test_no_string_is_none_given():
    with pytest.raises(UsageError, match="no table given"):
        parse_table_ref(None)


NAMES = st.text(alphabet="abcXYZ019_.-", min_size=3, max_size=255)


@given(NAMES, st.sampled_from(["aws", "aws-cn", "aws-us-gov"]), st.sampled_from(["eu-west-1", "ap-southeast-2"]),
       st.from_regex(r"\A[0-9]{12}\Z"))
def test_every_valid_arn_round_trips(name, partition, region, account):
    arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
    assert parse_table_ref(arn) == TableRef(name, arn, partition, region, account)
    assert parse_table_ref(name) == TableRef(name)


@given(st.text(max_size=300))
def test_any_text_is_a_reference_or_one_usage_error(text):
    try:
        ref = parse_table_ref(text)
    except UsageError as exc:
        assert exc.hint
        return
    assert ref.name in text and (ref.arn is None) == (ref.name == text)
