"""`ddbvault doctor --continuous`: the stream's view type (with the exact fix), DescribeStream and
GetShardIterator as real calls, and the change log's create-only write, against moto_server.

Without IAM enforcement: every check passes on a NEW_AND_OLD_IMAGES table; a table without a
stream or with KEYS_ONLY fails with the command that fixes it. With enforcement on (a second
server): a role holding the generated follower policy passes the stream checks, and one without
its stream statement fails naming dynamodb:DescribeStream and the statement that grants it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from ddbvault.devtools import local_servers
from ddbvault.exit_codes import ExitCode
from ddbvault.iac.continuous import follower_role_policy
from ddbvault.iac.inputs import make_inputs
from ddbvault.iac.policies import literal_arns
from tests.support.moto_iam import ACCOUNT, enforce_with_roles, for_moto
from tests.support.tables import create_table

pytestmark = pytest.mark.integration


def doctor(env: dict, table: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", table, "--to", "s3://vault/prod",
                           "--continuous", "--json", *extra], capture_output=True, text=True, env=env, timeout=120)


def checks(proc) -> dict:
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


def streamed(ddb, name: str, view: str | None) -> None:
    create_table(ddb, name)
    if view:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": view})


@pytest.fixture(scope="module")
def open_server(tmp_path_factory):
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        env = {**os.environ, **local_servers.local_aws_env(srv.url)}
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        ddb = admin.client("dynamodb", endpoint_url=srv.url)
        for name, view in (("orders", "NEW_AND_OLD_IMAGES"), ("images", "NEW_IMAGE"), ("keys", "KEYS_ONLY"),
                           ("plain", None)):
            streamed(ddb, name, view)
        ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
        s3 = admin.client("s3", endpoint_url=srv.url)
        s3.create_bucket(Bucket="vault")
        yield env, s3


@pytest.mark.parametrize("table", ["orders", "images"])
def test_a_followable_table_passes_every_check(open_server, table):
    env, s3 = open_server
    proc = doctor(env, table)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = checks(proc)
    assert found["stream"]["status"] == "ok" and f"table/{table}/stream/" in found["stream"]["detail"]
    assert found["DescribeStream"]["status"] == "ok" and "shard(s)" in found["DescribeStream"]["detail"]
    assert found["GetShardIterator"]["status"] == "ok" and "LATEST" in found["GetShardIterator"]["detail"]
    assert found["change log listable"]["status"] == "ok"
    assert found["overwrite refused"]["status"] == "ok"
    write = next(c for name, c in found.items() if name.startswith("PutObject create-only"))
    assert write["status"] == "ok" and "/prod/_doctor/changes/" in write["detail"]
    assert "Scan" not in found  # a follower needs no backup grants
    # Without enforcement the delete check's DeleteObject succeeds: the probe is gone, said as ⚠.
    assert found["DeleteObject allowed"]["status"] == "warn"


def test_the_table_by_arn_is_checked_and_its_name_used_for_the_fix_and_the_log(open_server):
    env, _ = open_server
    arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
    proc = doctor(env, arn)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = checks(proc)
    assert found["DescribeTable"]["detail"].startswith(arn)
    assert "s3://vault/prod/orders/changes/" in found["change log listable"]["detail"]
    plain = checks(doctor(env, f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/plain"))["stream"]["detail"]
    assert "update-table --table-name plain " in plain
    for table, extra, message in ((f"{arn}/stream/2026-11-30T00:00:00.000", (), "is a stream ARN"),
                                  (arn, ("--region", "eu-west-1"), "disagrees with the table ARN's region")):
        refused = doctor(env, table, *extra)
        assert refused.returncode == 2 and message in refused.stderr + refused.stdout, refused.stderr


def test_no_stream_fails_with_the_command_that_enables_it(open_server):
    env, _ = open_server
    proc = doctor(env, "plain")
    assert proc.returncode != 0, proc.stdout
    stream = checks(proc)["stream"]
    assert stream["status"] == "fail"
    assert stream["detail"] == ("no stream is enabled; fix: aws dynamodb update-table --table-name plain "
                                "--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")
    assert "DescribeStream" not in checks(proc)


def test_keys_only_fails_with_the_disable_then_enable_fix(open_server):
    env, _ = open_server
    proc = doctor(env, "keys")
    assert proc.returncode != 0, proc.stdout
    detail = checks(proc)["stream"]["detail"]
    assert detail.startswith("the stream is KEYS_ONLY, which holds no new image; fix: a stream's view type cannot "
                             "change in place: aws dynamodb update-table --table-name keys --stream-specification "
                             "StreamEnabled=false, then aws dynamodb update-table --table-name keys "
                             "--stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")


def test_continuous_refuses_backup_options_and_local_destinations(open_server):
    env, _ = open_server
    proc = doctor(env, "orders", "--engine", "export")
    assert proc.returncode == ExitCode.USAGE and "--continuous" in proc.stdout + proc.stderr
    local = subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", "orders", "--to", "/tmp/x",
                            "--continuous"], capture_output=True, text=True, env=env, timeout=120)
    assert local.returncode == ExitCode.USAGE and "local directory" in local.stderr
    assert "Traceback" not in local.stderr


# ------------------------------------------------------------------ with IAM enforcement

@pytest.fixture(scope="module")
def enforced(tmp_path_factory):
    inputs = make_inputs(tables=["orders"], prod_account=ACCOUNT, data_account="210987654321", bucket="vault",
                         region="us-east-1", prefix="prod", continuous=True)
    generated = for_moto(follower_role_policy(inputs, literal_arns(inputs)))
    without = {**generated, "Statement": [s for s in generated["Statement"] if s["Sid"] != "ReadTableStreams"]}
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        streamed(admin.client("dynamodb", endpoint_url=srv.url), "orders", "NEW_IMAGE")
        admin.client("s3", endpoint_url=srv.url).create_bucket(Bucket="vault")
        key = enforce_with_roles(srv.url, {"follower": generated, "follower-without-streams": without})
        env = {**os.environ, **local_servers.local_aws_env(srv.url),
               "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
        env.pop("AWS_SESSION_TOKEN")
        yield env


def as_role(role: str) -> list[str]:
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    return ["--table-role", arn, "--vault-role", arn]


def test_the_follower_policy_passes_the_stream_checks_for_real(enforced):
    found = checks(doctor(enforced, "orders", *as_role("follower")))
    assert found["source identity"]["detail"].endswith(":assumed-role/follower/ddbvault-doctor-source")
    assert [found[n]["status"] for n in ("DescribeTable", "stream", "DescribeStream", "GetShardIterator")] == ["ok"] * 4
    write = next(c for name, c in found.items() if name.startswith("PutObject create-only"))
    assert write["status"] == "ok"
    assert found["DeleteObject denied"]["status"] == "ok"


def test_without_the_stream_grant_describe_stream_fails_naming_it(enforced):
    proc = doctor(enforced, "orders", *as_role("follower-without-streams"))
    assert proc.returncode != 0
    found = checks(proc)["DescribeStream"]
    assert found["status"] == "fail" and found["permission"] == "dynamodb:DescribeStream"
    assert "ReadTableStreams" in found["grant"] and "FollowerReadsStream" in found["grant"]
    assert "GetShardIterator" not in checks(proc)


def test_the_change_log_lifecycle_rule_is_reported_and_one_that_expires_the_markers_fails(open_server):
    from ddbvault.iac.render import json_documents

    env, s3 = open_server
    inputs = make_inputs(tables=["orders"], prod_account="111111111111", data_account=ACCOUNT, bucket="vault",
                         prefix="prod", continuous=True, keep_changes=35)
    s3.put_bucket_lifecycle_configuration(
        Bucket="vault", LifecycleConfiguration=json_documents(inputs, "data")["data-bucket-lifecycle-configuration"])
    try:
        found = checks(doctor(env, "orders"))["change log lifecycle rule"]
        assert found["status"] == "info" and "expire after 35 days" in found["detail"]
        s3.put_bucket_lifecycle_configuration(Bucket="vault", LifecycleConfiguration={"Rules": [
            {"ID": "everything", "Status": "Enabled", "Filter": {"Prefix": "prod/"}, "Expiration": {"Days": 9}}]})
        proc = doctor(env, "orders")
        found = checks(proc)["change log lifecycle rule"]
        assert found["status"] == "fail" and "start.json, closed.json and gaps" in found["detail"]
        assert proc.returncode != 0
    finally:
        s3.delete_bucket_lifecycle(Bucket="vault")
    found = checks(doctor(env, "orders"))["change log lifecycle rule"]
    assert found["status"] == "info" and "kept until deleted" in found["detail"]
