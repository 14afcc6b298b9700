"""Retention on a real S3 server (Ceph radosgw 16, tests/support/radosgw.py): a backup under a
keep policy, written by another user into an Object-Lock (COMPLIANCE) bucket, sends its tier
tag and retention with each create-only PutObject, and the server stores both.

moto stores tags and retention too (tests/integration/backup/test_retention.py); here a server
that enforces principals and Object Lock accepts `Tagging`, `ObjectLockMode` and
`ObjectLockRetainUntilDate` together with `If-None-Match: *` and the SHA-256 checksum, and
refuses to delete a locked version before the tier's expiry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.support.radosgw import RadosGateway, radosgw_cluster
from tests.support.tables import create_table, fill_table

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("radosgw") is None,
                       reason="radosgw is not installed: apt-get install --no-install-recommends "
                              "radosgw ceph-mon ceph-osd (.ci/run installs them)"),
]
BUCKET, TABLE = "kept-backups", "kept-orders"
LOG_DIR = Path(os.environ.get("DDBVAULT_TEST_LOGS", "/tmp/ddbvault-test-logs")) / "radosgw-retention"
# What `ddbvault iam --keep` grants the writer on the bucket (iac/policies.py keep_statements),
# plain: RGW 16 evaluates neither aws:PrincipalArn nor StringLike on s3:prefix.
WRITER_ACTIONS = ["s3:PutObject", "s3:PutObjectAcl", "s3:PutObjectTagging", "s3:PutObjectRetention", "s3:GetObject",
                  "s3:ListBucket", "s3:GetBucketObjectLockConfiguration"]


@pytest.fixture(scope="module")
def rgw():
    with radosgw_cluster(("owner", "writer"), log_dir=LOG_DIR) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def owner(rgw: RadosGateway):
    client = rgw.client("owner")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(Bucket=BUCKET, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    client.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": rgw.users["writer"].principal_arn}, "Action": WRITER_ACTIONS,
         "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]}]}))
    return client


def test_tags_and_compliance_retention_reach_a_real_server(rgw, owner, ddb, moto_url):
    create_table(ddb, TABLE)
    fill_table(ddb, TABLE, 30, edge_cases=False)
    env = {**os.environ, **rgw.env_for("writer"), "AWS_ENDPOINT_URL_DYNAMODB": moto_url}
    env.pop("AWS_SESSION_TOKEN", None)
    before = datetime.now(timezone.utc)
    results = []
    for _ in range(2):  # the second finds the first's manifest: the tier choice lists and reads
        proc = subprocess.run([sys.executable, "-m", "ddbvault", "backup", TABLE, "--to", f"s3://{BUCKET}/p",
                               "--keep", "daily=2,weekly=3", "--read-rcu", "10000",
                               "--no-progress", "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        results.append(json.loads(proc.stdout))
    assert [r["tier"] for r in results] == ["weekly", "daily"]
    assert results[0]["object_lock_mode"] == "COMPLIANCE"
    for result in results:
        expires = datetime.fromisoformat(result["expires_at"].replace("Z", "+00:00"))
        days = 21 if result["tier"] == "weekly" else 2
        assert before + timedelta(days=days) - timedelta(seconds=5) <= expires
        keys = [o["Key"] for o in owner.list_objects_v2(Bucket=BUCKET, Prefix=f"p/{TABLE}/{result['backup_id']}/")["Contents"]]
        assert any(k.endswith("manifest.json") for k in keys) and len(keys) >= 2
        for key in keys:
            tags = owner.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
            assert tags == [{"Key": "ddbvault-tier", "Value": result["tier"]}], key
            retention = owner.get_object_retention(Bucket=BUCKET, Key=key)["Retention"]
            assert retention["Mode"] == "COMPLIANCE" and retention["RetainUntilDate"] == expires, key
    locked = keys[0]
    version = owner.head_object(Bucket=BUCKET, Key=locked)["VersionId"]
    with pytest.raises(ClientError) as refused:
        owner.delete_object(Bucket=BUCKET, Key=locked, VersionId=version)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
