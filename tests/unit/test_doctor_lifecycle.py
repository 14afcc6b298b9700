"""doctor.lifecycle_problem: a tier's rule must expire exactly the tier's objects after the
tier's days, and no other rule may expire them sooner (S3 applies the earliest expiration)."""

from __future__ import annotations

import pytest

from ddbvault.doctor import (DoctorOptions, _abort_uploads_check, _Doctor, _lifecycle_check,
                             abort_uploads_rules, lifecycle_problem)
from ddbvault.format.retention import parse_keep
from ddbvault.plural import counted

TIER_TAG = [{"Key": "ddbvault-tier", "Value": "daily"}]


def _rule(filter_: dict, expiration: dict, rule_id: str = "r", status: str = "Enabled") -> dict:
    return {"ID": rule_id, "Status": status, "Filter": filter_, "Expiration": expiration}


TIER_RULE = _rule({"And": {"Prefix": "prod/", "Tags": TIER_TAG}}, {"Days": 7}, "ExpireTierDaily")


def test_the_generated_rule_with_the_clean_up_rules_passes():
    probes = _rule({"Prefix": "prod/_doctor/"}, {"Days": 1}, "ExpireDoctorProbes")
    other_tier = _rule({"And": {"Prefix": "prod/", "Tags": [{"Key": "ddbvault-tier", "Value": "weekly"}]}},
                       {"Days": 1})
    assert lifecycle_problem([TIER_RULE, probes, other_tier], "prod", "daily", 7) is None


@pytest.mark.parametrize("rule, words", [
    (_rule({"Prefix": "prod/"}, {"Days": 1}, "purge"), "rule 'purge' also expires objects tagged "
     "ddbvault-tier=daily under prod/ after 1 day, sooner than the 7 the keep policy needs"),
    (_rule({}, {"Days": 3}, "everything"), "rule 'everything' also expires"),
    (_rule({"Prefix": "prod/orders/"}, {"Days": 2}, "one-table"), "rule 'one-table' also expires"),
    (_rule({"Tag": TIER_TAG[0]}, {"Days": 5}, "tag-only"), "expires them after 5 days; the keep policy needs 7"),
    (_rule({"And": {"Prefix": "prod/", "Tags": TIER_TAG}}, {"Date": "2030-01-01T00:00:00Z"}, "dated"),
     "rule 'dated' also expires objects tagged ddbvault-tier=daily under prod/ on the fixed date "
     "2030-01-01T00:00:00Z, not 7 days after each backup"),
])
def test_a_rule_that_expires_the_tiers_objects_sooner_fails(rule, words):
    assert words in lifecycle_problem([TIER_RULE, rule], "prod", "daily", 7)


def test_a_rule_that_takes_only_some_sizes_is_not_the_tiers_rule():
    sized = _rule({"And": {"Prefix": "prod/", "Tags": TIER_TAG, "ObjectSizeGreaterThan": 1048576}}, {"Days": 7})
    assert "no enabled lifecycle rule" in lifecycle_problem([sized], "prod", "daily", 7)


def test_rules_elsewhere_or_disabled_do_not_count():
    elsewhere = _rule({"Prefix": "staging/"}, {"Days": 1})
    disabled = _rule({"Prefix": "prod/"}, {"Days": 1}, status="Disabled")
    assert lifecycle_problem([TIER_RULE, elsewhere, disabled], "prod", "daily", 7) is None


def _abort(days: int, filter_: dict | None = None, rule_id: str = "abort", status: str = "Enabled") -> dict:
    rule = {"ID": rule_id, "Status": status, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days}}
    if filter_ is not None:
        rule["Filter"] = filter_
    return rule


@pytest.mark.parametrize("rule", [
    _abort(7), _abort(7, {}), _abort(7, {"Prefix": ""}), _abort(7, {"Prefix": "prod/"}), _abort(7, {"Prefix": "pr"}),
    _abort(7, {"Prefix": "prod/orders/"}), _abort(7, {"And": {"Prefix": "prod/"}}),
    {"ID": "legacy", "Status": "Enabled", "Prefix": "prod/", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
])
def test_an_enabled_abort_rule_whose_prefix_covers_the_tables_backups_counts(rule):
    assert abort_uploads_rules([rule], "prod/orders/") == [(7, rule["ID"])]


@pytest.mark.parametrize("rule", [
    _abort(7, status="Disabled"), _abort(7, {"Prefix": "staging/"}), _abort(7, {"Prefix": "prod/users/"}),
    _abort(7, {"Prefix": "prod/orders/2026"}),  # only some of the table's backups
    _abort(7, {"Tag": TIER_TAG[0]}), _abort(7, {"And": {"Prefix": "prod/", "Tags": TIER_TAG}}),
    _abort(7, {"ObjectSizeGreaterThan": 1024}),
    _rule({"Prefix": "prod/"}, {"Days": 7}),  # expires objects; aborts no upload
    _abort(0), {"ID": "odd", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": "7"}},
])
def test_other_rules_do_not_count(rule):
    assert abort_uploads_rules([rule], "prod/orders/") == []


def test_the_earliest_of_several_abort_rules_is_the_one_s3_applies():
    assert min(abort_uploads_rules([_abort(9, rule_id="late"), _abort(3, {"Prefix": "prod/"}, "early")],
                                   "prod/orders/")) == (3, "early")


def _notes(check, rules: list[dict], *args) -> list[str]:
    doc = _Doctor("orders", "s3://doctor-bucket/prod", DoctorOptions())
    check(doc, rules, *args)
    return [c.detail for c in doc.report.checks]


def test_one_day_is_singular_in_every_lifecycle_note():
    aborts = _notes(_abort_uploads_check, [_abort(1)])
    assert aborts[0].startswith("rule 'abort' aborts uploads under prod/orders/ 1 day after they start")
    expires = _notes(_lifecycle_check, [_rule({"And": {"Prefix": "prod/", "Tags": TIER_TAG}}, {"Days": 1})],
                     parse_keep("daily=1"))
    assert expires == ["objects tagged ddbvault-tier=daily expire after 1 day"]
    assert "after 1 day; the keep policy needs 7" in lifecycle_problem([_rule({"Tag": TIER_TAG[0]}, {"Days": 1})],
                                                                        "prod", "daily", 7)
    assert "not 1 day after each backup" in lifecycle_problem([_rule({"Prefix": "prod/"}, {"Date": "2030-01-01"})],
                                                              "prod", "daily", 1)


@pytest.mark.parametrize("count, spec, text", [
    (1, "", "1 day"), (0, "", "0 days"), (2, "", "2 days"), (1234, ",", "1,234 days"), (1.5, "", "1.5 days"),
])
def test_counted_is_singular_for_the_number_one_only(count, spec, text):
    assert counted(count, "day", spec) == text
