"""Resume safety on moto: a checkpoint only ever resumes into the table incarnation it filled,
it is checked before anything is created, a torn last record is ignored, long table names work,
and the saved settings (TTL, tags, stream, ...) reach the table on every path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.restore.checkpoint import default_path
from ddbvault.devtools.demo import create_demo_table, load_items
from ddbvault.errors import AwsError, IntegrityError, NotFoundError, UsageError
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.devtools.sample_data import sample_item
from tests.support.tables import scan_all
from tests.support.throttle_proxy import Fault, ThrottleProxy

pytestmark = pytest.mark.integration
FAST = dict(write_wcu=100000)
ITEMS = 200


@pytest.fixture(scope="module")
def backup(ddb, tmp_path_factory):
    """200 items in 4 objects, from a table with a GSI, an LSI, a stream, tags and TTL."""
    create_demo_table(ddb, "orders")
    load_items(ddb, "orders", [sample_item(i, payload_bytes=100) for i in range(ITEMS)])
    return backup_table("orders", str(tmp_path_factory.mktemp("backups")),
                        BackupOptions(read_rcu=100000, segments=4))


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def count(ddb, table: str) -> int:
    return len(scan_all(ddb, table))


def killed_after_first_object(ddb, backup, table: str, checkpoint) -> list[bytes]:
    """A finished restore, its checkpoint cut back to what a run killed after its first object
    leaves (header, that object's records), and the items of every other object deleted."""
    restore_backup(backup.url, table, RestoreOptions(checkpoint=str(checkpoint), workers=1, **FAST))
    records = checkpoint.read_bytes().splitlines(keepends=True)
    first = records[1].split(b'"object":"')[1].split(b'"')[0]
    kept = [records[0]] + [r for r in records[1:] if first in r]
    checkpoint.write_bytes(b"".join(kept))
    written = sum(1 for r in kept if b'"done"' in r)
    assert written == 1
    return kept


def test_resume_into_a_recreated_table_is_refused_before_anything_is_written(ddb, backup, aws_env, tmp_path):
    """The issue's case: killed, table deleted, table created again: --resume must not skip."""
    checkpoint = tmp_path / "ck.jsonl"
    killed_after_first_object(ddb, backup, "rt1", checkpoint)
    ddb.delete_table(TableName="rt1")
    table = ddb.describe_table(TableName="orders")["Table"]
    ddb.create_table(TableName="rt1", KeySchema=table["KeySchema"],
                     AttributeDefinitions=[a for a in table["AttributeDefinitions"] if a["AttributeName"] != "name"],
                     BillingMode="PAY_PER_REQUEST")
    with pytest.raises(IntegrityError, match="deleted and created again") as info:
        restore_backup(backup.url, "rt1", RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))
    assert "--resume" in info.value.hint and count(ddb, "rt1") == 0
    # a fresh run into the recreated table does not claim the stale checkpoint either
    result = restore_backup(backup.url, "rt1", RestoreOptions(checkpoint=str(checkpoint), no_create=True, **FAST))
    assert result.items == ITEMS and result.resumed_items == 0 and count(ddb, "rt1") == ITEMS


def test_after_the_table_is_deleted_a_fresh_run_restores_everything(ddb, backup, aws_env, tmp_path):
    checkpoint = tmp_path / "ck.jsonl"
    killed_after_first_object(ddb, backup, "rt2", checkpoint)
    ddb.delete_table(TableName="rt2")
    with pytest.raises(NotFoundError, match="no longer exists"):
        restore_backup(backup.url, "rt2", RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))
    assert "rt2" not in ddb.list_tables()["TableNames"]
    result = restore_backup(backup.url, "rt2", RestoreOptions(checkpoint=str(checkpoint), **FAST))
    assert result.items == ITEMS and result.resumed_items == 0 and count(ddb, "rt2") == ITEMS


def test_unfinished_checkpoint_points_at_resume_before_create(ddb, backup, aws_env, tmp_path):
    checkpoint = tmp_path / "ck.jsonl"
    killed_after_first_object(ddb, backup, "rt3", checkpoint)
    for options in (RestoreOptions(checkpoint=str(checkpoint), **FAST),
                    RestoreOptions(checkpoint=str(checkpoint), no_create=True, allow_non_empty=True, **FAST)):
        with pytest.raises(UsageError, match="unfinished restore") as info:
            restore_backup(backup.url, "rt3", options)
        assert "--resume" in info.value.hint
    result = restore_backup(backup.url, "rt3", RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))
    assert result.items == ITEMS and 0 < result.resumed_items < ITEMS and count(ddb, "rt3") == ITEMS


def test_checkpoint_of_another_target_is_refused_before_create(ddb, backup, aws_env, tmp_path):
    checkpoint = tmp_path / "ck.jsonl"
    kept = killed_after_first_object(ddb, backup, "rt4", checkpoint)
    checkpoint.write_bytes(b"".join([kept[0].replace(b'"region":"us-east-1"', b'"region":"eu-west-1"')] + kept[1:]))
    ddb.delete_table(TableName="rt4")
    for resume in (False, True):
        with pytest.raises(UsageError, match="region eu-west-1"):
            restore_backup(backup.url, "rt4", RestoreOptions(checkpoint=str(checkpoint), resume=resume, **FAST))
    assert "rt4" not in ddb.list_tables()["TableNames"]


