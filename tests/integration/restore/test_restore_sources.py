"""Restore from a native DynamoDB export, and `--via import` (ImportTable), on moto."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.demo import create_demo_table, load_items
from ddbvault.errors import IntegrityError, UsageError
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.devtools.sample_data import sample_item
from tests.support.tables import canonical_items, create_table, fill_table, moto_import_safe, scan_all, wire

pytestmark = pytest.mark.integration
FAST = dict(write_wcu=100000)


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _export(ddb, s3, table: str, bucket: str) -> str:
    """A real ExportTableToPointInTime on moto. moto writes the data files but no manifest
    files, so they are written here in DynamoDB's documented shape from moto's data files."""
    ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    arn = ddb.describe_table(TableName=table)["Table"]["TableArn"]
    export = ddb.export_table_to_point_in_time(TableArn=arn, S3Bucket=bucket, S3Prefix="exports",
                                               ExportFormat="DYNAMODB_JSON")["ExportDescription"]
    for _ in range(50):
        if ddb.describe_export(ExportArn=export["ExportArn"])["ExportDescription"]["ExportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="exports/AWSDynamoDB/")["Contents"]]
    root = keys[0].split("/data/")[0]
    files, total = [], 0
    for key in keys:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        count = len(gzip.decompress(data).splitlines())
        total += count
        files.append({"itemCount": count, "md5Checksum": base64.b64encode(hashlib.md5(data).digest()).decode(),
                      "etag": "", "dataFileS3Key": key})
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest-files.json",
                  Body="\n".join(json.dumps(f) for f in files).encode())
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest-summary.json", Body=json.dumps({
        "version": "2020-06-30", "exportArn": export["ExportArn"], "tableArn": arn, "itemCount": total,
        "outputFormat": "DYNAMODB_JSON", "manifestFilesS3Key": f"{root}/manifest-files.json"}).encode())
    return f"s3://{bucket}/{root}"


def _exported(ddb, s3, table: str, bucket: str, items: int) -> tuple[str, str]:
    """A filled table exported into a new bucket: the export's URL and its key prefix."""
    create_table(ddb, table)
    fill_table(ddb, table, items, edge_cases=False)
    s3.create_bucket(Bucket=bucket)
    url = _export(ddb, s3, table, bucket)
    return url, url.split("/", 3)[3]


def test_restore_from_native_export(ddb, s3, aws_env):
    create_table(ddb, "exported")
    fill_table(ddb, "exported", 120, edge_cases=False)
    s3.create_bucket(Bucket="native-exports")
    url = _export(ddb, s3, "exported", "native-exports")
    with pytest.raises(UsageError, match="no table schema"):
        restore_backup(url, "from-export", RestoreOptions(**FAST))
    create_table(ddb, "from-export")
    result = restore_backup(url, "from-export", RestoreOptions(no_create=True, **FAST))
    assert result.items == 120
    assert canonical_items(wire(scan_all(ddb, "from-export"))) == canonical_items(wire(scan_all(ddb, "exported")))


def test_native_export_md5_mismatch_names_the_object(ddb, s3, aws_env):
    url, root = _exported(ddb, s3, "exported2", "native-exports2", 30)
    files_key = f"{root}/manifest-files.json"
    entry = json.loads(s3.get_object(Bucket="native-exports2", Key=files_key)["Body"].read().splitlines()[0])
    entry["md5Checksum"] = base64.b64encode(b"\0" * 16).decode()
    s3.put_object(Bucket="native-exports2", Key=files_key, Body=json.dumps(entry).encode())
    create_table(ddb, "from-export2")
    with pytest.raises(IntegrityError, match="MD5") as info:
        restore_backup(url, "from-export2", RestoreOptions(no_create=True, **FAST))
    assert entry["dataFileS3Key"] in str(info.value)


