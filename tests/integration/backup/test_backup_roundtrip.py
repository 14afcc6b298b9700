"""Round-trip fidelity: what a backup's data lines decode to equals the table, bit-exact.

Real moto_server. Sets are compared as sorted member lists (DynamoDB does not order sets);
every other value, N strings and B bytes included, is compared exactly.
"""

from __future__ import annotations

import base64
import time

import boto3
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.storage.destination import parse_destination
from ddbvault.storage import open_store
from ddbvault.devtools.demo import load_items
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, edge_case_items, sample_item
from tests.support.tables import (by_key, canonical_items, create_table, fill_table, moto_import_safe, read_backup,
                                  scan_all, wire)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def source_table(ddb):
    create_table(ddb, "fidelity")
    return "fidelity", fill_table(ddb, "fidelity", 600)


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_local_backup_decodes_to_exactly_the_items_put(source_table, aws_env, tmp_path, compression):
    table, put = source_table
    result = backup_table(table, str(tmp_path), BackupOptions(compression=compression, segments=3,
                                                              read_rcu=100000))
    store = open_store(parse_destination(str(tmp_path)))
    manifest, items = read_backup(store, f"{table}/{result.backup_id}")
    assert result.items == len(put) == len(items) == manifest.totals["items"]
    assert canonical_items(items) == canonical_items(wire(put))


def test_s3_backup_equals_what_boto3_scan_returns(source_table, aws_env, ddb, s3):
    table, put = source_table
    s3.create_bucket(Bucket="fidelity-bucket")
    result = backup_table(table, "s3://fidelity-bucket/some/prefix", BackupOptions(read_rcu=100000))
    assert result.url == f"s3://fidelity-bucket/some/prefix/{table}/{result.backup_id}"
    store = open_store(parse_destination("s3://fidelity-bucket"), session=boto3.Session())
    manifest, items = read_backup(store, f"some/prefix/{table}/{result.backup_id}")
    assert canonical_items(items) == canonical_items(wire(scan_all(ddb, table)))
    # the edge cases are really there: every byte value, 38 digits, ~400 KB
    edge = by_key(items)
    assert edge[("edge#bytes", "1")]["all_bytes"]["B"] == base64.b64encode(bytes(range(256))).decode()
    assert edge[("edge#numbers", "2")]["digits38"] == {"N": "12345678901234567890123456789012345678"}
    assert len(edge[("edge#large", "6")]["big"]["S"]) == 395 * 1024


def test_manifest_records_source_options_and_objects(source_table, aws_env, tmp_path):
    table, put = source_table
    result = backup_table(table, str(tmp_path), BackupOptions(segments=2, workers=2, read_rcu=5000))
    store = open_store(parse_destination(str(tmp_path)))
    manifest, _ = read_backup(store, f"{table}/{result.backup_id}")
    assert manifest.format_version == "1.4"  # plan/work/commit: the per-segment record
    assert [(s["segment"], s["attempts"]) for s in manifest.segments] == [(0, 1), (1, 1)]
    assert sum(s["items"] for s in manifest.segments) == result.items == len(put)
    assert sum(s["objects"] for s in manifest.segments) == len(manifest.objects)
    assert manifest.consumed_capacity["aggregate_rcu_per_s"] > 0
    assert manifest.source["table_name"] == table
    assert manifest.source["table_arn"].endswith(f":table/{table}")
    assert manifest.source["account"] == "123456789012"
    assert manifest.options["segments"] == 2 and manifest.options["read_rate_rcu_per_s"] == 5000
    assert manifest.schema["KeySchema"][0] == {"AttributeName": "pk", "KeyType": "HASH"}
    assert manifest.consumed_capacity["read_capacity_units"] == result.consumed_rcu > 0
    assert all(o.key.startswith("data/") and o.key.endswith(".json.gz") for o in manifest.objects)
    assert manifest.started_at <= manifest.finished_at


def test_import_table_accepts_the_data_prefix(aws_env, ddb, s3):
    """moto's ImportTable reads data/ unchanged and yields the same items."""
    create_table(ddb, "importable")
    items = [{k: moto_import_safe(v) for k, v in item.items() if v != {"M": {}}}
             for item in edge_case_items() + [sample_item(i, payload_bytes=100) for i in range(300)]]
    load_items(ddb, "importable", items)
    s3.create_bucket(Bucket="import-bucket")
    result = backup_table("importable", "s3://import-bucket/bk", BackupOptions(read_rcu=100000))
    imported = ddb.import_table(
        S3BucketSource={"S3Bucket": "import-bucket", "S3KeyPrefix": f"bk/importable/{result.backup_id}/data/"},
        InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
        TableCreationParameters={"TableName": "imported", "KeySchema": TABLE_KEY_SCHEMA,
                                 "AttributeDefinitions": TABLE_ATTRIBUTES, "BillingMode": "PAY_PER_REQUEST"})
    arn = imported["ImportTableDescription"]["ImportArn"]
    for _ in range(100):
        description = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if description["ImportStatus"] != "IN_PROGRESS":
            break
        time.sleep(0.2)
    assert description["ImportStatus"] == "COMPLETED", description.get("FailureMessage")
    assert description["ImportedItemCount"] == result.items == len(items)
    assert canonical_items(wire(scan_all(ddb, "imported"))) == canonical_items(wire(items))