@pytest.mark.parametrize("torn", [b'{"object":"data/0-00', b"\x00\x00\x00\x00", b'{"object":"data/x","lines":5'])
def test_torn_last_record_is_ignored(ddb, backup, aws_env, tmp_path, torn):
    checkpoint = tmp_path / "ck.jsonl"
    table = f"rt5-{len(torn)}"
    kept = killed_after_first_object(ddb, backup, table, checkpoint)
    checkpoint.write_bytes(b"".join(kept) + torn)
    with pytest.raises(UsageError, match="unfinished restore"):  # a fresh run: refused, pointing at --resume
        restore_backup(backup.url, table, RestoreOptions(checkpoint=str(checkpoint), **FAST))
    result = restore_backup(backup.url, table, RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))
    assert result.items == ITEMS and count(ddb, table) == ITEMS
    assert torn not in checkpoint.read_bytes()  # cut off before appending
    assert b'"complete":true' in checkpoint.read_bytes().splitlines()[-1]


def test_a_corrupt_record_before_the_end_is_refused(ddb, backup, aws_env, tmp_path):
    checkpoint = tmp_path / "ck.jsonl"
    kept = killed_after_first_object(ddb, backup, "rt6", checkpoint)
    checkpoint.write_bytes(b"".join(kept[:1] + [b"garbage\n"] + kept[1:]))
    with pytest.raises(IntegrityError, match="record 2 is not valid JSON"):
        restore_backup(backup.url, "rt6", RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))


@pytest.mark.parametrize("length", [224, 225, 255])
def test_table_names_up_to_255_characters(ddb, backup, aws_env, length):
    table = ("long-" + "x" * 300)[:length]
    result = restore_backup(backup.url, table, RestoreOptions(**FAST))
    assert result.items == ITEMS
    path = default_path(table, backup.backup_id)
    assert path.exists() and len(path.name.encode()) <= 255 and path.name.startswith("long-xxx")
    assert default_path(table[:-1] + "y", backup.backup_id) != path
    ddb.delete_table(TableName=table)


def saved_settings(ddb, table: str) -> dict:
    description = ddb.describe_table(TableName=table)["Table"]
    tags = ddb.list_tags_of_resource(ResourceArn=description["TableArn"])["Tags"]
    ttl = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    return {"ttl": (ttl["TimeToLiveStatus"], ttl.get("AttributeName")),
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
            "stream": (description.get("StreamSpecification") or {}).get("StreamViewType")}


def test_no_create_gets_the_saved_settings_it_lacks(ddb, backup, aws_env):
    want = saved_settings(ddb, "orders")
    assert want["ttl"] == ("ENABLED", "expires_at") and want["tags"] and want["stream"]
    table = ddb.describe_table(TableName="orders")["Table"]
    ddb.create_table(TableName="bare", KeySchema=table["KeySchema"], BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[a for a in table["AttributeDefinitions"] if a["AttributeName"] != "name"],
                     Tags=[{"Key": "env", "Value": "test"}])
    result = restore_backup(backup.url, "bare", RestoreOptions(no_create=True, **FAST))
    got = saved_settings(ddb, "bare")
    assert got["ttl"] == want["ttl"] and got["stream"] == want["stream"]
    assert got["tags"] == sorted([("env", "test"), ("team", "payments")])  # the user's own value is kept
    assert any("'env' differs" in note for note in result.notes)
    # idempotent: a second run changes nothing and fails on nothing
    restore_backup(backup.url, "bare", RestoreOptions(no_create=True, allow_non_empty=True, **FAST))
    assert saved_settings(ddb, "bare") == got


def test_resume_applies_what_a_killed_run_did_not(ddb, backup, aws_env, tmp_path):
    """A run killed after CreateTable and before TTL: --resume turns TTL on."""
    from ddbvault.restore.checkpoint import incarnation

    table = ddb.describe_table(TableName="orders")["Table"]
    ddb.create_table(TableName="rt7", KeySchema=table["KeySchema"], BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[a for a in table["AttributeDefinitions"] if a["AttributeName"] != "name"])
    description = ddb.describe_table(TableName="rt7")["Table"]
    checkpoint = tmp_path / "ck.jsonl"
    import orjson
    header = {"backup": backup.url, "table": "rt7",
              **incarnation(description, ddb.meta.endpoint_url, ddb.meta.region_name)}
    checkpoint.write_bytes(orjson.dumps(header) + b"\n")
    result = restore_backup(backup.url, "rt7", RestoreOptions(checkpoint=str(checkpoint), resume=True, **FAST))
    assert result.items == ITEMS and count(ddb, "rt7") == ITEMS
    assert saved_settings(ddb, "rt7")["ttl"] == ("ENABLED", "expires_at")


def test_cli_rerun_after_a_failed_long_name_run_is_clean(backup, aws_env, tmp_path):
    table = "c" * 255
    argv = [sys.executable, "-m", "ddbvault", "restore", backup.url, "--table", table, "--write-wcu", "100000"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def test_a_lost_create_table_answer_points_at_no_create_which_then_restores_all(ddb, backup, aws_env, monkeypatch):
    """CreateTable succeeds but its answer is lost; botocore's retry meets the table it created."""
    lost = []

    def lose_first_create(request):
        if request.op == "CreateTable" and not lost:
            lost.append(request)
            return Fault("lost")
        return None

    with ThrottleProxy(aws_env, faults=lose_first_create) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        with pytest.raises(AwsError) as err:
            restore_backup(backup.url, "lost-create")
    assert lost and err.value.code == "ResourceInUseException"
    assert "--no-create" in err.value.hint and count(ddb, "lost-create") == 0
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    result = restore_backup(backup.url, "lost-create", RestoreOptions(no_create=True))
    assert result.items == count(ddb, "lost-create") == backup.items
