"""The chain of segments end to end, on moto_server with the real follower and an S3 vault:
every segment the follower writes carries the lifecycle tag `ddbvault-log=segment` (start.json
none), and a segment removed from the middle of the log (as a person or a lifecycle rule could)
makes `restore --at` refuse a time after the hole, naming it, while a time before it still
restores bit-exact."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import boto3
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA
from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.follow import FollowOptions, follow_table
from ddbvault.format import change_log as cl
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.point_in_time import restore_at
from ddbvault.vault.change_log import utc_text
from tests.support.tables import canonical_items, scan_all, wire

pytestmark = pytest.mark.integration
TABLE = "pit-chain"
BUCKET = "chain-vault"
DEST = f"s3://{BUCKET}/prod"


def next_second() -> int:
    """Sleep past the next second boundary; returns the second just ended."""
    now = time.time()
    time.sleep(int(now) + 1.05 - now)
    return int(now)


def follow() -> None:
    follow_table(FollowOptions(table=TABLE, destination=DEST, until_idle=True, poll_interval_s=0.05))


def put(ddb, pk: str, n: int) -> None:
    ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "sk": {"N": str(n)}, "v": {"N": str(n)}})


def segments(s3) -> list[str]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"prod/{TABLE}/changes/")["Contents"]]
    return sorted(k for k in keys if k.endswith(cl.SEGMENT_SUFFIX))


@pytest.fixture(scope="module")
def log_with_a_hole(ddb, aws_env):
    """Four follow runs, one segment each; the third removed. (state at t2, t4, the segment keys)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ddb.create_table(TableName=TABLE, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES,
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    follow()
    for n in range(3):
        put(ddb, "a", n)
    next_second()
    backup_table(TABLE, DEST, BackupOptions(read_rcu=100000))
    next_second()
    follow()                                  # segment 1
    put(ddb, "b", 1)
    t2 = next_second()
    state2 = scan_all(ddb, TABLE)
    put(ddb, "b", 2)                          # a later second of the same segment
    next_second()
    follow()                                  # segment 2
    put(ddb, "c", 1)
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}, "sk": {"N": "0"}})
    next_second()
    follow()                                  # segment 3: removed below
    put(ddb, "d", 1)
    t4 = next_second()
    follow()                                  # segment 4
    keys = segments(s3)
    return s3, (t2, state2), t4, keys


def test_every_segment_carries_the_lifecycle_tag_and_start_json_none(log_with_a_hole):
    s3, _, _, keys = log_with_a_hole
    assert len(keys) == 4
    for key in keys:
        assert s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"] == [{"Key": "ddbvault-log", "Value": "segment"}]
    start = next(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"prod/{TABLE}/changes/")["Contents"]
                 if o["Key"].endswith(cl.START_NAME))
    assert s3.get_object_tagging(Bucket=BUCKET, Key=start)["TagSet"] == []


def test_a_segment_removed_in_the_middle_refuses_a_restore_across_it(log_with_a_hole, ddb, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    s3, (t2, state2), t4, keys = log_with_a_hole
    # before the removal the whole log restores to t4
    restore_at(f"{DEST}/{TABLE}", "chain-whole", utc_text(t4), RestoreOptions(write_wcu=100000), restore_backup)
    s3.delete_object(Bucket=BUCKET, Key=keys[2])
    with pytest.raises(UsageError, match="missing") as refused:
        restore_at(f"{DEST}/{TABLE}", "chain-t4", utc_text(t4), RestoreOptions(write_wcu=100000), restore_backup)
    assert "shardId" in refused.value.message
    assert "chain-t4" not in ddb.list_tables()["TableNames"]  # refused before touching any table
    restore_at(f"{DEST}/{TABLE}", "chain-t2", utc_text(t2), RestoreOptions(write_wcu=100000), restore_backup)
    assert canonical_items(wire(scan_all(ddb, "chain-t2"))) == canonical_items(wire(state2))
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", f"{DEST}/{TABLE}", "--at", utc_text(t4),
                           "--table", "chain-cli", "--checkpoint", str(tmp_path / "cp.jsonl")],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "(missing: segments of s3://" in proc.stderr and "Traceback" not in proc.stderr
