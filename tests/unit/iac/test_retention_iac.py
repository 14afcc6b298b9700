"""What `ddbvault iam --keep` adds: one lifecycle rule per tier (CloudFormation and S3 API shape),
the writer's tagging, retention and manifest-reading grants, and the bucket policy's deny of
re-tagging. Without --keep nothing changes. (cfn-lint, parliament and moto's
PutBucketLifecycleConfiguration check the same documents: tests/integration/iac/.)"""

from __future__ import annotations

import pytest

from ddbvault.errors import UsageError
from ddbvault.iac import bucket_policy, literal_arns, make_inputs, policy_documents, templates
from ddbvault.iac.cloudformation import backup_command, lifecycle_rules
from ddbvault.iac.render import json_documents
from ddbvault.iac.resource_policies import DENIED_TO_WRITERS

PROD, DATA = "123456789012", "210987654321"


def inputs(**extra):
    base = dict(tables=["orders", "users"], prod_account=PROD, data_account=DATA, bucket="acme-backups",
                region="eu-west-1", prefix="prod")
    return make_inputs(**{**base, **extra})


def statements(doc: dict) -> dict:
    return {s["Sid"]: s for s in doc["Statement"]}


def test_one_rule_per_tier_filtered_by_prefix_and_tag():
    rules = {r["Id"]: r for r in lifecycle_rules(inputs(keep="daily=7,yearly=3"))}
    assert rules["ExpireTierDaily"] == {"Id": "ExpireTierDaily", "Status": "Enabled", "Prefix": "prod/",
                                        "TagFilters": [{"Key": "ddbvault-tier", "Value": "daily"}],
                                        "ExpirationInDays": 7}
    assert rules["ExpireTierYearly"]["ExpirationInDays"] == 1098
    assert not any(i.startswith("ExpireTier") for i in {r["Id"] for r in lifecycle_rules(inputs())})
    no_prefix = [r for r in lifecycle_rules(inputs(prefix="", keep="weekly=2")) if r["Id"] == "ExpireTierWeekly"]
    assert "Prefix" not in no_prefix[0] and no_prefix[0]["ExpirationInDays"] == 14


def test_json_output_has_the_s3_lifecycle_document_only_with_keep():
    docs = json_documents(inputs(keep="daily=7"), "all")
    rules = {r["ID"]: r for r in docs["data-bucket-lifecycle-configuration"]["Rules"]}
    assert rules["ExpireTierDaily"]["Filter"] == {
        "And": {"Prefix": "prod/", "Tags": [{"Key": "ddbvault-tier", "Value": "daily"}]}}
    assert rules["AbortIncompleteMultipartUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    assert rules["ExpireNoncurrentVersions"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert "data-bucket-lifecycle-configuration" not in json_documents(inputs(keep="daily=7"), "production")
    assert json_documents(inputs(), "all") == policy_documents(inputs(), "all")


@pytest.mark.parametrize("extra", [{}, {"writer_role": "ddbvault-writer"}])
def test_writer_gets_tagging_retention_and_manifest_reads(extra):
    docs = policy_documents(inputs(keep="daily=7", **extra))
    writer = docs["data-writer-role-policy" if extra else "production-backup-role-policy"]
    sids = statements(writer)
    assert sids["TagAndRetainBackupObjects"]["Action"] == ["s3:PutObjectTagging", "s3:PutObjectRetention"]
    assert sids["ReadOwnManifests"]["Resource"] == ["arn:aws:s3:::acme-backups/prod/orders/*/manifest.json",
                                                    "arn:aws:s3:::acme-backups/prod/users/*/manifest.json"]
    assert sids["ListOwnBackups"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/orders/", "prod/users/"]}}
    assert sids["ReadObjectLockConfiguration"]["Action"] == "s3:GetBucketObjectLockConfiguration"
    plain = str(policy_documents(inputs(**extra)))
    assert "PutObjectTagging" not in plain and "ListOwnBackups" not in plain


def test_bucket_policy_denies_retagging_and_allows_only_lengthening_retention():
    policy = statements(bucket_policy(inputs(keep="daily=7"), literal_arns(inputs(keep="daily=7"))))
    retag = policy["DenyRetaggingByProduction"]
    assert retag["Action"] == "s3:PutObjectTagging"
    assert retag["Condition"]["StringLike"] == {"s3:ExistingObjectTag/ddbvault-tier": "*"}
    denied = policy["DenyDestructiveToProduction"]["Action"]
    assert "s3:PutObjectRetention" not in denied and "s3:BypassGovernanceRetention" in denied
    assert "s3:DeleteObjectTagging" in denied and "s3:DeleteObject" in denied
    assert "s3:PutObjectTagging" in policy["TagAndRetainBackupObjectsToBackupRole"]["Action"]
    plain = statements(bucket_policy(inputs(), literal_arns(inputs())))
    assert plain["DenyDestructiveToProduction"]["Action"] == list(DENIED_TO_WRITERS)


def test_scheduled_backups_pass_the_policy():
    inp = inputs(keep="weekly=5,daily=7")
    assert backup_command(inp, literal_arns(inp), inp.tables[0])[-4:-2] == ["--keep", "daily=7,weekly=5"]
    task = templates(inp)["production-account-stack"]["Resources"]["BackupTask1"]
    assert "--keep" in task["Properties"]["ContainerDefinitions"][0]["Command"]


def test_a_malformed_keep_is_a_usage_error():
    with pytest.raises(UsageError) as caught:
        inputs(keep="daily=7,fortnightly=2")
    assert "unknown tier 'fortnightly'" in caught.value.message and caught.value.hint
