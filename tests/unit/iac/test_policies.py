"""The generated IAM documents: least privilege, no delete for production, the guards in place.

Structure tests only; tests/integration/iac/test_iac_lint.py runs parliament and cfn-lint on the
same documents and deploys the templates into moto.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.iac import (bucket_policy, key_policy, literal_arns, make_inputs, policy_documents,
                          templates, to_yaml)
from ddbvault.iac.policies import BACKUP_TABLE_ACTIONS, RESTORE_TABLE_ACTIONS

PROD, DATA, OTHER = "123456789012", "210987654321", "333344445555"
KEY = f"arn:aws:kms:eu-west-1:{DATA}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ACL = "bucket-owner-full-control"


def inputs(**extra):
    base = dict(tables=["orders", f"arn:aws:dynamodb:eu-west-1:{PROD}:table/users"], prod_account=PROD,
                data_account=DATA, bucket="acme-backups", region="eu-west-1", prefix="prod")
    return make_inputs(**{**base, **extra})


VARIANTS = {
    "direct": {},
    "direct-kms": {"kms_key_arn": KEY},
    "writer-role": {"writer_role": "ddbvault-writer", "external_id": "acme-prod", "kms_key_arn": KEY},
    "restore-account": {"restore_account": OTHER, "kms_key_arn": KEY},
}


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def variant(request):
    return inputs(**VARIANTS[request.param])


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(doc, effect=None):
    return [s for s in doc["Statement"] if effect is None or s["Effect"] == effect]


def allowed_actions(doc):
    return {a for s in statements(doc, "Allow") for a in as_list(s["Action"])}


def by_sid(doc):
    return {s["Sid"]: s for s in doc["Statement"]}


def production_documents(inp):
    """What the production account's principals can be granted: their own policy, the writer
    role they assume, and the bucket policy's Allow statements to them."""
    docs = policy_documents(inp)
    prod_allows = [s for s in statements(docs["data-bucket-policy"], "Allow")
                   if s["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}]
    return [docs["production-backup-role-policy"], docs.get("data-writer-role-policy", {"Statement": []}),
            {"Statement": prod_allows}]


# ------------------------------------------------------------ production side

SELECTOR_SIDS = {"ListTablesForSelectors", "ReadTagsForTagSelectors"}


def test_production_policy_has_no_wildcard_resources(variant):
    doc = policy_documents(variant)["production-backup-role-policy"]
    for s in statements(doc):
        if s["Sid"] in SELECTOR_SIDS:  # checked exactly below
            continue
        for resource in as_list(s["Resource"]):
            assert resource != "*"
            partition, service, region, account = resource.split(":")[1:5]
            assert "*" not in partition + service + region + account, resource
            # Only an S3 object prefix may end with a wildcard, and only there.
            assert "*" not in resource.rstrip("*") and (
                "*" not in resource or resource.startswith("arn:aws:s3:::acme-backups/prod/")), resource


def test_production_is_never_allowed_a_delete_or_an_action_wildcard(variant):
    for doc in production_documents(variant):
        for action in allowed_actions(doc):
            assert "delete" not in action.lower() and "*" not in action, action


def test_production_reads_only_the_named_tables_with_read_calls(variant):
    doc = policy_documents(variant)["production-backup-role-policy"]
    tables = by_sid(doc)["ReadBackedUpTables"]
    assert tables["Action"] == list(BACKUP_TABLE_ACTIONS)
    assert tables["Resource"] == [f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders",
                                  f"arn:aws:dynamodb:eu-west-1:{PROD}:table/users"]
    assert {a for a in allowed_actions(doc) if a.startswith("dynamodb:")} == {*BACKUP_TABLE_ACTIONS, "dynamodb:ListTables"}


def test_selectors_may_list_the_tables_and_read_their_tags_only(variant):
    sids = by_sid(policy_documents(variant)["production-backup-role-policy"])
    # ListTables has no resource type: "*" is its only resource, and it lists names only.
    assert sids["ListTablesForSelectors"] == {"Sid": "ListTablesForSelectors", "Effect": "Allow",
                                              "Action": "dynamodb:ListTables", "Resource": "*"}
    assert sids["ReadTagsForTagSelectors"] == {"Sid": "ReadTagsForTagSelectors", "Effect": "Allow",
                                               "Action": "dynamodb:ListTagsOfResource",
                                               "Resource": f"arn:aws:dynamodb:eu-west-1:{PROD}:table/*"}


def test_objects_are_written_only_under_the_tables_prefixes_with_the_acl():
    doc = policy_documents(inputs())["production-backup-role-policy"]
    sids = by_sid(doc)
    objects = ["arn:aws:s3:::acme-backups/prod/orders/*", "arn:aws:s3:::acme-backups/prod/users/*",
               "arn:aws:s3:::acme-backups/prod/_doctor/*"]
    assert sids["CreateBackupObjects"]["Resource"] == objects
    # IfExists: UploadPart and CompleteMultipartUpload are s3:PutObject without an ACL header.
    assert sids["CreateBackupObjects"]["Condition"] == {"StringEqualsIfExists": {"s3:x-amz-acl": ACL}}
    assert sids["GrantBucketOwnerFullControl"]["Condition"] == {"StringEquals": {"s3:x-amz-acl": ACL}}
    assert sids["AbortOwnMultipartUploads"]["Action"] == "s3:AbortMultipartUpload"
    assert allowed_actions(doc) - set(BACKUP_TABLE_ACTIONS) == {
        "s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload", "s3:GetObject", "dynamodb:ListTables"}
    # plan/work/commit read back the backup in progress (plan, results, attempts): only under
    # the tables' own prefixes, and never a listing (docs/scale.md)
    assert sids["ReadBackupProgress"]["Action"] == "s3:GetObject"
    assert sids["ReadBackupProgress"]["Resource"] == objects
    assert "s3:ListBucket" not in allowed_actions(doc)


def test_every_put_object_grant_carries_the_acl_condition(variant):
    docs = policy_documents(variant)
    for doc in docs.values():
        for s in statements(doc, "Allow"):
            actions = as_list(s["Action"])
            if "s3:PutObject" in actions or "s3:PutObjectAcl" in actions:
                values = [v for c in s["Condition"].values() for k, v in c.items() if k == "s3:x-amz-acl"]
                assert values == [ACL], s


def test_kms_grants_generate_and_decrypt_through_s3_only():
    doc = policy_documents(inputs(kms_key_arn=KEY))["production-backup-role-policy"]
    kms = by_sid(doc)["EncryptBackupObjects"]
    # Decrypt: S3 reads the parts of an SSE-KMS multipart upload to complete it. No kms:Encrypt.
    assert kms["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert kms["Resource"] == KEY
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}


def test_writer_role_takes_over_the_s3_permissions():
    inp = inputs(writer_role="ddbvault-writer", external_id="acme-prod", kms_key_arn=KEY)
    docs = policy_documents(inp)
    writer_arn = f"arn:aws:iam::{DATA}:role/ddbvault-writer"
    assert allowed_actions(docs["production-backup-role-policy"]) == {*BACKUP_TABLE_ACTIONS, "dynamodb:ListTables",
                                                                      "sts:AssumeRole"}
    assert by_sid(docs["production-backup-role-policy"])["AssumeDataAccountWriter"]["Resource"] == writer_arn
    assert allowed_actions(docs["data-writer-role-policy"]) == {
        "s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload", "s3:GetObject", "kms:GenerateDataKey",
        "kms:Decrypt"}
    trust = docs["data-writer-role-trust-policy"]["Statement"][0]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}
    assert trust["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/ddbvault-backup"},
        "StringEquals": {"sts:ExternalId": "acme-prod"}}
    # In one account an Allow in either policy suffices: no bucket-policy Allow widens the role.
    assert not statements(docs["data-bucket-policy"], "Allow")


