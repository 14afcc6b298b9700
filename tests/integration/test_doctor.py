"""`ddbvault doctor` on a moto_server with IAM enforcement on: what is allowed shows ✓, what is
missing shows ✗ with the permission, a denied DeleteObject is good and an allowed one a warning.
With --engine export, a principal holding only the scan grants is told which export grants it
lacks (the allowed side: test_doctor_export.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from ddbvault.devtools import local_servers
from ddbvault.exit_codes import ExitCode
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
ALL_NEEDED = ["dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:DescribeTimeToLive",
              "dynamodb:ListTagsOfResource", "s3:PutObject", "s3:GetObject", "s3:ListBucket",
              "s3:GetBucketVersioning", "s3:GetBucketObjectLockConfiguration", "s3:DeleteObject"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        ddb = admin.client("dynamodb", endpoint_url=srv.url)
        create_table(ddb, "doctored")
        fill_table(ddb, "doctored", 5, edge_cases=False)
        s3 = admin.client("s3", endpoint_url=srv.url)
        for bucket in ("doctor-open", "doctor-locked"):
            s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket="doctor-locked", VersioningConfiguration={"Status": "Enabled"})
        # moto applies a bucket policy's Deny to every principal: enough to show "denied"
        s3.put_bucket_policy(Bucket="doctor-locked", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject*",
             "Resource": "arn:aws:s3:::doctor-locked/*"}]}))
        iam = admin.client("iam", endpoint_url=srv.url)
        users = {}
        for name, missing in (("complete", None), ("noscan", "dynamodb:Scan"), ("noput", "s3:PutObject")):
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*",
                                                        "Action": [a for a in ALL_NEEDED if a != missing]}]}))
            users[name] = iam.create_access_key(UserName=name)["AccessKey"]
        local_servers.set_moto_auth(srv.url, 0)
        yield srv, users


def doctor(server, user: str, bucket: str, *extra: str) -> subprocess.CompletedProcess:
    srv, users = server
    env = {**os.environ, **local_servers.local_aws_env(srv.url), "AWS_ACCESS_KEY_ID": users[user]["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": users[user]["SecretAccessKey"]}
    env.pop("AWS_SESSION_TOKEN")
    return subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", "doctored", "--to",
                           f"s3://{bucket}/prod", *extra], capture_output=True, text=True, env=env, timeout=120)


def checks(proc) -> dict:
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def test_everything_allowed_and_deletes_denied(server):
    proc = doctor(server, "complete", "doctor-locked", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = checks(proc)
    for name in ("DescribeTable", "Scan", "DescribeTimeToLive", "ListTagsOfResource", "bucket reachable"):
        assert found[name]["status"] == "ok", found[name]
    probe = [c for n, c in found.items() if n.startswith("PutObject")][0]
    assert probe["status"] == "ok" and "/prod/_doctor/" in probe["detail"]
    assert found["DeleteObject denied"]["status"] == "ok"
    assert found["versioning"]["status"] == "ok" and found["versioning"]["detail"] == "Enabled"


def test_deletes_allowed_is_a_warning(server):
    proc = doctor(server, "complete", "doctor-open", "--json")
    assert proc.returncode == 0
    found = checks(proc)
    assert found["DeleteObject allowed"]["status"] == "warn"
    assert found["versioning"]["status"] == "warn"


@pytest.mark.parametrize("user,check,permission", [("noscan", "Scan", "dynamodb:Scan"),
                                                   ("noput", "PutObject", "s3:PutObject")])
def test_missing_permission_is_named_with_its_statement(server, user, check, permission):
    proc = doctor(server, user, "doctor-locked", "--json")
    assert proc.returncode == ExitCode.ACCESS_DENIED
    failed = [c for n, c in checks(proc).items() if n.startswith(check)][0]
    assert failed["status"] == "fail" and failed["permission"] == permission
    assert "ddbvault iam --part production" in failed["grant"] and "statement " in failed["grant"]
    plain = doctor(server, user, "doctor-locked")  # the plain output names it too
    assert f"✗ {check}" in plain.stdout and f"missing: {permission}" in plain.stdout


def test_missing_export_permissions_are_named_with_their_grant(server):
    proc = doctor(server, "complete", "doctor-locked", "--engine", "export", "--json")
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stdout + proc.stderr
    found = checks(proc)
    for name, permission, statement in (("DescribeExport", "dynamodb:DescribeExport", "DescribeOwnExports"),
                                        ("ExportTableToPointInTime", "dynamodb:ExportTableToPointInTime",
                                         "ExportBackedUpTables")):
        assert found[name]["status"] == "fail", found[name]
        assert found[name]["permission"] == permission
        assert f"statement {statement} of the production backup policy (ddbvault iam --engine export" in found[name]["grant"]
    assert found["export write"]["status"] == "ok"  # s3:PutObject on "*" here
