"""Bad input and AWS failures: one clear message, the right exit code, nothing that looks complete."""

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


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=120)


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "present")
    fill_table(ddb, "present", 50, edge_cases=False)
    return "present"


def test_missing_table_names_table_action_and_code(table, aws_env, tmp_path):
    proc = run_cli("backup", "absent-table", "--to", str(tmp_path))
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "DescribeTable" in proc.stderr and "absent-table" in proc.stderr
    assert "ResourceNotFoundException" in proc.stderr
    assert not list(tmp_path.rglob("*"))


def test_missing_bucket_names_bucket(table, aws_env):
    proc = run_cli("backup", table, "--to", "s3://no-such-bucket-here/x", "--json")
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "no-such-bucket-here" in proc.stderr and "HeadBucket" in proc.stderr
    error = json.loads(proc.stdout)
    assert error["exit_code"] == 3 and "no-such-bucket-here" in error["message"]


@pytest.mark.parametrize("args,needle", [
    (["--read-share", "2"], "--read-share"),
    (["--compression", "lz4"], "--compression"),
    (["--kms-key-id", "k"], "--kms-key-id needs --sse aws:kms"),
    (["--object-size", "big"], "--object-size"),
    (["--workers", "0"], "--workers"),
])
def test_bad_options_exit_2_naming_the_option(table, aws_env, tmp_path, args, needle):
    proc = run_cli("backup", table, "--to", str(tmp_path), *args)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert needle in proc.stderr
    assert not list(tmp_path.rglob("*"))


def test_bad_destination_and_table_name(aws_env):
    proc = run_cli("backup", "present", "--to", "ftp://host/x")
    assert proc.returncode == ExitCode.USAGE and "ftp://host/x" in proc.stderr
    proc = run_cli("backup", "no", "--to", "s3://Bad_Bucket/x")
    assert proc.returncode == ExitCode.USAGE and "table name" in proc.stderr


def test_success_json_has_the_documented_fields(table, aws_env, tmp_path):
    proc = run_cli("backup", table, "--to", str(tmp_path), "--json", "--read-rcu", "1000")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for field in ("url", "backup_id", "table", "items", "bytes", "objects", "consumed_rcu", "seconds"):
        assert field in out
    assert out["items"] == 50 and out["table"] == table
    assert out["url"] == f"{tmp_path}/{table}/{out['backup_id']}"
    assert (tmp_path / table / out["backup_id"] / "manifest.json").is_file()


@pytest.fixture
def enforcing_moto(tmp_path):
    """A moto_server of its own with IAM enforcement on, and a user allowed all but s3:PutObject."""
    with local_servers.moto_server(tmp_path / "moto-auth.log") as server:
        env = {**os.environ, **local_servers.local_aws_env(server.url)}
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        kw = {"endpoint_url": server.url}
        ddb = admin.client("dynamodb", **kw)
        create_table(ddb, "guarded")
        fill_table(ddb, "guarded", 20, edge_cases=False)
        admin.client("s3", **kw).create_bucket(Bucket="guarded-backups")
        iam = admin.client("iam", **kw)
        iam.create_user(UserName="backup")
        iam.put_user_policy(UserName="backup", PolicyName="p", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:*", "s3:ListBucket", "s3:AbortMultipartUpload",
                                               "sts:GetCallerIdentity"], "Resource": "*"}]}))
        key = iam.create_access_key(UserName="backup")["AccessKey"]
        local_servers.set_moto_auth(server.url, 0)
        env.update(AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
        env.pop("AWS_SESSION_TOKEN")
        yield env


def test_access_denied_names_action_resource_code_and_permission(enforcing_moto):
    proc = run_cli("backup", "guarded", "--to", "s3://guarded-backups/prod", env=enforcing_moto)
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stderr
    line = proc.stderr.splitlines()[0]
    assert "PutObject" in line and "s3://guarded-backups/prod/guarded/" in line
    assert "AccessDenied" in line and "missing permission: s3:PutObject" in line


def test_unreachable_s3_endpoint_is_named(table, aws_env):
    env = {**os.environ, "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{local_servers.free_port()}"}
    proc = run_cli("backup", table, "--to", "s3://some-bucket/x", env=env)
    assert proc.returncode == ExitCode.AWS_ERROR, proc.stderr
    assert "HeadBucket on s3://some-bucket failed: cannot reach the endpoint" in proc.stderr


def test_progress_bar_shows_items_mb_and_rcu(table, aws_env, tmp_path):
    proc = run_cli("backup", table, "--to", str(tmp_path), "--progress", "--read-rcu", "1000")
    assert proc.returncode == 0, proc.stderr
    assert "present" in proc.stderr and "RCU/s" in proc.stderr and "MB" in proc.stderr
    assert "backed up 50 items of present" in proc.stdout
