"""`ddbvault demo`: a cross-account backup on local servers, no AWS account needed.

It starts moto_server on a free loopback port, creates a "production" table (account
123456789012) with a GSI, an LSI, TTL, tags and a stream, fills it with items of every attribute
type, creates a bucket owned by a separate "data" account (210987654321), and backs the table up
into that bucket through a role assumed in the data account. Then, as the data account, it reads
the manifest and the ACL of what production wrote, and prints what happened.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import boto3

from .aws.session import Principal, make_session
from .backup import BackupOptions, backup_table
from .local_servers import local_aws_env, moto_server
from .manifest import Manifest
from .sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, edge_case_items, sample_item

PROD_ACCOUNT = "123456789012"  # moto's default account: the plain demo credentials
DATA_ACCOUNT = "210987654321"
TABLE = "demo-orders"
BUCKET = "ddbvault-demo-backups"
WRITER_ROLE = f"arn:aws:iam::{DATA_ACCOUNT}:role/ddbvault-backup-writer"
ADMIN_ROLE = f"arn:aws:iam::{DATA_ACCOUNT}:role/data-account-admin"


def create_demo_table(ddb, name: str = TABLE) -> None:
    ddb.create_table(
        TableName=name, KeySchema=TABLE_KEY_SCHEMA,
        AttributeDefinitions=TABLE_ATTRIBUTES + [{"AttributeName": "name", "AttributeType": "S"}],
        BillingMode="PROVISIONED", ProvisionedThroughput={"ReadCapacityUnits": 200, "WriteCapacityUnits": 200},
        GlobalSecondaryIndexes=[{"IndexName": "by-name", "KeySchema": [{"AttributeName": "name", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"},
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}],
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
    log_path = Path(tempfile.gettempdir()) / "ddbvault-demo-moto.log"
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
            read_share=0.5, sse="AES256", dest=Principal(role_arn=WRITER_ROLE, session_name="demo-writer")))
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
        return {**result.to_dict(), "acl_grants": acl["Grants"], "sse": head.get("ServerSideEncryption"),
                "data_account": DATA_ACCOUNT, "production_account": PROD_ACCOUNT}
