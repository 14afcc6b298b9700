"""`ddbvault iam --engine export`: the exact grants DynamoDB's exports need, and the bucket
policy that lets the production principal write exactly the exports, without If-None-Match and
without any delete. tests/integration/iac runs the linters and Terraform on the same variants
(tests/support/iac_inputs.py) and proves the production policy on moto with IAM enforcement.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.iac import literal_arns, make_inputs, policy_documents, templates
from ddbvault.iac.resource_policies import DENIED_TO_WRITERS, bucket_policy, key_policy_grants
from ddbvault.iac.terraform import modules

PROD, DATA = "123456789012", "210987654321"
KEY = f"arn:aws:kms:eu-west-1:{DATA}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLES = [f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders", f"arn:aws:dynamodb:eu-west-1:{PROD}:table/users"]
EXPORTS = ["arn:aws:s3:::acme-backups/prod/orders/*/export/*", "arn:aws:s3:::acme-backups/prod/users/*/export/*",
           "arn:aws:s3:::acme-backups/prod/_doctor/export/*"]
ACL = {"s3:x-amz-acl": "bucket-owner-full-control"}
BACKUP_ROLE = {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/ddbvault-backup"}}
OVERWRITE = {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}


def inputs(**extra):
    base = dict(tables=["orders", "users"], prod_account=PROD, data_account=DATA, bucket="acme-backups",
                region="eu-west-1", prefix="prod", engine="export")
    return make_inputs(**{**base, **extra})


def by_sid(doc):
    return {s["Sid"]: s for s in doc["Statement"]}


def production(inp):
    return by_sid(policy_documents(inp, "production")["production-backup-role-policy"])


@pytest.mark.parametrize("extra", [{}, {"writer_role": "ddbvault-writer"}], ids=["direct", "writer-role"])
def test_production_may_start_and_follow_exports_and_write_them(extra):
    sids = production(inputs(**extra))
    assert sids["ExportBackedUpTables"] == {"Sid": "ExportBackedUpTables", "Effect": "Allow",
                                            "Action": "dynamodb:ExportTableToPointInTime", "Resource": TABLES}
    assert sids["DescribeOwnExports"]["Action"] == "dynamodb:DescribeExport"
    assert sids["DescribeOwnExports"]["Resource"] == [f"{t}/export/*" for t in TABLES]
    assert "dynamodb:DescribeContinuousBackups" in sids["ReadBackedUpTables"]["Action"]
    assert sids["WriteTableExports"] == {"Sid": "WriteTableExports", "Effect": "Allow",
                                         "Action": ["s3:PutObject", "s3:PutObjectAcl"], "Resource": EXPORTS,
                                         "Condition": {"StringEqualsIfExists": ACL}}
    assert sids["AbortTableExportUploads"]["Action"] == "s3:AbortMultipartUpload"
    assert sids["AbortTableExportUploads"]["Resource"] == EXPORTS


def test_scan_keeps_the_least_privilege():
    sids = production(inputs(engine="scan"))
    assert not {"ExportBackedUpTables", "DescribeOwnExports", "WriteTableExports", "AbortTableExportUploads"} & set(sids)
    actions = str(policy_documents(inputs(engine="scan")))
    assert "Export" not in actions and "/export/" not in actions


def test_no_prefix_puts_the_exports_at_the_bucket_root():
    sids = production(inputs(prefix=""))
    assert sids["WriteTableExports"]["Resource"] == ["arn:aws:s3:::acme-backups/orders/*/export/*",
                                                     "arn:aws:s3:::acme-backups/users/*/export/*",
                                                     "arn:aws:s3:::acme-backups/_doctor/export/*"]


def test_a_writer_role_with_kms_gives_the_backup_role_the_key_for_the_export():
    inp = inputs(writer_role="ddbvault-writer", kms_key_arn=KEY)
    sids = production(inp)
    assert sids["EncryptTableExports"]["Resource"] == KEY
    assert sids["EncryptTableExports"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    grants = {g["Sid"] for g in key_policy_grants(inp, literal_arns(inp))}
    assert "ProductionBackupRoleEncrypts" in grants  # an existing key's policy must let it too
    scan = inputs(writer_role="w1", kms_key_arn=KEY, engine="scan")
    assert "ProductionBackupRoleEncrypts" not in {g["Sid"] for g in key_policy_grants(scan, literal_arns(scan))}
    assert "EncryptTableExports" not in production(inputs(kms_key_arn=KEY))  # EncryptBackupObjects covers it


@pytest.mark.parametrize("extra", [{}, {"writer_role": "ddbvault-writer"}], ids=["direct", "writer-role"])
def test_bucket_policy_exempts_exactly_the_exports_from_if_none_match(extra):
    inp = inputs(**extra)
    sids = by_sid(bucket_policy(inp, literal_arns(inp)))
    prod = {"AWS": f"arn:aws:iam::{PROD}:root"}
    assert sids["DenyOverwriteByProduction"] == {
        "Sid": "DenyOverwriteByProduction", "Effect": "Deny", "Principal": prod, "Action": "s3:PutObject",
        "NotResource": EXPORTS, "Condition": OVERWRITE}
    assert sids["DenyManifestOverwriteByProduction"] == {
        "Sid": "DenyManifestOverwriteByProduction", "Effect": "Deny", "Principal": prod, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::acme-backups/*/manifest.json", "Condition": OVERWRITE}
    assert sids["AllowTableExports"] == {
        "Sid": "AllowTableExports", "Effect": "Allow", "Principal": prod,
        "Action": ["s3:PutObject", "s3:PutObjectAcl"], "Resource": EXPORTS,
        "Condition": {**BACKUP_ROLE, "StringEqualsIfExists": ACL}}
    assert sids["AllowTableExportUploadAborts"]["Resource"] == EXPORTS
    assert sids["AllowTableExportUploadAborts"]["Condition"] == BACKUP_ROLE
    # Deletes and every other guard stay as they are, for everything in the bucket.
    assert sids["DenyDestructiveToProduction"]["Resource"] == ["arn:aws:s3:::acme-backups", "arn:aws:s3:::acme-backups/*"]
    assert set(DENIED_TO_WRITERS) <= set(sids["DenyDestructiveToProduction"]["Action"])
    for guard in ("DenyInsecureTransport", "DenyOtherEncryption", "DenyOtherAcl"):
        assert "NotResource" not in sids[guard]
    if extra:  # the writer role's own writes still need If-None-Match everywhere
        assert sids["DenyOverwriteByWriterRole"]["Resource"] == "arn:aws:s3:::acme-backups/*"


def test_bucket_policy_without_exports_is_unchanged():
    inp = inputs(engine="scan")
    sids = by_sid(bucket_policy(inp, literal_arns(inp)))
    assert sids["DenyOverwriteByProduction"]["Resource"] == "arn:aws:s3:::acme-backups/*"
    assert not {"DenyManifestOverwriteByProduction", "AllowTableExports", "AllowTableExportUploadAborts"} & set(sids)


def test_scheduled_backups_use_the_export_engine():
    template = templates(inputs())["production-account-stack"]
    task = template["Resources"]["BackupTask1"]["Properties"]["ContainerDefinitions"][0]
    assert task["Command"][task["Command"].index("--engine") + 1] == "export"
    main_tf = modules(inputs(), "production")["production-account"]
    assert re.search(r'"--engine",\s*"export"', main_tf)
    assert "ExportBackedUpTables" in main_tf and "DescribeOwnExports" in main_tf
    data_tf = modules(inputs(), "data")["data-account"]
    assert "NotResource" in data_tf and "AllowTableExports" in data_tf


def test_unknown_engine_is_a_usage_error_naming_the_option():
    with pytest.raises(UsageError, match="--engine"):
        inputs(engine="snapshot")


def test_the_cli_takes_the_engine_and_refuses_another():
    argv = [sys.executable, "-m", "ddbvault", "iam", "--table", "orders", "--prod-account", PROD,
            "--data-account", DATA, "--bucket", "acme-backups", "--part", "production"]
    proc = subprocess.run([*argv, "--engine", "export"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    sids = {s["Sid"] for s in json.loads(proc.stdout)["production-backup-role-policy"]["Statement"]}
    assert {"ExportBackedUpTables", "DescribeOwnExports", "WriteTableExports"} <= sids
    proc = subprocess.run([*argv, "--engine", "snapshot"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.USAGE and "--engine" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("extra, label, bucket_side", [
    ({"writer_role": "ddbvault-writer", "kms_key_arn": KEY}, "data-writer-role-policy", False),
    ({}, "production-backup-role-policy", True)], ids=["writer-role", "direct"])
def test_the_vault_principal_may_read_and_list_the_exports_it_checks(extra, label, bucket_side):
    """The backup reads every export object once (sha256, MD5), lists the tables' prefixes and
    reads their manifests; without these grants `backup --engine export` is denied after the export."""
    inp = inputs(**extra)
    sids = by_sid(policy_documents(inp, "all")[label])
    manifests = ["arn:aws:s3:::acme-backups/prod/orders/*/manifest.json",
                 "arn:aws:s3:::acme-backups/prod/users/*/manifest.json"]
    assert sids["ReadTableExports"]["Action"] == "s3:GetObject"
    assert sids["ReadTableExports"]["Resource"] == EXPORTS + manifests
    assert sids["ListTableExports"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/orders/*", "prod/users/*"]}}
    if "kms_key_arn" in extra:
        assert sids["DecryptTableExports"]["Action"] == ["kms:Decrypt"] and sids["DecryptTableExports"]["Resource"] == KEY
    if bucket_side:  # production reads across accounts: the bucket policy grants the same, to the backup role only
        bucket = by_sid(bucket_policy(inp, literal_arns(inp)))
        assert bucket["ReadTableExportsToBackupRole"]["Resource"] == EXPORTS + manifests
        assert bucket["ReadTableExportsToBackupRole"]["Condition"] == BACKUP_ROLE
        assert bucket["ListTableExportsToBackupRole"]["Condition"] == {
            **BACKUP_ROLE, "StringLike": {"s3:prefix": ["prod/orders/*", "prod/users/*"]}}
    assert "ReadTableExports" not in by_sid(policy_documents(inputs(engine="scan", **extra), "all")[label])