# ------------------------------------------------------------ bucket policy

REQUIRED_DENIES = {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy",
                   "s3:DeleteBucketPolicy", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
                   "s3:PutBucketObjectLockConfiguration", "s3:BypassGovernanceRetention"}


def test_bucket_policy_denies_deletes_and_policy_changes_to_production(variant):
    doc = policy_documents(variant)["data-bucket-policy"]
    deny = by_sid(doc)["DenyDestructiveToProduction"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}
    assert REQUIRED_DENIES <= set(deny["Action"])
    assert deny["Resource"] == ["arn:aws:s3:::acme-backups", "arn:aws:s3:::acme-backups/*"]
    assert "Condition" not in deny


def test_bucket_policy_denies_the_same_to_the_writer_role():
    doc = bucket_policy(inp := inputs(writer_role="ddbvault-writer"), literal_arns(inp))
    deny = by_sid(doc)["DenyDestructiveToWriterRole"]
    assert deny["Principal"] == "*" and REQUIRED_DENIES <= set(deny["Action"])
    assert deny["Condition"] == {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{DATA}:role/ddbvault-writer"}}
    overwrite = by_sid(doc)["DenyOverwriteByWriterRole"]
    assert overwrite["Condition"]["ArnEquals"] == deny["Condition"]["ArnEquals"]


def test_bucket_policy_requires_tls(variant):
    tls = by_sid(policy_documents(variant)["data-bucket-policy"])["DenyInsecureTransport"]
    assert (tls["Effect"], tls["Principal"], tls["Action"]) == ("Deny", "*", "s3:*")
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Resource"] == ["arn:aws:s3:::acme-backups", "arn:aws:s3:::acme-backups/*"]


@pytest.mark.parametrize("extra, sse", [({}, "AES256"), ({"kms_key_arn": KEY}, "aws:kms")])
def test_bucket_policy_denies_other_encryption(extra, sse):
    sids = by_sid(policy_documents(inputs(**extra))["data-bucket-policy"])
    assert sids["DenyOtherEncryption"]["Effect"] == "Deny"
    # deny only a header that is present and different: a missing header (UploadPart, or the
    # bucket's default encryption) must not be denied, which `...IfExists` would do
    assert sids["DenyOtherEncryption"]["Condition"] == {
        "StringNotEquals": {"s3:x-amz-server-side-encryption": sse},
        "Null": {"s3:x-amz-server-side-encryption": "false"}}
    if extra:
        assert sids["DenyOtherKmsKey"]["Condition"] == {
            "ArnNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY},
            "Null": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}}
    else:
        assert "DenyOtherKmsKey" not in sids


def test_bucket_policy_denies_other_acls_and_overwrites(variant):
    sids = by_sid(policy_documents(variant)["data-bucket-policy"])
    assert sids["DenyOtherAcl"]["Condition"] == {"StringNotEquals": {"s3:x-amz-acl": ACL},
                                                 "Null": {"s3:x-amz-acl": "false"}}
    overwrite = sids["DenyOverwriteByProduction"]
    assert overwrite["Effect"] == "Deny" and overwrite["Action"] == "s3:PutObject"
    assert overwrite["Condition"] == {"Null": {"s3:if-none-match": "true"},
                                      "Bool": {"s3:ObjectCreationOperation": "true"}}


def test_bucket_policy_lets_only_the_backup_role_write_without_a_writer_role():
    sids = by_sid(policy_documents(inputs())["data-bucket-policy"])
    write = sids["AllowBackupWrites"]
    assert write["Principal"] == {"AWS": f"arn:aws:iam::{PROD}:root"}
    assert write["Resource"] == "arn:aws:s3:::acme-backups/prod/*"
    assert write["Condition"] == {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/ddbvault-backup"},
                                  "StringEqualsIfExists": {"s3:x-amz-acl": ACL}}
    assert {a for s in statements(policy_documents(inputs())["data-bucket-policy"], "Allow")
            for a in as_list(s["Action"])} == {"s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload",
                                               "s3:GetObject"}
    read = sids["AllowReadBackupProgressToBackupRole"] if "AllowReadBackupProgressToBackupRole" in sids \
        else sids["ReadBackupProgressToBackupRole"]
    assert read["Resource"] == ["arn:aws:s3:::acme-backups/prod/orders/*", "arn:aws:s3:::acme-backups/prod/users/*",
                                "arn:aws:s3:::acme-backups/prod/_doctor/*"]
    assert read["Condition"] == {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PROD}:role/ddbvault-backup"}}


def test_restore_account_is_granted_reads_only():
    docs = policy_documents(inputs(restore_account=OTHER, kms_key_arn=KEY))
    reads = [s for s in statements(docs["data-bucket-policy"], "Allow")
             if s["Principal"] == {"AWS": f"arn:aws:iam::{OTHER}:root"}]
    assert {s["Action"] for s in reads} == {"s3:GetObject", "s3:ListBucket"}
    assert by_sid(docs["data-key-policy-grants"])["RestoreAccountDecrypts"]["Action"] == "kms:Decrypt"


def test_key_policy_keeps_the_data_account_in_charge():
    inp = inputs(create_kms_key=True)
    doc = key_policy(inp, literal_arns(inp))
    sids = by_sid(doc)
    assert sids["DataAccountAdministersKey"]["Principal"] == {"AWS": f"arn:aws:iam::{DATA}:root"}
    prod = sids["ProductionBackupRoleEncrypts"]
    assert prod["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert prod["Condition"]["StringEquals"] == {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}


# ------------------------------------------------------------ restore side

def test_restore_reader_only_reads_under_the_prefix():
    doc = policy_documents(inputs(kms_key_arn=KEY))["restore-reader-policy"]
    assert allowed_actions(doc) == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"}
    sids = by_sid(doc)
    assert sids["ReadBackupObjects"]["Resource"] == "arn:aws:s3:::acme-backups/prod/*"
    assert sids["ListBackups"]["Resource"] == "arn:aws:s3:::acme-backups"
    assert sids["ListBackups"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/*"]}}


def test_restore_target_is_exactly_what_restore_calls():
    doc = policy_documents(inputs(restore_tables=["orders-restored"]))["restore-target-policy"]
    (only,) = statements(doc)
    assert only["Action"] == list(RESTORE_TABLE_ACTIONS)
    assert only["Resource"] == f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders-restored"
    assert not any("Delete" in a or a == "dynamodb:PutItem" for a in only["Action"])


def test_restore_import_adds_import_reads_and_its_logs():
    doc = policy_documents(inputs(restore_account=OTHER, restore_tables=["t-copy"]))["restore-import-policy"]
    sids = by_sid(doc)
    assert sids["ImportRestoredTables"]["Action"] == ["dynamodb:ImportTable", "dynamodb:DescribeImport"]
    assert sids["ImportRestoredTables"]["Resource"] == [f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/t-copy",
                                                        f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/t-copy/import/*"]
    assert sids["WriteImportLogs"]["Resource"] == f"arn:aws:logs:eu-west-1:{OTHER}:log-group:/aws-dynamodb/*"
    assert sids["FindImportLogGroup"] == {"Sid": "FindImportLogGroup", "Effect": "Allow",
                                          "Action": "logs:DescribeLogGroups", "Resource": "*"}
    assert {"s3:GetObject", "s3:ListBucket"} <= allowed_actions(doc)


def test_empty_prefix_lists_the_whole_bucket_without_condition():
    doc = policy_documents(inputs(prefix=""))["restore-reader-policy"]
    assert "Condition" not in by_sid(doc)["ListBackups"]
    assert by_sid(doc)["ReadBackupObjects"]["Resource"] == "arn:aws:s3:::acme-backups/*"


def test_parts_select_documents():
    assert list(policy_documents(inputs(), "production")) == ["production-backup-role-policy"]
    assert list(policy_documents(inputs(), "restore")) == [
        "restore-reader-policy", "restore-target-policy", "restore-import-policy"]
    assert set(policy_documents(inputs(writer_role="w", external_id="xx"), "data")) == {
        "data-bucket-policy", "data-writer-role-policy", "data-writer-role-trust-policy"}


# ------------------------------------------------------------ templates

def test_data_template_protects_the_bucket():
    template = templates(inputs(create_kms_key=True, writer_role="w"))["data-account-stack"]
    bucket = template["Resources"]["BackupBucket"]
    props = bucket["Properties"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    default = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["BackupKey", "Arn"]}}
    rules = {r["Id"]: r for r in props["LifecycleConfiguration"]["Rules"]}
    assert "AbortIncompleteMultipartUpload" in rules["AbortIncompleteMultipartUploads"]
    assert "NoncurrentVersionExpiration" in rules["ExpireNoncurrentVersions"]
    assert rules["ExpireDoctorProbes"]["Prefix"] == "prod/_doctor/"
    assert rules["ExpireDoctorProbes"]["ExpirationInDays"] == 1
    assert template["Resources"]["BackupKey"]["DeletionPolicy"] == "Retain"
    assert template["Resources"]["WriterRole"]["Properties"]["RoleName"] == "w"


def test_production_template_schedules_one_task_per_table():
    inp = inputs(writer_role="ddbvault-writer", external_id="acme-prod", kms_key_arn=KEY)
    resources = templates(inp)["production-account-stack"]["Resources"]
    schedules = [r for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    tasks = [r for r in resources.values() if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(schedules) == len(tasks) == 2
    command = tasks[0]["Properties"]["ContainerDefinitions"][0]["Command"]
    assert command == ["backup", "orders", "--to", "s3://acme-backups/prod", "--region", "eu-west-1",
                       "--sse", "aws:kms", "--kms-key-id", KEY,
                       "--vault-role", f"arn:aws:iam::{DATA}:role/ddbvault-writer",
                       "--external-id", "acme-prod", "--json", "--no-progress"]
    assert resources["BackupRole"]["Properties"]["RoleName"] == "ddbvault-backup"


@pytest.mark.parametrize("name", list(VARIANTS))
def test_yaml_rendering_round_trips(name):
    for template in templates(inputs(**VARIANTS[name])).values():
        assert yaml.safe_load(to_yaml(template)) == template


def test_yaml_quotes_words_yaml_would_misread():
    value = {"Null": {"on": "yes", "n": ["true", "1.0", "null", "", "a: b", "#x"]}, "k": [[1, 2], {}], "e": []}
    assert yaml.safe_load(to_yaml(value)) == value


# ------------------------------------------------------------ inputs

@pytest.mark.parametrize("change, field", [
    ({"prod_account": "12345"}, "--prod-account"),
    ({"data_account": "abcdefghijkl"}, "--data-account"),
    ({"data_account": PROD}, "--data-account"),
    ({"tables": [f"arn:aws:dynamodb:eu-west-1:{OTHER}:table/orders"]}, "--table"),
    ({"tables": ["arn:aws:dynamodb:eu-west-1:table/orders"]}, "--table"),
    ({"tables": ["a"]}, "--table"),
    ({"tables": []}, "--table"),
    ({"bucket": "Not_A_Bucket"}, "--bucket"),
    ({"prefix": "prod/*"}, "--prefix"),
    ({"prefix": "../prod"}, "--prefix"),  # `backup --to s3://b/../prod` is refused: no policy for it
    ({"prefix": "prod/./x"}, "--prefix"),
    ({"kms_key_arn": "arn:aws:kms:eu-west-1:210987654321:alias/backups"}, "--kms-key-arn"),
    ({"kms_key_arn": KEY, "create_kms_key": True}, "--kms-key-arn"),
    ({"external_id": "acme"}, "--external-id"),
    ({"writer_role": "bad role name"}, "--writer-role"),
    ({"restore_account": "1"}, "--restore-account"),
    ({"region": "mars"}, "--region"),
])
def test_bad_input_is_a_usage_error_naming_the_field(change, field):
    with pytest.raises(UsageError) as info:
        inputs(**change)
    assert field in info.value.message


def test_table_names_and_arns_are_deduplicated():
    inp = inputs(tables=["orders", f"arn:aws:dynamodb:eu-west-1:{PROD}:table/orders", "orders"])
    assert [t.name for t in inp.tables] == ["orders"]


def test_json_policies_refuse_a_key_the_template_creates():
    with pytest.raises(UsageError, match="--create-kms-key"):
        policy_documents(inputs(create_kms_key=True))


def test_cli_exits_2_naming_the_bad_field():
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "iam", "--table", "orders",
                           "--prod-account", "12", "--data-account", DATA, "--bucket", "b-u-c"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.USAGE
    assert "--prod-account" in proc.stderr and proc.stdout == ""


def test_task_families_stay_within_ecs_limit_for_the_longest_table_names():
    from ddbvault.iac.cloudformation import production_template

    long_a, long_b = "a" * 254 + "1", "a" * 254 + "2"  # 255 characters: the longest table names
    template = production_template(inputs(tables=["orders", long_a, long_b]))
    families = [r["Properties"]["Family"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert families[0] == "ddbvault-backup-orders"  # names that fit are unchanged
    assert all(len(f) <= 255 and re.fullmatch(r"[A-Za-z0-9_-]+", f) for f in families)
    assert len(set(families)) == 3


def test_tables_whose_names_differ_only_by_a_dot_get_their_own_task_families():
    from ddbvault.iac.cloudformation import production_template

    template = production_template(inputs(tables=["a.b", "a-b", "a_b"]))
    families = [r["Properties"]["Family"] for r in template["Resources"].values()
                if r["Type"] == "AWS::ECS::TaskDefinition"]
    assert len(set(families)) == 3 and "ddbvault-backup-a-b" in families and "ddbvault-backup-a_b" in families
    assert all(len(f) <= 255 and re.fullmatch(r"[A-Za-z0-9_-]+", f) for f in families)