def test_via_import_restores_items_ttl_and_tags(ddb, s3, aws_env):
    ddb.create_table(TableName="imp-src", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}],
                     Tags=[{"Key": "app", "Value": "shop"}])
    ddb.update_time_to_live(TableName="imp-src", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    rows = [{k: moto_import_safe(v) for k, v in sample_item(i, payload_bytes=80).items() if v != {"M": {}}}
            for i in range(150)]
    load_items(ddb, "imp-src", rows)
    s3.create_bucket(Bucket="imp-bucket")
    backup = backup_table("imp-src", "s3://imp-bucket/b", BackupOptions(read_rcu=100000))
    result = restore_backup(backup.url, "imp-dst", RestoreOptions(via="import"))
    assert result.via == "import" and result.items == 150
    assert canonical_items(wire(scan_all(ddb, "imp-dst"))) == canonical_items(wire(scan_all(ddb, "imp-src")))
    assert ddb.describe_time_to_live(TableName="imp-dst")["TimeToLiveDescription"]["AttributeName"] == "exp"
    arn = ddb.describe_table(TableName="imp-dst")["Table"]["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "app", "Value": "shop"}]


def test_via_import_refuses_lsis_and_local_backups(ddb, s3, aws_env, tmp_path):
    create_demo_table(ddb, "with-lsi")  # has an LSI
    load_items(ddb, "with-lsi", [sample_item(i) for i in range(5)])
    s3.create_bucket(Bucket="lsi-bucket")
    backup = backup_table("with-lsi", "s3://lsi-bucket/b", BackupOptions(read_rcu=100000))
    with pytest.raises(UsageError, match="local secondary indexes"):
        restore_backup(backup.url, "lsi-dst", RestoreOptions(via="import"))
    local = backup_table("with-lsi", str(tmp_path), BackupOptions(read_rcu=100000))
    with pytest.raises(UsageError, match="needs a backup in S3"):
        restore_backup(local.url, "lsi-dst", RestoreOptions(via="import", skip_lsi=True))
    assert "lsi-dst" not in ddb.list_tables()["TableNames"]


DATA_ACCOUNT = "210987654321"


def _owned_by_data_account(method, path, headers):
    """S3's ExpectedBucketOwner rule, which moto does not enforce: the bucket is the data account's."""
    expected = headers.get("x-amz-expected-bucket-owner")
    if expected and expected != DATA_ACCOUNT:
        return 403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
    return None


def _import_requests(proxy) -> list[dict]:
    return [json.loads(body) for (_, _, headers), body in zip(proxy.requests, proxy.bodies)
            if headers.get("x-amz-target", "").endswith(".ImportTable")]


def test_via_import_names_the_bucket_owner_of_another_account(ddb, s3, aws_env, monkeypatch):
    from ddbvault.aws.session import Principal
    from tests.support.recording_proxy import RecordingProxy

    ddb.create_table(TableName="own-src", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName="own-src", Item={"pk": {"S": "a"}})
    s3.create_bucket(Bucket="own-bucket")
    backup = backup_table("own-src", "s3://own-bucket/b", BackupOptions(read_rcu=100000))
    with RecordingProxy(aws_env) as same, RecordingProxy(aws_env, answer=_owned_by_data_account) as other:
        monkeypatch.setenv("AWS_ENDPOINT_URL", same.url)
        restore_backup(backup.url, "own-same", RestoreOptions(via="import"))
        monkeypatch.setenv("AWS_ENDPOINT_URL", other.url)
        with pytest.raises(UsageError, match="cannot tell which account owns bucket own-bucket") as info:
            restore_backup(backup.url, "own-refused", RestoreOptions(via="import"))
        assert "--bucket-owner" in info.value.hint
        reader = Principal(role_arn=f"arn:aws:iam::{DATA_ACCOUNT}:role/reader")
        restore_backup(backup.url, "own-probed", RestoreOptions(via="import", vault_principal=reader))
        restore_backup(backup.url, "own-given", RestoreOptions(via="import", bucket_owner=DATA_ACCOUNT))
        monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert [r["S3BucketSource"].get("S3BucketOwner") for r in _import_requests(same)] == [None]
    assert [r["S3BucketSource"].get("S3BucketOwner") for r in _import_requests(other)] == [DATA_ACCOUNT] * 2
    assert "own-refused" not in ddb.list_tables()["TableNames"]
    with pytest.raises(UsageError, match="12-digit"):
        restore_backup(backup.url, "never", RestoreOptions(via="import", bucket_owner="data"))


@pytest.mark.parametrize("tamper,message", [
    ("duplicate", "lists 'data/"),  # a data file listed twice: its items counted (and written) twice
    ("count-text", "itemCount is not a count"),
])
def test_native_export_manifest_files_that_do_not_add_up_are_refused(ddb, s3, aws_env, tamper, message):
    table, bucket = f"exported-{tamper}", f"native-{tamper}"
    url, root = _exported(ddb, s3, table, bucket, 12)
    files = s3.get_object(Bucket=bucket, Key=f"{root}/manifest-files.json")["Body"].read().splitlines()
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{root}/manifest-summary.json")["Body"].read())
    if tamper == "duplicate":
        s3.put_object(Bucket=bucket, Key=f"{root}/manifest-files.json", Body=b"\n".join([files[0], files[0]]))
        summary["itemCount"] = 2 * json.loads(files[0])["itemCount"]
    else:
        summary["itemCount"] = str(summary["itemCount"])
    s3.put_object(Bucket=bucket, Key=f"{root}/manifest-summary.json", Body=json.dumps(summary).encode())
    create_table(ddb, f"{table}-r")
    with pytest.raises(IntegrityError, match=message) as raised:
        restore_backup(url, f"{table}-r", RestoreOptions(no_create=True, **FAST))
    assert raised.value.hint
    assert ddb.scan(TableName=f"{table}-r")["Count"] == 0


def test_a_native_export_copied_to_another_prefix_restores(ddb, s3, aws_env):
    """manifest-summary.json names manifest-files.json by the key DynamoDB wrote. Copied under a
    deeper prefix, that key was rewritten by dropping two path parts (a guess: NoSuchKey, exit 3)."""
    _, root = _exported(ddb, s3, "exported-moved", "native-moved", 15)
    moved = f"archive/2026/deeper/{root}"
    for obj in s3.list_objects_v2(Bucket="native-moved", Prefix=root)["Contents"]:
        s3.copy_object(Bucket="native-moved", Key=f"archive/2026/deeper/{obj['Key']}",
                       CopySource={"Bucket": "native-moved", "Key": obj["Key"]})
    create_table(ddb, "from-moved")
    result = restore_backup(f"s3://native-moved/{moved}", "from-moved", RestoreOptions(no_create=True, **FAST))
    assert result.items == 15
