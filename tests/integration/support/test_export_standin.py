"""Self-test of tests/support/export_standin.py against a real moto_server, with plain boto3 calls."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from ddbvault.devtools.local_servers import local_aws_env
from tests.support.export_standin import ExportStandIn
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
BUCKET = "exports"
OTHER_ACCOUNT = "222233334444"


@pytest.fixture(scope="module")
def standin(aws_env, ddb, s3):
    create_table(ddb, "orders")
    fill_table(ddb, "orders", 30)
    ddb.update_continuous_backups(TableName="orders",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    create_table(ddb, "no-pitr")
    s3.create_bucket(Bucket=BUCKET)
    with ExportStandIn(aws_env) as standin:
        yield standin


@pytest.fixture
def client(standin):
    env = local_aws_env(standin.url)
    return boto3.client("dynamodb", endpoint_url=standin.url, region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key="testing",
                        aws_session_token="testing")


def arn(ddb, table: str) -> str:
    return ddb.describe_table(TableName=table)["Table"]["TableArn"]


def export(client, ddb, table="orders", **args) -> dict:
    args = {"TableArn": arn(ddb, table), "S3Bucket": BUCKET, "S3Prefix": f"p/{time.time_ns()}", **args}
    return client.export_table_to_point_in_time(**args)["ExportDescription"]


def wait(client, export_arn: str, polls: int = 10) -> dict:
    for _ in range(polls):
        description = client.describe_export(ExportArn=export_arn)["ExportDescription"]
        if description["ExportStatus"] != "IN_PROGRESS":
            return description
    raise AssertionError(f"{export_arn} still IN_PROGRESS after {polls} polls")


def code_of(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_full_export_layout_and_checksums(client, ddb, s3):
    started = export(client, ddb)
    assert started["ExportStatus"] == "IN_PROGRESS" and started["ExportType"] == "FULL_EXPORT"
    export_id = started["ExportArn"].rpartition("/export/")[2]
    assert started["ExportArn"] == f"{arn(ddb, 'orders')}/export/{export_id}"
    root = f"{started['S3Prefix']}/AWSDynamoDB/{export_id}"
    assert s3.get_object(Bucket=BUCKET, Key=f"{root}/_started")["Body"].read() == b""
    with pytest.raises(ClientError):  # the summary is written when the export completes
        s3.head_object(Bucket=BUCKET, Key=f"{root}/manifest-summary.json")
    done = wait(client, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ItemCount"] == 30 and done["BilledSizeBytes"] > 0
    assert done["ExportManifest"] == f"{root}/manifest-summary.json" and done["EndTime"] >= done["StartTime"]
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{root}/manifest-summary.json")["Body"].read())
    assert summary["exportArn"] == started["ExportArn"] and summary["itemCount"] == 30
    assert summary["outputFormat"] == "DYNAMODB_JSON" and summary["exportType"] == "FULL_EXPORT"
    assert summary["manifestFilesS3Key"] == f"{root}/manifest-files.json" and "exportTime" in summary
    files = [json.loads(line) for line in
             s3.get_object(Bucket=BUCKET, Key=summary["manifestFilesS3Key"])["Body"].read().splitlines()]
    items = []
    for entry in files:
        assert entry["dataFileS3Key"].startswith(f"{root}/data/") and entry["dataFileS3Key"].endswith(".json.gz")
        data = s3.get_object(Bucket=BUCKET, Key=entry["dataFileS3Key"])["Body"].read()
        assert entry["md5Checksum"] == base64.b64encode(hashlib.md5(data).digest()).decode()
        assert entry["etag"] == hashlib.md5(data).hexdigest()
        lines = [json.loads(line) for line in gzip.decompress(data).splitlines()]
        assert len(lines) == entry["itemCount"]
        items += [line["Item"] for line in lines]
    assert len(items) == 30 and all("pk" in item and "S" in item["pk"] for item in items)


def test_items_per_file_splits_and_empty_table_gives_one_empty_file(standin, client, ddb, s3):
    standin.items_per_file = 7
    try:
        done = wait(client, export(client, ddb)["ExportArn"])
    finally:
        standin.items_per_file = 1000
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=done["ExportManifest"])["Body"].read())
    counts = [json.loads(line)["itemCount"] for line in
              s3.get_object(Bucket=BUCKET, Key=summary["manifestFilesS3Key"])["Body"].read().splitlines()]
    assert counts == [7, 7, 7, 7, 2]
    create_table(ddb, "empty")
    ddb.update_continuous_backups(TableName="empty",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    done = wait(client, export(client, ddb, "empty")["ExportArn"])
    assert done["ItemCount"] == 0


def test_polls_to_complete(standin, client, ddb):
    standin.polls_to_complete = 4
    try:
        started = export(client, ddb)
        statuses = [client.describe_export(ExportArn=started["ExportArn"])["ExportDescription"]["ExportStatus"]
                    for _ in range(5)]
    finally:
        standin.polls_to_complete = 2
    assert statuses == ["IN_PROGRESS"] * 3 + ["COMPLETED"] * 2


def test_fail_next_export(standin, client, ddb, s3):
    standin.fail_next_export("UNKNOWN", "the stand-in was told to fail")
    started = export(client, ddb)
    done = wait(client, started["ExportArn"])
    assert (done["ExportStatus"], done["FailureCode"], done["FailureMessage"]) == \
        ("FAILED", "UNKNOWN", "the stand-in was told to fail")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=started["S3Prefix"])["Contents"]]
    assert len(keys) == 1 and keys[0].endswith("/_started")
    assert wait(client, export(client, ddb)["ExportArn"])["ExportStatus"] == "COMPLETED"  # only the next


def test_corrupt_next_export_md5(standin, client, ddb, s3):
    standin.corrupt_next_export("md5")
    done = wait(client, export(client, ddb)["ExportArn"])
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=done["ExportManifest"])["Body"].read())
    entry = json.loads(s3.get_object(Bucket=BUCKET, Key=summary["manifestFilesS3Key"])["Body"].read().splitlines()[0])
    data = s3.get_object(Bucket=BUCKET, Key=entry["dataFileS3Key"])["Body"].read()
    assert entry["md5Checksum"] != base64.b64encode(hashlib.md5(data).digest()).decode()
    assert len(gzip.decompress(data).splitlines()) == entry["itemCount"]  # still a readable gzip
    with pytest.raises(ValueError):
        standin.corrupt_next_export("size")


def test_client_token_idempotency(client, ddb):
    prefix = f"tok/{time.time_ns()}"
    first = export(client, ddb, ClientToken="backup-1", S3Prefix=prefix)
    again = export(client, ddb, ClientToken="backup-1", S3Prefix=prefix)
    assert again["ExportArn"] == first["ExportArn"]
    with pytest.raises(ClientError) as excinfo:
        export(client, ddb, ClientToken="backup-1", S3Prefix=prefix + "-other")
    assert code_of(excinfo) == "IdempotentParameterMismatchException"
    assert export(client, ddb, ClientToken="backup-2", S3Prefix=prefix)["ExportArn"] != first["ExportArn"]


@pytest.mark.parametrize("table, args, code", [
    ("no-pitr", {}, "PointInTimeRecoveryUnavailableException"),
    ("orders", {"ExportTime": datetime.now(timezone.utc) - timedelta(days=1)}, "InvalidExportTimeException"),
    ("orders", {"ExportTime": datetime.now(timezone.utc) + timedelta(hours=1)}, "InvalidExportTimeException"),
    ("orders", {"ExportFormat": "ION"}, "ValidationException"),
    ("orders", {"ExportType": "INCREMENTAL_EXPORT"}, "ValidationException"),
])
def test_refused_starts(client, ddb, table, args, code):
    with pytest.raises(ClientError) as excinfo:
        export(client, ddb, table, **args)
    assert code_of(excinfo) == code


def test_unknown_table_and_export(client, ddb):
    with pytest.raises(ClientError) as excinfo:
        export(client, ddb, TableArn=arn(ddb, "orders") + "-missing")
    assert code_of(excinfo) == "TableNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        client.describe_export(ExportArn=arn(ddb, "orders") + "/export/01234567890123-deadbeef")
    assert code_of(excinfo) == "ExportNotFoundException"


def test_s3_problems_end_the_export_failed(client, ddb, s3):
    done = wait(client, export(client, ddb, S3Bucket="no-such-bucket")["ExportArn"])
    assert (done["ExportStatus"], done["FailureCode"]) == ("FAILED", "S3NoSuchBucket")
    done = wait(client, export(client, ddb, S3BucketOwner=OTHER_ACCOUNT)["ExportArn"])
    assert (done["ExportStatus"], done["FailureCode"]) == ("FAILED", "S3AccessDenied")
    account = arn(ddb, "orders").split(":")[4]
    done = wait(client, export(client, ddb, S3BucketOwner=account, S3SseAlgorithm="AES256")["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["S3BucketOwner"] == account
    head = s3.head_object(Bucket=BUCKET, Key=done["ExportManifest"])
    assert head["ServerSideEncryption"] == "AES256"


def test_list_exports_pages_and_filters(client, ddb):
    started = export(client, ddb)
    summaries, args = [], {"TableArn": arn(ddb, "orders"), "MaxResults": 2}
    while True:
        page = client.list_exports(**args)
        assert len(page["ExportSummaries"]) <= 2
        summaries += page["ExportSummaries"]
        if "NextToken" not in page:
            break
        args["NextToken"] = page["NextToken"]
    assert {"ExportArn": started["ExportArn"], "ExportStatus": "IN_PROGRESS", "ExportType": "FULL_EXPORT"} in summaries
    assert all(s["ExportArn"].startswith(arn(ddb, "orders") + "/export/") for s in summaries)
    assert client.list_exports(TableArn=arn(ddb, "no-pitr"))["ExportSummaries"] == []


def test_everything_else_is_forwarded_untouched(client, ddb, s3):
    assert client.describe_table(TableName="orders")["Table"] == ddb.describe_table(TableName="orders")["Table"]
    assert client.get_item(TableName="orders", Key={"pk": {"S": "nope"}, "sk": {"N": "0"}}).get("Item") is None
    with pytest.raises(ClientError) as excinfo:  # moto's own errors pass through
        client.describe_table(TableName="missing")
    assert code_of(excinfo) == "ResourceNotFoundException"
    standin_s3 = boto3.client("s3", endpoint_url=client.meta.endpoint_url, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
    standin_s3.put_object(Bucket=BUCKET, Key="through/the/proxy", Body=b"hello")
    assert s3.get_object(Bucket=BUCKET, Key="through/the/proxy")["Body"].read() == b"hello"
    assert standin_s3.head_object(Bucket=BUCKET, Key="through/the/proxy")["ContentLength"] == 5


def change_records(s3, done: dict) -> list[dict]:
    summary = json.loads(s3.get_object(Bucket=BUCKET, Key=done["ExportManifest"])["Body"].read())
    assert summary["exportType"] == "INCREMENTAL_EXPORT" and summary["itemCount"] == done["ItemCount"]
    records = []
    for line in s3.get_object(Bucket=BUCKET, Key=summary["manifestFilesS3Key"])["Body"].read().splitlines():
        data = s3.get_object(Bucket=BUCKET, Key=json.loads(line)["dataFileS3Key"])["Body"].read()
        records += [json.loads(record) for record in gzip.decompress(data).splitlines()]
    return records


def incremental(client, ddb, start: datetime, end: datetime, view: str = "NEW_AND_OLD_IMAGES") -> dict:
    spec = {"ExportFromTime": start, "ExportToTime": end, "ExportViewType": view}
    return export(client, ddb, "events", ExportType="INCREMENTAL_EXPORT", IncrementalExportSpecification=spec)


@pytest.fixture(scope="module")
def changes(standin, ddb):
    """Changes to table "events" through the stand-in, on items b and c that existed before (put
    straight into moto, which the stand-in does not see); (first, last) write times in µs."""
    create_table(ddb, "events")
    ddb.update_continuous_backups(TableName="events",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    standin.earliest_restorable = time.time() - 3 * 3600  # moto's PITR window starts now
    key = lambda pk: {"pk": {"S": pk}, "sk": {"N": "1"}}  # noqa: E731
    for pk in ("b", "c"):
        ddb.put_item(TableName="events", Item={**key(pk), "v": {"S": "before"}})
    env = local_aws_env(standin.url)
    proxied = boto3.client("dynamodb", endpoint_url=standin.url, region_name=env["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    first = time.time_ns() // 1000
    proxied.put_item(TableName="events", Item={**key("a"), "v": {"B": b"\x00new"}})
    proxied.update_item(TableName="events", Key=key("b"), UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": {"S": "middle"}})
    proxied.update_item(TableName="events", Key=key("b"), UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": {"S": "after"}})
    proxied.batch_write_item(RequestItems={"events": [{"DeleteRequest": {"Key": key("c")}},
                                                      {"PutRequest": {"Item": {**key("d"), "v": {"N": "1"}}}}]})
    proxied.delete_item(TableName="events", Key=key("d"))
    proxied.transact_write_items(TransactItems=[{"Put": {"TableName": "events", "Item": {**key("e"), "v": {"N": "5"}}}}])
    last = time.time_ns() // 1000
    time.sleep(0.01)
    return first, last


def test_incremental_export_compacts_to_one_final_state_per_item(changes, client, ddb, s3):
    now = datetime.now(timezone.utc)
    done = wait(client, incremental(client, ddb, now - timedelta(minutes=20), now)["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED" and done["ExportType"] == "INCREMENTAL_EXPORT"
    assert "ExportTime" not in done and done["IncrementalExportSpecification"]["ExportViewType"] == "NEW_AND_OLD_IMAGES"
    records = {r["Keys"]["pk"]["S"]: r for r in change_records(s3, done)}
    assert sorted(records) == ["a", "b", "c", "e"]  # d was created and deleted within the window
    assert done["ItemCount"] == 4
    assert records["a"]["NewImage"]["v"] == {"B": base64.b64encode(b"\x00new").decode()} and "OldImage" not in records["a"]
    assert records["b"]["OldImage"]["v"] == {"S": "before"} and records["b"]["NewImage"]["v"] == {"S": "after"}
    assert records["c"]["OldImage"]["v"] == {"S": "before"} and "NewImage" not in records["c"]
    assert records["e"]["NewImage"] == {"pk": {"S": "e"}, "sk": {"N": "1"}, "v": {"N": "5"}}
    assert records["c"]["Keys"] == {"pk": {"S": "c"}, "sk": {"N": "1"}}
    first, last = changes
    assert all(first <= int(r["Metadata"]["WriteTimestampMicros"]["N"]) <= last for r in records.values())


def test_incremental_new_image_view_and_an_empty_window(changes, client, ddb, s3):
    now = datetime.now(timezone.utc)
    done = wait(client, incremental(client, ddb, now - timedelta(minutes=20), now, "NEW_IMAGE")["ExportArn"])
    records = {r["Keys"]["pk"]["S"]: r for r in change_records(s3, done)}
    assert set(records["c"]) == {"Metadata", "Keys"} and "OldImage" not in records["b"]
    done = wait(client, incremental(client, ddb, now - timedelta(hours=2), now - timedelta(hours=1))["ExportArn"])
    assert done["ItemCount"] == 0 and change_records(s3, done) == []


@pytest.mark.parametrize("start, end, code", [
    (timedelta(minutes=-10), timedelta(0), "ValidationException"),  # shorter than 15 minutes
    (timedelta(hours=-25), timedelta(0), "ValidationException"),  # longer than 24 hours
    (timedelta(0), timedelta(minutes=-20), "ValidationException"),  # reversed
    (timedelta(hours=-4), timedelta(hours=-3), "InvalidExportTimeException"),  # before PITR's window
    (timedelta(minutes=-10), timedelta(minutes=10), "InvalidExportTimeException"),  # ends in the future
])
def test_refused_incremental_windows(changes, client, ddb, start, end, code):
    now = datetime.now(timezone.utc)
    with pytest.raises(ClientError) as excinfo:
        incremental(client, ddb, now + start, now + end)
    assert code_of(excinfo) == code


def test_only_answered_writes_are_recorded_and_recording_can_be_off(changes, standin, aws_env, ddb):
    env = local_aws_env(standin.url)
    proxied = boto3.client("dynamodb", endpoint_url=standin.url, region_name=env["AWS_REGION"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    seen = len(standin.changes)
    with pytest.raises(ClientError):  # refused by moto: no change
        proxied.put_item(TableName="events", Item={"pk": {"S": "a"}, "sk": {"N": "1"}},
                         ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError):
        proxied.put_item(TableName="missing", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert len(standin.changes) == seen
    with ExportStandIn(aws_env, record_changes=False) as quiet:
        boto3.client("dynamodb", endpoint_url=quiet.url, region_name=env["AWS_REGION"], aws_access_key_id="testing",
                     aws_secret_access_key="testing").put_item(TableName="events", Item={"pk": {"S": "q"}, "sk": {"N": "1"}})
        assert quiet.changes == []
    assert ddb.get_item(TableName="events", Key={"pk": {"S": "q"}, "sk": {"N": "1"}})["Item"]
