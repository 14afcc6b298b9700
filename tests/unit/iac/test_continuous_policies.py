"""`ddbvault iam --continuous`: the follower role's exact grants (stream reads, change log writes
under changes/ only, never a delete), the streams' and tables' resource-based policies, and the
same documents in CloudFormation, Terraform and JSON, within the quotas. tests/integration/iac
lints the same variants (tests/support/iac_inputs.py) and proves the role on moto with IAM
enforcement (test_enforced_follower.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.iac import literal_arns, make_inputs, policy_documents, templates
from ddbvault.iac.continuous import follower_role_policy, put_resource_policy_commands, stream_policy
from ddbvault.iac.limits import check_documents
from ddbvault.iac.render import render_files
from ddbvault.iac.resource_policies import bucket_policy
from ddbvault.iac.terraform import modules
from tests.support.terraform import parse_module, resources

PROD, DATA = "123456789012", "210987654321"
KEY = f"arn:aws:kms:eu-west-1:{DATA}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TABLE = f"arn:aws:dynamodb:eu-west-1:{PROD}:table"
FOLLOWER = f"arn:aws:iam::{DATA}:role/ddbvault-follower"
ONLY_FOLLOWER = {"ArnEquals": {"aws:PrincipalArn": FOLLOWER}}
ACL = {"s3:x-amz-acl": "bucket-owner-full-control"}
CHANGES = ["arn:aws:s3:::acme-backups/prod/orders/changes/*", "arn:aws:s3:::acme-backups/prod/users/changes/*"]


def inputs(**extra):
    base = dict(tables=["orders", "users"], prod_account=PROD, data_account=DATA, bucket="acme-backups",
                region="eu-west-1", prefix="prod", continuous=True)
    return make_inputs(**{**base, **extra})


def by_sid(doc):
    return {s["Sid"]: s for s in doc["Statement"]}


def follower(inp=None):
    return by_sid(policy_documents(inp or inputs(), "data")["data-follower-role-policy"])


def test_follower_reads_the_named_tables_streams_only():
    sids = follower()
    assert sids["ReadTableStreams"] == {
        "Sid": "ReadTableStreams", "Effect": "Allow",
        "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
        "Resource": [f"{TABLE}/orders/stream/*", f"{TABLE}/users/stream/*"]}
    assert sids["DescribeFollowedTables"]["Action"] == "dynamodb:DescribeTable"
    assert sids["DescribeFollowedTables"]["Resource"] == [f"{TABLE}/orders", f"{TABLE}/users"]
    assert sids["ListStreams"]["Action"] == "dynamodb:ListStreams" and sids["ListStreams"]["Resource"] == "*"


def test_follower_writes_only_the_change_log_create_only_and_never_deletes():
    sids = follower()
    doctor = "arn:aws:s3:::acme-backups/prod/_doctor/*"
    assert sids["CreateChangeLogObjects"] == {
        "Sid": "CreateChangeLogObjects", "Effect": "Allow", "Action": "s3:PutObject",
        "Resource": [*CHANGES, doctor], "Condition": {"StringEqualsIfExists": ACL}}
    assert sids["ChangeLogBucketOwnerFullControl"]["Condition"] == {"StringEquals": ACL}
    assert sids["ReadChangeLog"]["Resource"] == CHANGES
    assert sids["ListChangeLog"]["Condition"] == {"StringLike": {"s3:prefix": ["prod/orders/changes/*",
                                                                                "prod/users/changes/*"]}}
    text = json.dumps(follower())
    assert "Delete" not in text and "/data/" not in text and "manifest" not in text
    assert "dynamodb:Scan" not in text and "PutItem" not in text


def test_a_key_is_used_only_through_s3():
    sids = follower(inputs(kms_key_arn=KEY))
    assert sids["EncryptChangeLog"]["Resource"] == KEY
    assert sids["EncryptChangeLog"]["Condition"] == {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert "EncryptChangeLog" not in follower()


def test_trust_is_the_data_account():
    trust = policy_documents(inputs(), "data")["data-follower-role-trust-policy"]
    assert trust["Statement"] == [{"Sid": "TrustDataAccount", "Effect": "Allow",
                                   "Principal": {"AWS": f"arn:aws:iam::{DATA}:root"}, "Action": "sts:AssumeRole"}]


def test_stream_and_table_policies_let_only_the_follower_role_read():
    docs = policy_documents(inputs(), "production")
    stream = docs["production-stream-policy-orders"]["Statement"]
    assert stream == [{"Sid": "FollowerReadsStream", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{DATA}:root"},
                       "Action": ["dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"],
                       "Resource": f"{TABLE}/orders/stream/*", "Condition": ONLY_FOLLOWER}]
    table = docs["production-table-policy-users"]["Statement"]
    assert table == [{"Sid": "FollowerDescribesTable", "Effect": "Allow",
                      "Principal": {"AWS": f"arn:aws:iam::{DATA}:root"}, "Action": "dynamodb:DescribeTable",
                      "Resource": f"{TABLE}/users", "Condition": ONLY_FOLLOWER}]
    assert set(docs) == {"production-backup-role-policy", "production-stream-policy-orders",
                         "production-table-policy-orders", "production-stream-policy-users",
                         "production-table-policy-users"}


def test_bucket_policy_denies_the_follower_overwrites_and_deletes():
    inp = inputs()
    sids = by_sid(bucket_policy(inp, literal_arns(inp)))
    assert sids["DenyOverwriteByFollowerRole"]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": FOLLOWER}
    assert sids["DenyOverwriteByFollowerRole"]["Condition"]["Null"] == {"s3:if-none-match": "true"}
    assert "s3:DeleteObject" in sids["DenyDestructiveToFollowerRole"]["Action"]
    plain = make_inputs(tables=["orders"], prod_account=PROD, data_account=DATA, bucket="acme-backups")
    assert "FollowerRole" not in json.dumps(bucket_policy(plain, literal_arns(plain)))


def test_without_continuous_nothing_changes():
    docs = policy_documents(inputs(continuous=False))
    assert not any("follower" in label or "stream-policy" in label for label in docs)
    assert "Follower" not in json.dumps(templates(inputs(continuous=False)))


def test_cloudformation_creates_the_role_and_carries_the_stream_policies():
    stacks = templates(inputs())
    role = stacks["data-account-stack"]["Resources"]["FollowerRole"]
    assert role["Type"] == "AWS::IAM::Role" and role["DeletionPolicy"] == "Retain"
    assert role["Properties"]["RoleName"] == "ddbvault-follower"
    assert role["Properties"]["Policies"][0]["PolicyDocument"] == follower_role_policy(inputs(), literal_arns(inputs()))
    meta = stacks["production-account-stack"]["Metadata"]["DdbvaultStreamPolicies"]["orders"]
    spec = meta["TableProperties"]["StreamSpecification"]
    assert spec["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert spec["ResourcePolicy"]["PolicyDocument"] == stream_policy(inputs(), literal_arns(inputs()), inputs().tables[0])
    assert meta["Commands"][0].startswith("aws dynamodb put-resource-policy --region eu-west-1 --resource-arn "
                                          '"$(aws dynamodb describe-table --region eu-west-1 --table-name orders')


def test_put_resource_policy_command_carries_the_policy_as_one_quoted_argument():
    import shlex
    inp = inputs()
    command = put_resource_policy_commands(inp, literal_arns(inp), inp.tables[0])[1]
    argv = shlex.split(command)
    assert argv[:6] == ["aws", "dynamodb", "put-resource-policy", "--region", "eu-west-1", "--resource-arn"]
    assert argv[6] == f"{TABLE}/orders" and argv[7] == "--policy"
    assert json.loads(argv[8])["Statement"][0]["Sid"] == "FollowerDescribesTable"


def test_terraform_has_the_role_and_the_resource_policies():
    data = resources(parse_module(modules(inputs(), "data")["data-account"]))
    assert data["aws_iam_role.follower"]["name"] == "ddbvault-follower"
    policy = data["aws_iam_role_policy.follower"]["policy"]
    assert {s["Sid"] for s in policy["Statement"]} == set(follower())
    prod = parse_module(modules(inputs(), "production")["production-account"])
    found = resources(prod)
    assert found["aws_dynamodb_resource_policy.stream_1"]["resource_arn"] == "${data.aws_dynamodb_table.followed_1.stream_arn}"
    assert found["aws_dynamodb_resource_policy.table_2"]["resource_arn"] == f"{TABLE}/users"
    assert found["aws_dynamodb_resource_policy.stream_2"]["policy"]["Statement"][0]["Condition"] == ONLY_FOLLOWER


def test_json_files_hold_every_document():
    names = set(render_files(inputs(), "json", "all"))
    assert {"data-follower-role-policy.json", "data-follower-role-trust-policy.json",
            "production-stream-policy-orders.json", "production-table-policy-users.json"} <= names


def test_a_resource_policy_over_20kb_is_refused_by_its_quota():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "x" * 21_000}]}
    with pytest.raises(UsageError, match="production-stream-policy-orders would be .* 20,480 for a DynamoDB"):
        check_documents({"production-stream-policy-orders": doc})


def test_follower_role_must_be_its_own_role():
    with pytest.raises(UsageError, match="--follower-role"):
        inputs(follower_role="ddbvault-backup")
    with pytest.raises(UsageError, match="--follower-role"):
        inputs(follower_role="bad name*")


def test_the_cli_takes_continuous():
    argv = [sys.executable, "-m", "ddbvault", "iam", "--table", "orders", "--prod-account", PROD,
            "--data-account", DATA, "--bucket", "acme-backups", "--continuous", "--follower-role", "f1"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = json.loads(proc.stdout)
    assert docs["production-stream-policy-orders"]["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{DATA}:role/f1"}}
    proc = subprocess.run([*argv[:-2], "--follower-role", "ddbvault-backup"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == ExitCode.USAGE and "--follower-role" in proc.stderr and proc.stdout == ""
