"""`ddbvault iam --continuous --keep-changes DAYS`: one lifecycle rule per table that expires only
the change log's tagged segments (never start.json, closed.json or gaps), in every output format;
the follower's grant to send the segment tag and nothing else; the bucket policy's denies of
tagging the log's markers and re-tagging a segment."""

from __future__ import annotations

import json

import pytest

from ddbvault.errors import UsageError
from ddbvault.iac import make_inputs, policy_documents, templates
from ddbvault.iac.cloudformation import lifecycle_rules
from ddbvault.iac.limits import check_documents
from ddbvault.iac.render import json_documents, render_files
from ddbvault.iac.terraform import modules

PROD, DATA = "123456789012", "210987654321"
SEGMENT_TAG = [{"Key": "ddbvault-log", "Value": "segment"}]


def inputs(**extra):
    base = dict(tables=["orders", "users"], prod_account=PROD, data_account=DATA, bucket="acme-backups",
                region="eu-west-1", prefix="prod", continuous=True, keep_changes=35)
    return make_inputs(**{**base, **extra})


def by_sid(doc) -> dict:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_one_rule_per_table_by_its_changes_prefix_and_the_segment_tag():
    rules = {r["Id"]: r for r in lifecycle_rules(inputs())}
    assert rules["ExpireChangeLog-orders"] == {"Id": "ExpireChangeLog-orders", "Status": "Enabled",
                                               "Prefix": "prod/orders/changes/", "TagFilters": SEGMENT_TAG,
                                               "ExpirationInDays": 35}
    assert rules["ExpireChangeLog-users"]["Prefix"] == "prod/users/changes/"
    assert not any(i.startswith("ExpireChangeLog") for i in {r["Id"] for r in lifecycle_rules(inputs(keep_changes=None))})


def test_every_output_format_carries_the_rule():
    doc = json_documents(inputs(), "all")["data-bucket-lifecycle-configuration"]
    rule = {r["ID"]: r for r in doc["Rules"]}["ExpireChangeLog-orders"]
    assert rule["Filter"] == {"And": {"Prefix": "prod/orders/changes/", "Tags": SEGMENT_TAG}}
    assert rule["Expiration"] == {"Days": 35}
    bucket = templates(inputs())["data-account-stack"]["Resources"]["BackupBucket"]["Properties"]
    assert "ExpireChangeLog-users" in {r["Id"] for r in bucket["LifecycleConfiguration"]["Rules"]}
    terraform = modules(inputs(), "data")["data-account"]
    assert "ExpireChangeLog-orders" in terraform and '"prod/orders/changes/"' in terraform
    assert "ddbvault-log" in terraform
    check_documents(json_documents(inputs(), "all"))
    assert render_files(inputs(), "cloudformation", "all")


def test_the_follower_may_send_the_segment_tag_and_no_other():
    follower = by_sid(policy_documents(inputs(), "data")["data-follower-role-policy"])
    tag = follower["TagChangeLogSegments"]
    assert tag["Action"] == "s3:PutObjectTagging"
    assert tag["Resource"] == ["arn:aws:s3:::acme-backups/prod/orders/changes/*",
                               "arn:aws:s3:::acme-backups/prod/users/changes/*"]
    assert tag["Condition"] == {"StringEquals": {"s3:RequestObjectTag/ddbvault-log": "segment"},
                                "ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["ddbvault-log"]}}


def test_the_bucket_policy_denies_tagging_the_markers_and_retagging_segments():
    policy = by_sid(policy_documents(inputs(), "data")["data-bucket-policy"])
    markers = policy["DenyTaggingChangeLogMarkers"]
    assert markers["Principal"] == "*" and markers["Action"] == "s3:PutObjectTagging"
    assert markers["Resource"] == ["arn:aws:s3:::acme-backups/prod/*/changes/*/start.json",
                                   "arn:aws:s3:::acme-backups/prod/*/changes/*/closed.json",
                                   "arn:aws:s3:::acme-backups/prod/*/changes/gaps/*"]
    retag = policy["DenyRetaggingChangeLogSegments"]
    assert retag["Condition"] == {"StringLike": {"s3:ExistingObjectTag/ddbvault-log": "*"}}
    assert "DenyTaggingChangeLogMarkers" not in json.dumps(policy_documents(inputs(continuous=False, keep_changes=None),
                                                                            "data"))


@pytest.mark.parametrize("extra, message", [(dict(continuous=False), "needs --continuous"),
                                            (dict(keep_changes=0), "from 1 to 36500"),
                                            (dict(keep_changes=36501), "from 1 to 36500")])
def test_a_bad_keep_changes_is_a_usage_error(extra, message):
    with pytest.raises(UsageError, match=message):
        inputs(**extra)
