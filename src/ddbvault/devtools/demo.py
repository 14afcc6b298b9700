"""`ddbvault demo`: a cross-account backup and restore on local servers, no AWS account needed.

It starts moto_server on a free loopback port and:
1. creates a "production" table (account 123456789012) with a GSI, an LSI, TTL, tags and a
   stream, filled with items of every attribute type;
2. creates a bucket owned by a separate "data" account (210987654321) and backs the table up
   into it through a role assumed in the data account;
3. as the data account, reads the manifest and the ACL of what production wrote, and verifies
   the backup (every object's sha256, every count);
4. restores it into a new table in a third, "test" account (333344445555), reading the bucket
   as the data account, and compares every item and the schema with the source.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import boto3
import orjson

from ..aws.session import Principal, make_session
from ..backup import BackupOptions, backup_table
from ..format.codec import item_to_wire
from ..errors import IntegrityError
from ..restore import RestoreOptions, restore_backup
from ..verify.table_diff import canonical_bytes
from ..verify import verify_backup
from .local_servers import local_aws_env, moto_server
from ..format.manifest import Manifest
from .sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, edge_case_items, sample_item

PROD_ACCOUNT = "123456789012"  # moto's default account: the plain demo credentials
DATA_ACCOUNT = "210987654321"
TABLE = "demo-orders"
BUCKET = "ddbvault-demo-backups"
WRITER_ROLE = f"arn:aws:iam::{DATA_ACCOUNT}:role/ddbvault-backup-writer"
ADMIN_ROLE = f"arn:aws:iam::{DATA_ACCOUNT}:role/data-account-admin"
TEST_ACCOUNT = "333344445555"
RESTORER_ROLE = f"arn:aws:iam::{TEST_ACCOUNT}:role/ddbvault-restorer"
RESTORED = "demo-orders-restored"


def create_demo_table(ddb, name: str = TABLE) -> None:
    ddb.create_table(
        TableName=name, KeySchema=TABLE_KEY_SCHEMA,
        AttributeDefinitions=TABLE_ATTRIBUTES + [{"AttributeName": "name", "AttributeType": "S"}],
        # 2,000 RCU: backup's half (1,000 RCU/s) holds a whole 1 MB Scan page in its burst, so pages
        # need no Limit (capacity/read_plan.PageSizer); a lower cap reads the demo's 400 KB items one at a time
        BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 2000, "WriteCapacityUnits": 200},
        GlobalSecondaryIndexes=[{"IndexName": "by-name", "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 # as much as the table: restore writes no faster than its slowest index
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 200, "WriteCapacityUnits": 200}}],
        LocalSecondaryIndexes=[{"IndexName": "pk-name", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "name", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=[{"Key": "team", "Value": "payments"}, {"Key": "env", "Value": "prod"}],
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})


def load_items(ddb, table: str, items: list[dict], threads: int = 4) -> None:
    """BatchWriteItem in 25s, retrying UnprocessedItems until none are left."""
    def write(batch: list[dict]) -> None:
        requests = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        for attempt in range(20):
            left = ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
            if not left:
                return
            requests = left
            time.sleep(0.05 * 2 ** min(attempt, 6))
        raise RuntimeError("BatchWriteItem kept returning UnprocessedItems")

    batches = [items[i:i + 25] for i in range(0, len(items), 25)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, batches))


def _say(echo: Callable[[str], None] | None, text: str) -> None:
    if echo:
        echo(text)


def run_demo(item_count: int = 3000, echo: Callable[[str], None] | None = print) -> dict:
    # A private directory of its own (mode 0700, a fresh name), not a fixed name in the shared
    # temp dir: another user's file there could not be written, or could be a planted link.
    log_path = Path(tempfile.mkdtemp(prefix="ddbvault-demo-")) / "moto.log"
    with moto_server(log_path) as server:
        os.environ.update(local_aws_env(server.url))
        _say(echo, f"moto_server listening at {server.url} (log: {log_path})")
        ddb = boto3.client("dynamodb")
        create_demo_table(ddb)
        items = edge_case_items() + [sample_item(i) for i in range(item_count - len(edge_case_items()))]
        load_items(ddb, TABLE, items)
        _say(echo, f"production account {PROD_ACCOUNT}: table {TABLE} with {len(items):,} items "
                   "(every attribute type, 38-digit numbers, 400 KB items), a GSI, an LSI, TTL, tags, a stream")

        data = make_session(Principal(role_arn=ADMIN_ROLE, session_name="demo-data-admin"))
        s3_data = data.client("s3")
        s3_data.create_bucket(Bucket=BUCKET)
        s3_data.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        data.client("iam").create_role(RoleName="ddbvault-backup-writer", AssumeRolePolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
            + PROD_ACCOUNT + ':root"},"Action":"sts:AssumeRole"}]}'))
        _say(echo, f"data account {DATA_ACCOUNT}: bucket s3://{BUCKET} (versioned), role {WRITER_ROLE}")

        result = backup_table(TABLE, f"s3://{BUCKET}/prod", BackupOptions(
            read_share=0.5, sse="AES256", vault_principal=Principal(role_arn=WRITER_ROLE, session_name="demo-writer")))
        _say(echo, f"backup {result.backup_id}: {result.items:,} items, {result.bytes:,} bytes in "
                   f"{result.objects} objects, {result.consumed_rcu:,.1f} RCU, {result.seconds:.2f}s")

        manifest_key = f"prod/{TABLE}/{result.backup_id}/manifest.json"
        manifest = Manifest.from_json(s3_data.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
        first = f"prod/{TABLE}/{result.backup_id}/{manifest.objects[0].key}"
        head = s3_data.head_object(Bucket=BUCKET, Key=first)
        acl = s3_data.get_object_acl(Bucket=BUCKET, Key=first)
        grants = [f"{g['Grantee'].get('ID', g['Grantee'].get('URI', '?'))[:12]}…:{g['Permission']}"
                  for g in acl["Grants"]]
        _say(echo, f"as the bucket owner: s3://{BUCKET}/{manifest_key} lists {manifest.totals['objects']} "
                   f"objects / {manifest.totals['items']:,} items; {first.rsplit('/', 1)[-1]} has ACL grants "
                   f"{grants} (requested: bucket-owner-full-control), SSE {head.get('ServerSideEncryption')}")
        schema = manifest.schema
        _say(echo, f"schema saved: {len(schema['GlobalSecondaryIndexes'])} GSI, "
                   f"{len(schema['LocalSecondaryIndexes'])} LSI, TTL on "
                   f"{(schema['TimeToLive'] or {}).get('AttributeName')}, tags "
                   f"{[t['Key'] for t in schema['Tags'] or []]}, stream {schema['StreamSpecification']}")
        verified = verify_backup(result.url, vault_principal=Principal(role_arn=ADMIN_ROLE, session_name="demo-verify"))
        _say(echo, f"verify: {verified.summary()}")
        restored = restore_and_compare(result.url, ddb, echo)
        return {**result.to_dict(), "acl_grants": acl["Grants"], "sse": head.get("ServerSideEncryption"),
                "data_account": DATA_ACCOUNT, "production_account": PROD_ACCOUNT,
                "verified": verified.ok, "restore": restored}


def restore_and_compare(url: str, source_ddb, echo) -> dict:
    """Restore into the test account and compare every item and the schema with the source."""
    with tempfile.TemporaryDirectory() as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        result = restore_backup(url, RESTORED, RestoreOptions(
            write_share=1.0, vault_principal=Principal(role_arn=ADMIN_ROLE, session_name="demo-restore-reader"),
            table_principal=Principal(role_arn=RESTORER_ROLE, session_name="demo-restorer")))
    target = make_session(Principal(role_arn=RESTORER_ROLE, session_name="demo-compare")).client("dynamodb")
    same_items = _all_items(source_ddb, TABLE) == _all_items(target, RESTORED)
    a = source_ddb.describe_table(TableName=TABLE)["Table"]
    b = target.describe_table(TableName=RESTORED)["Table"]
    same_schema = all(_shape(a.get(k)) == _shape(b.get(k)) for k in (
        "KeySchema", "AttributeDefinitions", "LocalSecondaryIndexes", "StreamSpecification"))
    same_schema &= [g["IndexName"] for g in a["GlobalSecondaryIndexes"]] == [g["IndexName"] for g in b["GlobalSecondaryIndexes"]]
    _say(echo, f"restore into account {TEST_ACCOUNT} as {RESTORED}: {result.items:,} items in "
               f"{result.seconds:.2f}s; every item identical: {same_items}; schema identical: {same_schema}")
    if not (same_items and same_schema):
        raise IntegrityError("the restored table differs from the source")
    return {**result.to_dict(), "account": TEST_ACCOUNT, "items_identical": same_items,
            "schema_identical": same_schema}


def _all_items(client, table: str) -> list[bytes]:
    """Every item in wire form, canonically encoded and sorted, so two tables compare exactly."""
    items, args = [], {"TableName": table}
    while True:
        page = client.scan(**args)
        items.extend(canonical_bytes(item_to_wire(i)) for i in page["Items"])
        if "LastEvaluatedKey" not in page:
            return sorted(items)
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _shape(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
