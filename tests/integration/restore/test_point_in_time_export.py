"""restore --at from an export-engine base (backup --engine export, through the export stand-in,
tests/support/export_standin.py) and moto's stream: the base is the export's instant
(export_time) and the change log is replayed from it."""

from __future__ import annotations

import time

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA
from ddbvault.follow import FollowOptions, follow_table
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.point_in_time import restore_at
from ddbvault.vault.change_log import utc_text
from tests.support.export_standin import ExportStandIn
from tests.support.tables import canonical_items, scan_all, wire

pytestmark = pytest.mark.integration
DEST = "s3://pit-export-vault/p"


def next_second() -> int:
    now = time.time()
    time.sleep(int(now) + 1.05 - now)
    return int(now)


@pytest.fixture(scope="module")
def standin(aws_env, ddb, s3):
    s3.create_bucket(Bucket="pit-export-vault")
    with ExportStandIn(aws_env) as standin, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", standin.url)
        patch.setattr("ddbvault.backup.via_export.POLL_FIRST_S", 0.05)
        yield standin


def test_restore_at_from_an_export_base(standin, ddb, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    table = "pit-exported"
    ddb.create_table(TableName=table, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES,
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    follow_table(FollowOptions(table=table, destination=DEST, until_idle=True, poll_interval_s=0.05))
    for n in range(5):
        ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": str(n)}, "v": {"N": str(n)}})
    next_second()  # the export time (the backup id's second) lies after PITR was turned on
    base = backup_table(table, DEST, BackupOptions(engine="export"))
    assert base.engine == "export"
    next_second()
    ddb.delete_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "0"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "changed"}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "b"}, "sk": {"N": "9"}})
    at, items = next_second(), scan_all(ddb, table)
    ddb.put_item(TableName=table, Item={"pk": {"S": "c"}, "sk": {"N": "1"}})
    next_second()
    follow_table(FollowOptions(table=table, destination=DEST, until_idle=True, poll_interval_s=0.05))
    result = restore_at(f"{DEST}/{table}", "pit-exported-copy", utc_text(at), RestoreOptions(write_wcu=100000),
                        restore_backup)
    assert result.point_in_time["base"] == base.url and result.point_in_time["changes"] >= 3
    assert canonical_items(wire(scan_all(ddb, "pit-exported-copy"))) == canonical_items(wire(items))
