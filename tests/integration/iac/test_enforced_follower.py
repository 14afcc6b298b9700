"""`ddbvault iam --continuous`: the generated follower role policy, proved on moto_server with IAM
enforcement switched on.

- A role holding exactly the generated follower policy reads the table's stream (DescribeTable,
  ListStreams, DescribeStream, GetShardIterator, GetRecords: the records of a put come back) and
  creates change-log objects under `<prefix>/<table>/changes/` create-only (the store's put_new,
  If-None-Match), with the ACL.
- It cannot write a backup's data/ or manifest, nor another table's change log, nor delete
  anything it wrote; a role without the stream grant cannot read the stream.
What moto cannot show, and how it is covered instead:
- moto authorizes DynamoDB calls (Streams too: they are signed as `dynamodb`) against Resource
  "*" only, so the DynamoDB statements' ARNs are widened to "*" here (as in
  test_enforced_permissions.py); that the stream grant names only the given tables' streams is
  shown with moto's own policy evaluator on the generated, unwidened document.
- moto stores a DynamoDB resource-based policy (PutResourcePolicy) but does not enforce it, and
  serves one account's streams to that account only: the cross-account read through the stream
  policy cannot run here. The stream policy's shape is checked by the unit tests
  (tests/unit/iac/test_continuous_policies.py) and by parliament; the same-account run below
  proves the role's half.
- moto_server 5.1.22 answers SignatureDoesNotMatch to any signed ListObjectsV2 whose prefix holds a
  "/" once enforcement is on (whatever the policy), so the ListChangeLog grant is not exercised
  here; its prefix condition is checked by the unit tests.
"""

from __future__ import annotations

import json
import os

import boto3
import pytest

from ddbvault.devtools import local_servers
from ddbvault.errors import AccessDeniedError, IntegrityError
from ddbvault.iac.continuous import follower_role_policy, stream_policy
from ddbvault.iac.inputs import make_inputs
from ddbvault.iac.policies import literal_arns
from ddbvault.storage import WriteOptions
from ddbvault.storage.s3 import S3Store
from moto.iam.access_control import IAMPolicy, PermissionResult
from tests.support.moto_iam import ACCOUNT, enforce_with_roles, for_moto
from tests.support.moto_iam import assumed as assumed_session
from tests.support.tables import create_table

pytestmark = pytest.mark.integration
INPUTS = make_inputs(tables=["orders"], prod_account=ACCOUNT, data_account="210987654321",
                     bucket="vault-bucket", region="us-east-1", prefix="prod", continuous=True)
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders"
ALLOWED = PermissionResult.PERMITTED


def stream_less(policy: dict) -> dict:
    return {**policy, "Statement": [s for s in policy["Statement"] if s["Sid"] != "ReadTableStreams"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        admin = boto3.Session(aws_access_key_id="a", aws_secret_access_key="a", region_name="us-east-1")
        ddb = admin.client("dynamodb", endpoint_url=srv.url)
        create_table(ddb, "orders")
        ddb.update_table(TableName="orders", StreamSpecification={"StreamEnabled": True,
                                                                  "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ddb.put_item(TableName="orders", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "1"}})
        admin.client("s3", endpoint_url=srv.url).create_bucket(Bucket="vault-bucket")
        generated = for_moto(follower_role_policy(INPUTS, literal_arns(INPUTS)))
        key = enforce_with_roles(srv.url, {"ddbvault-follower": generated,
                                           "follower-without-streams": stream_less(generated)})
        yield srv, key


def assumed(server, role: str) -> boto3.Session:
    return assumed_session(server[0].url, server[1], role)


@pytest.fixture(autouse=True)
def _no_env_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(os.environ, "AWS_DEFAULT_REGION", "us-east-1")


def test_the_follower_policy_reads_the_stream(server):
    session = assumed(server, "ddbvault-follower")
    ddb = session.client("dynamodb", endpoint_url=server[0].url)
    streams = session.client("dynamodbstreams", endpoint_url=server[0].url)
    arn = ddb.describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    assert [s["StreamArn"] for s in streams.list_streams(TableName="orders")["Streams"]] == [arn]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["Keys"] for r in records] == [{"pk": {"S": "a"}, "sk": {"N": "1"}}]


def test_without_the_stream_grant_the_stream_is_denied(server):
    session = assumed(server, "follower-without-streams")
    arn = session.client("dynamodb", endpoint_url=server[0].url).describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    streams = session.client("dynamodbstreams", endpoint_url=server[0].url)
    with pytest.raises(streams.exceptions.ClientError) as denied:
        streams.describe_stream(StreamArn=arn)
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def store_of(server, role: str) -> S3Store:
    s3 = assumed(server, role).client("s3", endpoint_url=server[0].url)
    return S3Store(s3, "vault-bucket", WriteOptions(acl="bucket-owner-full-control"))


def test_the_follower_writes_the_change_log_create_only(server):
    store = store_of(server, "ddbvault-follower")
    key = "prod/orders/changes/000000000000000000000000000000000000000001-x/shardId-1/start.json"
    store.put_new(key, b'{"change_log":"1.0"}\n')
    store.put_new(key, b'{"change_log":"1.0"}\n')  # the same object again: a second follower's race, fine
    with pytest.raises(IntegrityError, match="refusing to overwrite"):
        store.put_new(key, b'{"change_log":"1.0","other":1}\n')
    assert store.get(key, limit=1024) == b'{"change_log":"1.0"}\n'


@pytest.mark.parametrize("key", ["prod/orders/20261130T101500Z-abcd/data/0000-000000.json.gz",
                                 "prod/orders/20261130T101500Z-abcd/manifest.json",
                                 "prod/payments/changes/label/shardId-1/1-2.jsonl.gz",
                                 "prod/orders/changes.json"], ids=["data", "manifest", "other-table", "beside"])
def test_the_follower_cannot_write_outside_the_change_log(server, key):
    with pytest.raises(AccessDeniedError) as denied:
        store_of(server, "ddbvault-follower").put_new(key, b"x")
    assert "s3:PutObject" in str(denied.value.permission)


def test_the_follower_cannot_delete(server):
    store = store_of(server, "ddbvault-follower")
    key = "prod/orders/changes/gaps/20261130T101500Z-abcdef.json"
    store.put_new(key, b"{}")
    s3 = assumed(server, "ddbvault-follower").client("s3", endpoint_url=server[0].url)
    with pytest.raises(s3.exceptions.ClientError) as denied:
        s3.delete_object(Bucket="vault-bucket", Key=key)
    assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_the_stream_grants_name_the_given_tables_streams_only():
    arns = literal_arns(INPUTS)
    role = IAMPolicy(json.dumps(follower_role_policy(INPUTS, arns)))
    stream = IAMPolicy(json.dumps(stream_policy(INPUTS, arns, INPUTS.tables[0])))
    mine = f"{TABLE_ARN}/stream/2026-11-30T10:15:00.000"
    other = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/payments/stream/2026-11-30T10:15:00.000"
    for action in ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords"):
        for policy in (role, stream):
            assert policy.is_action_permitted(action, mine) == ALLOWED
            assert policy.is_action_permitted(action, other) != ALLOWED
    for action in ("dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:PutResourcePolicy"):
        assert role.is_action_permitted(action, TABLE_ARN) != ALLOWED
        assert stream.is_action_permitted(action, mine) != ALLOWED
