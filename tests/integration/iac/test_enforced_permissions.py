"""The generated least-privilege policies, proved on moto with IAM enforcement switched on.

- A backup run through a role holding exactly the generated production policy succeeds.
- The same role's DeleteObject on a backup object is denied.
- For each permission a backup needs, a role lacking just that one fails with a message that
  names it (action, resource, AWS error code, permission); `backup --tables` also needs
  dynamodb:ListTables, which the generated policy grants.
moto authorizes DynamoDB calls against Resource "*" only (its DynamoDB responses name no
resource), so the DynamoDB statement's table ARNs are widened to "*" here; its actions, and every
S3 statement with its exact resources and conditions, are used as generated. The table ARNs are
checked by the unit tests and by parliament.

- `--engine export`: a role holding exactly the generated export policy starts and follows an
  export (ExportTableToPointInTime, DescribeExport) and writes under `<table>/*/export/*` without
  If-None-Match, but not under another table's; the scan-only policy may do neither export call.
  Since moto matches DynamoDB calls against "*", that the export grants name only the given
  tables is shown with moto's own policy evaluator on the generated, unwidened document.
- The generated bucket policy refuses a backup sent without the ACL. (moto applies a bucket
  policy's Deny to every request and ignores conditions, so this shows the policy is attached
  and denies PutObject; the condition itself is proved on radosgw in test_real_s3_radosgw.py.)
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import boto3
import pytest

from ddbvault.devtools import local_servers
from ddbvault.exit_codes import ExitCode
from ddbvault.iac.inputs import make_inputs
from ddbvault.iac.policies import backup_role_policy, literal_arns, restore_reader_policy, restore_target_policy
from ddbvault.iac.resource_policies import bucket_policy
from moto.iam.access_control import IAMPolicy, PermissionResult
from tests.support.moto_iam import ACCOUNT as MOTO_ACCOUNT, enforce_with_roles, for_moto
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
ACCOUNT = MOTO_ACCOUNT  # moto's default account
NEEDED = ["dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:DescribeTimeToLive",
          "dynamodb:ListTagsOfResource", "s3:PutObject"]
INPUTS = make_inputs(tables=["orders"], prod_account=ACCOUNT, data_account="210987654321",
                     bucket="vault-bucket", region="us-east-1", prefix="prod", restore_tables=["orders-copy"])
SELECTOR_LISTING = "dynamodb:ListTables"  # backup --tables only
EXPORT_INPUTS = make_inputs(tables=["orders"], prod_account=ACCOUNT, data_account="210987654321",
                            bucket="vault-bucket", region="us-east-1", prefix="prod", engine="export")
EXPORT_ROLE = "backup-export"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
RESTORE_NEEDED = ["s3:GetObject", "dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:BatchWriteItem"]


def without(policy: dict, action: str) -> dict:
    """The policy with one action removed (statements left empty are dropped)."""
    policy = copy.deepcopy(policy)
    kept = []
    for statement in policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        actions = [a for a in actions if a != action]
        if actions:
            kept.append({**statement, "Action": actions})
    return {**policy, "Statement": kept}


def role_name(missing: str | None) -> str:
    return "ddbvault-backup" if missing is None else "backup-without-" + missing.replace(":", "-")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        ddb = admin.client("dynamodb", endpoint_url=srv.url)
        create_table(ddb, "orders")
        fill_table(ddb, "orders", 40, edge_cases=False)
        s3 = admin.client("s3", endpoint_url=srv.url)
        s3.create_bucket(Bucket="vault-bucket")
        locked = make_inputs(tables=["orders"], prod_account=ACCOUNT, data_account="210987654321",
                             bucket="vault-locked", region="us-east-1", prefix="prod")
        s3.create_bucket(Bucket="vault-locked")
        s3.put_bucket_policy(Bucket="vault-locked", Policy=json.dumps(bucket_policy(locked, literal_arns(locked))))
        generated = for_moto(backup_role_policy(INPUTS, literal_arns(INPUTS)))
        roles = {role_name(missing): generated if missing is None else without(generated, missing)
                 for missing in [None, *NEEDED, SELECTOR_LISTING]}
        roles[EXPORT_ROLE] = for_moto(backup_role_policy(EXPORT_INPUTS, literal_arns(EXPORT_INPUTS)))
        ddb.update_continuous_backups(TableName="orders",
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        arns = literal_arns(INPUTS)
        restorer = for_moto({"Version": "2012-10-17", "Statement": restore_reader_policy(INPUTS, arns)["Statement"]
                             + restore_target_policy(INPUTS, arns)["Statement"]})
        for missing in [None, *RESTORE_NEEDED]:
            name = "restorer" if missing is None else "restorer-without-" + missing.replace(":", "-")
            roles[name] = restorer if missing is None else without(restorer, missing)
        # roles trusting the operator user (moto checks trust by exact principal ARN), then enforcement on
        key = enforce_with_roles(srv.url, roles)
        env = {**os.environ, **local_servers.local_aws_env(srv.url),
               "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        env.pop("AWS_SESSION_TOKEN")
        yield srv, env


def backup(env: dict, role: str, *extra: str, bucket: str = "vault-bucket") -> subprocess.CompletedProcess:
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    return subprocess.run([sys.executable, "-m", "ddbvault", "backup", "orders", "--to", f"s3://{bucket}/prod",
                           "--table-role", arn, "--vault-role", arn, "--read-rcu", "1000", "--json", *extra],
                          capture_output=True, text=True, env=env, timeout=120)


def test_exactly_the_generated_policy_backs_up_and_cannot_delete(server):
    srv, env = server
    proc = backup(env, role_name(None))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["items"] == 40
    creds = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          region_name="us-east-1").client("sts", endpoint_url=srv.url).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role_name(None)}", RoleSessionName="tester")["Credentials"]
    s3 = boto3.client("s3", endpoint_url=srv.url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
    key = result["manifest"].removeprefix("s3://vault-bucket/")
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.delete_object(Bucket="vault-bucket", Key=key)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


@pytest.mark.parametrize("missing", NEEDED)
def test_each_missing_permission_is_named(server, missing):
    srv, env = server
    proc = backup(env, role_name(missing))
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stderr
    line = proc.stderr.splitlines()[0]
    action = missing.split(":")[1]
    assert f"{action} on " in line and f"missing permission: {missing}" in line
    resource = "table/orders" if missing.startswith("dynamodb") else "s3://vault-bucket/prod/orders/"
    assert resource in line and ("AccessDenied" in line or "403" in line)


def test_tables_selectors_need_list_tables_and_name_it(server):
    srv, env = server
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name(None)}"
    argv = [sys.executable, "-m", "ddbvault", "backup", "--tables", "ord*", "--to", "s3://vault-bucket/prod",
            "--table-role", arn, "--vault-role", arn, "--read-rcu", "1000", "--json"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [t["table"] for t in json.loads(proc.stdout)["tables"]] == ["orders"]
    denied = [a.replace(role_name(None), role_name(SELECTOR_LISTING)) for a in argv]
    proc = subprocess.run(denied, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stderr
    assert "ListTables on tables in us-east-1" in proc.stderr and "missing permission: dynamodb:ListTables" in proc.stderr


def test_bucket_policy_refuses_a_backup_without_the_acl(server):
    srv, env = server
    proc = backup(env, role_name(None), "--acl", "none", bucket="vault-locked")
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stderr
    assert "PutObject on s3://vault-locked/prod/orders/" in proc.stderr


@pytest.mark.parametrize("missing", RESTORE_NEEDED)
def test_restore_names_each_missing_permission(server, missing, tmp_path):
    srv, env = server
    made = backup(env, role_name(None))
    assert made.returncode == 0, made.stderr
    url = json.loads(made.stdout)["url"]
    arn = f"arn:aws:iam::{ACCOUNT}:role/restorer-without-{missing.replace(':', '-')}"
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", url, "--table", "orders-copy",
                           "--vault-role", arn, "--table-role", arn, "--write-wcu", "1000", "--checkpoint",
                           str(tmp_path / "ck.jsonl")], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stderr
    line = proc.stderr.splitlines()[0]
    assert f"missing permission: {missing}" in line
    resource = "table/orders-copy" if missing.startswith("dynamodb") else "s3://vault-bucket/prod/orders/"
    assert resource in line


def assumed(srv, env: dict, role: str) -> boto3.Session:
    """A session with the credentials of `role`, assumed by the operator user."""
    creds = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                          region_name="us-east-1").client("sts", endpoint_url=srv.url).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="tester")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="us-east-1")


def test_the_export_policy_starts_follows_and_writes_an_export(server):
    srv, env = server
    session = assumed(srv, env, EXPORT_ROLE)
    ddb, s3 = session.client("dynamodb", endpoint_url=srv.url), session.client("s3", endpoint_url=srv.url)
    started = ddb.export_table_to_point_in_time(TableArn=TABLE_ARN, S3Bucket="vault-bucket",
                                                S3Prefix="prod/orders/B1/export", ClientToken="b1")["ExportDescription"]
    # (moto's ExportArn is not AWS's `<table ARN>/export/<id>`; it is followed all the same)
    assert ddb.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]["ExportArn"] == started["ExportArn"]
    # What DynamoDB writes as this principal: no If-None-Match, under the table's export folder only.
    s3.put_object(Bucket="vault-bucket", Key="prod/orders/B1/export/AWSDynamoDB/x/_started", Body=b"",
                  ACL="bucket-owner-full-control")
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.put_object(Bucket="vault-bucket", Key="prod/payments/B1/export/AWSDynamoDB/x/_started", Body=b"")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_the_scan_policy_may_not_export(server):
    srv, env = server
    ddb = assumed(srv, env, role_name(None)).client("dynamodb", endpoint_url=srv.url)
    calls = [lambda: ddb.export_table_to_point_in_time(TableArn=TABLE_ARN, S3Bucket="vault-bucket",
                                                       S3Prefix="prod/orders/B2/export", ClientToken="b2"),
             lambda: ddb.describe_export(ExportArn=f"{TABLE_ARN}/export/00000000000000-00000000")]
    for call in calls:
        with pytest.raises(ddb.exceptions.ClientError) as denied:
            call()
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403  # moto's code: "403"


def test_the_export_grants_name_the_given_tables_only():
    policy = IAMPolicy(json.dumps(backup_role_policy(EXPORT_INPUTS, literal_arns(EXPORT_INPUTS))))
    other = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/payments"
    allowed = PermissionResult.PERMITTED
    assert policy.is_action_permitted("dynamodb:ExportTableToPointInTime", TABLE_ARN) == allowed
    assert policy.is_action_permitted("dynamodb:ExportTableToPointInTime", other) != allowed
    assert policy.is_action_permitted("dynamodb:DescribeExport", f"{TABLE_ARN}/export/0123-abcd") == allowed
    assert policy.is_action_permitted("dynamodb:DescribeExport", f"{other}/export/0123-abcd") != allowed
    assert policy.is_action_permitted("dynamodb:DescribeExport", TABLE_ARN) != allowed
