"""format/retention.py: keep policies parsed strictly, the tier chosen per UTC calendar period,
expiry, and the manifest's `retention` (format 1.2) written and read strictly."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from ddbvault.errors import IntegrityError, UsageError
from ddbvault.format.manifest import Manifest
from ddbvault.format.retention import (KeepPolicy, choose_tier, expires_at, keep_from_mapping,
                                       lookback_start, parse_keep, period_of, retention_for)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_parse_keep_reads_every_tier_and_writes_it_back():
    policy = parse_keep(" monthly=12, daily=7 ,weekly=5,yearly=3")
    assert policy == KeepPolicy(daily=7, weekly=5, monthly=12, yearly=3)
    assert policy.tiers == ("yearly", "monthly", "weekly", "daily")
    assert policy.to_text() == "daily=7,weekly=5,monthly=12,yearly=3"
    assert [policy.days(t) for t in ("daily", "weekly", "monthly", "yearly")] == [7, 35, 372, 1098]
    assert parse_keep("weekly=4,daily=0").tiers == ("weekly",)


@pytest.mark.parametrize("text, why", [
    ("", "'' is not TIER=COUNT"), ("daily", "'daily' is not TIER=COUNT"), ("daily=-1", "is not TIER=COUNT"),
    ("daily=7,", "'' is not TIER=COUNT"), ("hourly=3", "unknown tier 'hourly'"),
    ("daily=1,daily=2", "tier 'daily' is given twice"), ("daily=1001", "out of range 0..1000"),
    ("daily=0,weekly=0", "keeps nothing"), ("Daily=7", "not TIER=COUNT"),
    ("daily=\u0663", "not TIER=COUNT"),  # an Arabic-Indic 3: only ASCII digits are counts
    ("x" * 3000, "is not TIER=COUNT"),
    ("daily=" + "9" * 5000, "daily=99999999... (5000 digits) is out of range 0..1000"),
])
def test_malformed_policies_are_usage_errors_with_a_hint(text, why):
    with pytest.raises(UsageError) as caught:
        parse_keep(text)
    assert why in caught.value.message and caught.value.message.startswith("invalid --keep")
    assert len(caught.value.message) < 200  # a huge value is not repeated back in full
    assert "e.g. --keep daily=7,weekly=5,monthly=12" in caught.value.hint


@pytest.mark.parametrize("mapping, why", [
    ({"daily": "7"}, "retention.daily: the count must be a whole number"),
    ({"daily": True}, "whole number"), ({"hourly": 1}, "unknown tier"), ({}, "keeps nothing"), ([7], "mapping"),
])
def test_config_mapping_follows_the_same_rules(mapping, why):
    assert keep_from_mapping({"daily": 7, "monthly": 2}) == KeepPolicy(daily=7, monthly=2)
    with pytest.raises(UsageError) as caught:
        keep_from_mapping(mapping)
    assert why in caught.value.message


def test_periods_are_utc_calendar_periods_with_iso_weeks():
    assert period_of("weekly", utc(2026, 12, 31)) == period_of("weekly", utc(2027, 1, 3))  # ISO 2026-W53
    assert period_of("weekly", utc(2027, 1, 3)) != period_of("weekly", utc(2027, 1, 4))  # Monday
    assert period_of("monthly", utc(2026, 1, 31, 23)) != period_of("monthly", utc(2026, 2, 1))
    cet = datetime.fromisoformat("2026-02-01T00:30:00+01:00")  # still January in UTC
    assert period_of("monthly", cet) == (2026, 1)
    assert period_of("daily", utc(2026, 5, 5, 23, 59)) == (2026, 5, 5)


def test_tier_is_the_highest_whose_period_has_none_yet():
    policy = parse_keep("daily=7,weekly=5,monthly=12")
    now = utc(2026, 6, 10, 3)  # Wednesday
    assert choose_tier(policy, now, []) == "monthly"
    assert choose_tier(policy, now, [("monthly", utc(2026, 6, 1))]) == "weekly"
    assert choose_tier(policy, now, [("monthly", utc(2026, 6, 1)), ("weekly", utc(2026, 6, 8))]) == "daily"
    # a weekly from last week, a monthly from last month do not count
    assert choose_tier(policy, now, [("monthly", utc(2026, 5, 31)), ("weekly", utc(2026, 6, 7))]) == "monthly"
    taken = [("monthly", utc(2026, 6, 1)), ("weekly", utc(2026, 6, 8)), ("daily", utc(2026, 6, 10, 1))]
    assert choose_tier(policy, now, taken) == "daily"  # every slot taken: still daily
    assert choose_tier(parse_keep("weekly=4,monthly=2"), now,
                       [("monthly", utc(2026, 6, 2)), ("weekly", utc(2026, 6, 9))]) == "weekly"  # lowest kept


def test_a_backup_dated_after_now_holds_no_slot():
    policy = parse_keep("daily=7,yearly=2")
    now = utc(2026, 11, 30, 12)
    assert choose_tier(policy, now, [("yearly", utc(2026, 12, 31, 23, 59))]) == "yearly"
    assert choose_tier(policy, now, [("yearly", utc(2026, 1, 1))]) == "daily"


def test_expiry_is_start_plus_count_times_tier_days():
    policy = parse_keep("daily=7,monthly=12")
    assert expires_at(policy, "monthly", utc(2026, 1, 1)) == utc(2027, 1, 8)
    assert retention_for(policy, "daily", utc(2026, 1, 1, 2, 3, 4, 999)).expires_at == "2026-01-08T02:03:04Z"


MANIFEST = Manifest(tool_version="1", backup_id="20260101T000000Z-abcdef", source={}, schema={}, options={},
                    started_at="2026-01-01T00:00:00.000Z", finished_at="2026-01-01T00:00:01.000Z", objects=[],
                    consumed_capacity={})


def test_manifest_records_retention_as_format_1_2_and_reads_it_back():
    retained = Manifest(**{**MANIFEST.__dict__, "retention": retention_for(parse_keep("weekly=2"), "weekly",
                                                                            utc(2026, 1, 1))})
    body = orjson.loads(retained.to_json())
    assert body["format_version"] == "1.2"
    assert body["retention"] == {"tier": "weekly", "expires_at": "2026-01-15T00:00:00Z", "policy": {"weekly": 2}}
    assert Manifest.from_json(retained.to_json()).retention == retained.retention
    plain = orjson.loads(MANIFEST.to_json())
    assert plain["format_version"] == "1.0" and "retention" not in plain  # older readers see no change
    assert Manifest.from_json(MANIFEST.to_json()).retention is None


@pytest.mark.parametrize("retention, why", [
    ({"tier": "hourly", "expires_at": "2026-01-15T00:00:00Z"}, "retention.tier: not a tier"),
    ({"tier": "daily", "expires_at": "soon"}, "retention.expires_at: expected a UTC time"),
    ({"tier": "daily", "expires_at": "2026-01-15T00:00:00+02:00"}, "retention.expires_at: expected a UTC time"),
    ({"tier": "daily", "expires_at": 1767225600}, "retention.expires_at"),
    # other ISO 8601 spellings are not what a writer stores: refused, not read as some time
    *[({"tier": "daily", "expires_at": text}, "retention.expires_at: expected a UTC time")
      for text in ("2027-01-01Z", "2027-W01-1T00:00:00Z", "2027-01-01t00:00:00Z", "2027-01-01 00:00:00Z",
                   "2027-01-01T00:00:00.123456789Z", "2027-01-01T00:00Z", "\u0662027-01-01T00:00:00Z")],
    ({"tier": "daily", "expires_at": "2026-01-15T00:00:00Z", "policy": {"daily": "7"}}, "retention.policy"),
    ({"expires_at": "2026-01-15T00:00:00Z"}, "retention.tier: Field required"),
    ("daily", "retention"),
])
def test_a_garbage_retention_is_refused_naming_the_field(retention, why):
    body = orjson.loads(MANIFEST.to_json())
    body["format_version"], body["retention"] = "1.2", retention
    with pytest.raises(IntegrityError) as caught:
        Manifest.from_json(orjson.dumps(body))
    assert why in caught.value.message


def test_only_backups_of_the_current_periods_need_reading():
    now = utc(2026, 6, 10, 15)  # a Wednesday
    assert lookback_start(parse_keep("daily=7"), now) == utc(2026, 6, 10)
    assert lookback_start(parse_keep("daily=7,weekly=4"), now) == utc(2026, 6, 8)
    assert lookback_start(parse_keep("weekly=4,monthly=3"), utc(2026, 7, 1, 3)) == utc(2026, 6, 29)  # week first
    assert lookback_start(parse_keep("daily=1,yearly=1"), now) == utc(2026, 1, 1)
