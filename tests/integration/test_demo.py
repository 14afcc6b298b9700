"""The README's first command: `ddbvault demo` backs up, verifies and restores across accounts.

The demo grades itself (`items_identical`, `schema_identical`), but its schema check covers only
keys, attribute definitions, LSIs, the stream and GSI names. This test does not take its word:
the demo runs in-process through the CLI on the test session's moto_server (instead of one it
starts and stops itself), and the test then compares the source table and the restored one in
the other account itself: every item bit-exact, and the whole schema — billing mode and
throughput (table and GSIs), GSI and LSI definitions, SSE, stream, TTL, tags, table class and
deletion protection.
"""

from __future__ import annotations

import contextlib
import json
import os
from types import SimpleNamespace
from unittest import mock

import pytest
from click.testing import CliRunner

from ddbvault.devtools import demo
from ddbvault.aws.session import Principal, make_session
from ddbvault.cli import cli
from ddbvault.format.codec import item_to_wire
from ddbvault.verify.table_diff import canonical_bytes
from tests.support.tables import scan_all

pytestmark = pytest.mark.integration
ITEMS = 300


LOG_PATHS: list = []  # where the demo asked moto_server to log


def _served(moto_url):
    def moto_server(log_path=None):
        LOG_PATHS.append(log_path)
        return contextlib.nullcontext(SimpleNamespace(url=moto_url))
    return moto_server


@pytest.fixture(scope="module")
def report(moto_url):
    """`ddbvault demo --items 300 --json`, run against the shared (freshly reset) moto_server."""
    with mock.patch.object(demo, "moto_server", _served(moto_url)), mock.patch.dict(os.environ):
        result = CliRunner().invoke(cli, ["demo", "--items", str(ITEMS), "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_the_demo_logs_into_a_private_directory_of_its_own(report):
    """Not a fixed name in the shared temp dir, which another user may own (found running
    `make demo` as a second user) or may have planted as a link."""
    (log_path,) = LOG_PATHS
    assert log_path.name == "moto.log" and log_path.parent.name.startswith("ddbvault-demo-")
    assert oct(log_path.parent.stat().st_mode & 0o777) == oct(0o700)


@pytest.fixture(scope="module")
def clients(moto_url, report):
    """DynamoDB clients of the production account (the source) and the test account (the restore)."""
    with mock.patch.dict(os.environ, demo.local_aws_env(moto_url)):
        prod = make_session(Principal()).client("dynamodb")
        test = make_session(Principal(role_arn=demo.RESTORER_ROLE, session_name="test-compare")).client("dynamodb")
    return prod, test


def test_demo_reports_a_cross_account_backup_and_restore(report):
    assert report["items"] == ITEMS and report["objects"] >= 1
    assert report["production_account"] != report["data_account"]
    assert report["url"].startswith("s3://ddbvault-demo-backups/prod/demo-orders/")
    assert report["sse"] == "AES256" and report["verified"] is True
    restore = report["restore"]
    assert restore["items"] == ITEMS and restore["account"] not in (report["production_account"], report["data_account"])
    assert restore["items_identical"] is True and restore["schema_identical"] is True


def test_every_item_is_restored_bit_exact(clients):
    prod, test = clients
    source = sorted(canonical_bytes(item_to_wire(i)) for i in scan_all(prod, demo.TABLE))
    restored = sorted(canonical_bytes(item_to_wire(i)) for i in scan_all(test, demo.RESTORED))
    assert len(source) == ITEMS and restored == source


def _gsis(table: dict) -> list[dict]:
    return sorted(({k: g.get(k) for k in ("IndexName", "KeySchema", "Projection")}
                   | {"ProvisionedThroughput": _throughput(g)} for g in table.get("GlobalSecondaryIndexes") or []),
                  key=lambda g: g["IndexName"])


def _throughput(description: dict) -> dict:
    t = description.get("ProvisionedThroughput") or {}
    return {"ReadCapacityUnits": t.get("ReadCapacityUnits"), "WriteCapacityUnits": t.get("WriteCapacityUnits")}


def _schema(client, name: str) -> dict:
    """Everything restore promises to carry over, read with the describe calls a user would run."""
    table = client.describe_table(TableName=name)["Table"]
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    tags = client.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
    return {
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
        "BillingMode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED"),
        "ProvisionedThroughput": _throughput(table),
        "GlobalSecondaryIndexes": _gsis(table),
        "LocalSecondaryIndexes": sorted(({k: i.get(k) for k in ("IndexName", "KeySchema", "Projection")}
                                         for i in table.get("LocalSecondaryIndexes") or []),
                                        key=lambda i: i["IndexName"]),
        "SSE": {k: v for k, v in (table.get("SSEDescription") or {}).items() if k in ("Status", "SSEType")},
        "StreamSpecification": table.get("StreamSpecification"),
        "TimeToLive": {"Status": ttl.get("TimeToLiveStatus"), "AttributeName": ttl.get("AttributeName")},
        "Tags": sorted((t["Key"], t["Value"]) for t in tags),
        "TableClass": (table.get("TableClassSummary") or {}).get("TableClass", "STANDARD"),
        "DeletionProtectionEnabled": table.get("DeletionProtectionEnabled", False),
    }


def test_the_restored_schema_matches_the_source_in_full(clients):
    prod, test = clients
    source, restored = _schema(prod, demo.TABLE), _schema(test, demo.RESTORED)
    # the demo's table has all of these, so an empty comparison cannot pass by accident
    assert source["TimeToLive"] == {"Status": "ENABLED", "AttributeName": "expires_at"}
    assert source["Tags"] == [("env", "prod"), ("team", "payments")]
    assert source["BillingMode"] == "PROVISIONED" and source["ProvisionedThroughput"]["ReadCapacityUnits"] == 2000
    assert source["GlobalSecondaryIndexes"] and source["LocalSecondaryIndexes"] and source["StreamSpecification"]
    differing = {k: (source[k], restored[k]) for k in source if source[k] != restored[k]}
    assert not differing
