"""Cross-account on moto: table in account A, bucket in account B, written through a role in B.

moto gives an assumed role in another account id that account's view, so the bucket really
belongs to B. Because every moto account shares one S3 canonical owner, the stored ACL cannot
prove which ACL was sent: a recording proxy in front of S3 checks the request headers instead.
"""

from __future__ import annotations

import boto3
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.aws.session import Principal, make_session
from ddbvault.format.manifest import Manifest
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
DATA_ACCOUNT = "222233334444"
WRITER = f"arn:aws:iam::{DATA_ACCOUNT}:role/backup-writer"


MIB = 1024 * 1024


@pytest.fixture(scope="module")
def setup(ddb):
    create_table(ddb, "orders")
    fill_table(ddb, "orders", 300)
    create_table(ddb, "orders-large")  # ~7.3 MB of lines: one object of two parts at 5 MiB
    fill_table(ddb, "orders-large", 180, edge_cases=False, payload_bytes=40_000)
    data = make_session(Principal(role_arn=f"arn:aws:iam::{DATA_ACCOUNT}:role/admin", session_name="admin"))
    data.client("s3").create_bucket(Bucket="data-account-backups")
    key_arn = data.client("kms").create_key(Description="backups")["KeyMetadata"]["Arn"]
    return data, key_arn


def _object_writes(proxy: RecordingProxy) -> list[dict]:
    """Headers of every request that creates an object (PutObject, CreateMultipartUpload)."""
    return [headers for method, path, headers in proxy.requests
            if (method == "PUT" and "partNumber=" not in path and "/data-account-backups/" in path)
            or (method == "POST" and path.endswith("?uploads"))]


def test_backup_lands_in_the_data_account_with_acl_and_sse_kms(setup, aws_env, monkeypatch):
    data, key_arn = setup
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        result = backup_table("orders", "s3://data-account-backups/prod", BackupOptions(
            sse="aws:kms", kms_key_id=key_arn, read_rcu=10000, vault_principal=Principal(role_arn=WRITER)))
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    writes = _object_writes(proxy)
    # data objects (CreateMultipartUpload), the plan, an attempt record and a result per segment,
    # and the manifest (docs/scale.md): each carries the ACL and the SSE
    assert len(writes) == result.objects + 1 + 2 * result.segments + 1
    assert all(h.get("x-amz-acl") == "bucket-owner-full-control" for h in writes)
    assert all(h.get("x-amz-server-side-encryption") == "aws:kms" for h in writes)
    assert all(h.get("x-amz-server-side-encryption-aws-kms-key-id") == key_arn for h in writes)
    # create-only: every PutObject, and every CompleteMultipartUpload (a CreateMultipartUpload
    # creates nothing visible; its completion is the create)
    puts = [h for m, path, h in proxy.requests if m == "PUT" and "partNumber=" not in path
            and "/data-account-backups/" in path]
    completes = [h for m, path, h in proxy.requests if m == "POST" and "uploadId=" in path]
    assert len(completes) == result.objects
    assert all(h.get("if-none-match") == "*" for h in puts + completes)
    assert not [r for r in proxy.requests if r[0] == "DELETE"], "the writer must never delete"

    s3_data = data.client("s3")  # the bucket owner reads what production wrote
    root = f"prod/orders/{result.backup_id}"
    manifest = Manifest.from_json(s3_data.get_object(Bucket="data-account-backups", Key=f"{root}/manifest.json")["Body"].read())
    assert manifest.source["account"] == "123456789012"
    assert manifest.options["sse"] == "aws:kms" and manifest.options["kms_key_id"] == key_arn
    head = s3_data.head_object(Bucket="data-account-backups", Key=f"{root}/{manifest.objects[0].key}")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    grants = s3_data.get_object_acl(Bucket="data-account-backups", Key=f"{root}/manifest.json")["Grants"]
    assert any(g["Permission"] == "FULL_CONTROL" for g in grants)
    # the production account's own view has no such bucket: it really lives in account B
    names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert "data-account-backups" not in names


def test_acl_none_sends_no_acl_header(setup, aws_env, monkeypatch):
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        backup_table("orders", "s3://data-account-backups/noacl", BackupOptions(
            acl=None, read_rcu=10000, vault_principal=Principal(role_arn=WRITER)))
    writes = _object_writes(proxy)
    assert writes and all("x-amz-acl" not in h for h in writes)


def test_multipart_objects_are_completed_create_only(setup, aws_env, monkeypatch):
    """An object larger than a part goes up as a multipart upload, and its
    CompleteMultipartUpload is the call that creates the object: it must carry If-None-Match: *
    as PutObject does, or a retried or concurrent upload would overwrite a backup."""
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        result = backup_table("orders-large", "s3://data-account-backups/multipart", BackupOptions(
            compression="none", segments=1, workers=1, part_size=5 * MIB, read_rcu=10000,
            vault_principal=Principal(role_arn=WRITER)))
        monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    creates = [h for method, path, h in proxy.requests if method == "POST" and path.endswith("?uploads")]
    parts = [path for method, path, _ in proxy.requests if method == "PUT" and "partNumber=" in path]
    completes = [h for method, path, h in proxy.requests if method == "POST" and "uploadId=" in path]
    assert result.objects == 1 and len(creates) == 1 and len(parts) >= 2, proxy.requests
    assert len(completes) == 1
    assert completes[0].get("if-none-match") == "*"
    assert creates[0].get("x-amz-acl") == "bucket-owner-full-control"
    assert not [r for r in proxy.requests if r[0] == "DELETE"], "nothing aborted, nothing deleted"
