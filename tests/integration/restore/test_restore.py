"""Restore on moto: every item back bit-exact, the full schema, and the safety rules."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import boto3
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.aws.session import Principal, make_session
from ddbvault.devtools.demo import create_demo_table, load_items
from ddbvault.errors import IntegrityError, NotFoundError, UsageError
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.devtools.sample_data import edge_case_items, sample_item
from ddbvault.dynamodb.table_create import Overrides
from tests.support.tables import canonical_items, create_table, scan_all, wire

pytestmark = pytest.mark.integration
FAST = dict(write_wcu=100000)


def as_set(ddb, table: str) -> dict:
    """Every item, keyed, in wire form with set members sorted (sets carry no order)."""
    return canonical_items(wire(scan_all(ddb, table)))


@pytest.fixture(scope="module")
def source(ddb, tmp_path_factory):
    create_demo_table(ddb, "source")
    load_items(ddb, "source", edge_case_items() + [sample_item(i, payload_bytes=150) for i in range(400)])
    dest = tmp_path_factory.mktemp("backups")
    result = backup_table("source", str(dest), BackupOptions(read_rcu=100000, segments=3))
    return result


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_restore_creates_table_with_identical_items(source, ddb, aws_env):
    result = restore_backup(source.url, "copy1", RestoreOptions(**FAST))
    assert result.items == source.items == 407
    assert as_set(ddb, "copy1") == as_set(ddb, "source")


def test_existing_table_is_refused_and_never_deleted(source, ddb, aws_env):
    create_table(ddb, "taken")
    ddb.put_item(TableName="taken", Item={"pk": {"S": "keep"}, "sk": {"N": "1"}})
    with pytest.raises(UsageError, match="already exists"):
        restore_backup(source.url, "taken", RestoreOptions(**FAST))
    with pytest.raises(IntegrityError, match="not empty"):
        restore_backup(source.url, "taken", RestoreOptions(no_create=True, **FAST))
    assert scan_all(ddb, "taken") == [{"pk": {"S": "keep"}, "sk": {"N": "1"}}]


def test_no_create_into_empty_table_and_allow_non_empty(source, ddb, aws_env):
    create_table(ddb, "prepared")
    restore_backup(source.url, "prepared", RestoreOptions(no_create=True, **FAST))
    assert as_set(ddb, "prepared") == as_set(ddb, "source")
    with pytest.raises(NotFoundError):
        restore_backup(source.url, "absent", RestoreOptions(no_create=True, **FAST))
    restore_backup(source.url, "prepared", RestoreOptions(no_create=True, allow_non_empty=True, **FAST))
    assert as_set(ddb, "prepared") == as_set(ddb, "source")


def test_key_mismatch_is_refused(source, ddb, aws_env):
    ddb.create_table(TableName="otherkey", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    with pytest.raises(UsageError, match="cannot take this backup"):
        restore_backup(source.url, "otherkey", RestoreOptions(no_create=True, **FAST))


def test_incomplete_backup_is_refused(source, aws_env, tmp_path):
    import shutil
    copy = tmp_path / "copy"
    root = source.url.rsplit("/", 2)[0]
    shutil.copytree(root, copy)
    incomplete = copy / "source" / source.backup_id
    (incomplete / "manifest.json").unlink()
    with pytest.raises(IntegrityError, match="incomplete"):
        restore_backup(str(incomplete), "never", RestoreOptions(**FAST))


def test_one_changed_byte_fails_restore_naming_the_object(source, ddb, aws_env, tmp_path):
    import shutil
    copy = tmp_path / "bad"
    shutil.copytree(source.url.rsplit("/", 2)[0], copy)
    target = sorted((copy / "source" / source.backup_id / "data").iterdir())[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        restore_backup(str(copy / "source" / source.backup_id), "corrupt", RestoreOptions(**FAST))
    assert target.name in str(info.value) and "corrupt" in str(info.value)


def test_cli_json_output(source, ddb, aws_env):
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", source.url, "--table", "viacli",
                           "--write-wcu", "100000", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json
    out = json.loads(proc.stdout)
    assert {"table", "items", "seconds", "consumed_wcu"} <= set(out)
    assert out["items"] == 407 and out["table"] == "viacli" and out["consumed_wcu"] > 0


def test_kill_mid_restore_then_resume_gives_the_same_table(source, ddb, aws_env, tmp_path):
    checkpoint = tmp_path / "ck.jsonl"
    argv = [sys.executable, "-m", "ddbvault", "restore", source.url, "--table", "resumed",
            "--checkpoint", str(checkpoint), "--no-progress"]
    # moto reports 1 WCU per batch: 2 WCU/s is two 25-item batches a second
    proc = subprocess.Popen(argv + ["--write-wcu", "2", "--workers", "1"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (checkpoint.exists() and checkpoint.read_text().count('"lines"') >= 3):
        assert time.monotonic() < deadline and proc.poll() is None, "the restore never got going"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = len(scan_all(ddb, "resumed"))
    assert 0 < partial < 407
    # the same command again points at --resume (it used to say "already exists ... --no-create")
    rerun = subprocess.run(argv + ["--write-wcu", "100000"], capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 2 and "Try: add --resume" in rerun.stderr, rerun.stderr
    again = subprocess.run(argv + ["--resume", "--write-wcu", "100000", "--json"], capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    import json
    out = json.loads(again.stdout)
    assert out["resumed_items"] >= 50  # what the checkpoint recorded was not written again
    assert as_set(ddb, "resumed") == as_set(ddb, "source")
    # a second run without --resume is refused: the table exists
    refused = subprocess.run(argv + ["--write-wcu", "100000"], capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "already exists" in refused.stderr


def test_schema_round_trip_into_another_account(ddb, aws_env, tmp_path):
    """2 GSIs, an LSI, TTL, tags, a stream, SSE-KMS, PROVISIONED: restored as another name in
    another account, then DescribeTable, TTL and tags compared field by field."""
    key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    ddb.create_table(
        TableName="rich", BillingMode="PROVISIONED",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in
                              [("pk", "S"), ("sk", "N"), ("g1", "S"), ("g2", "N"), ("l1", "S")]],
        ProvisionedThroughput={"ReadCapacityUnits": 7, "WriteCapacityUnits": 3},
        GlobalSecondaryIndexes=[
            {"IndexName": "gsi1", "KeySchema": [{"AttributeName": "g1", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "ALL"},
             "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 2}},
            {"IndexName": "gsi2", "KeySchema": [{"AttributeName": "g2", "KeyType": "HASH"},
                                                 {"AttributeName": "sk", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
             "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 1}}],
        LocalSecondaryIndexes=[{"IndexName": "lsi1", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l1", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
        Tags=[{"Key": "team", "Value": "core"}, {"Key": "cost", "Value": "42"}])
    ddb.update_time_to_live(TableName="rich", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    load_items(ddb, "rich", [{"pk": {"S": f"p{i}"}, "sk": {"N": str(i)}, "g1": {"S": "a"}, "g2": {"N": "1"},
                               "l1": {"S": "z"}, "ttl": {"N": "4102444800"}} for i in range(30)])
    backup = backup_table("rich", str(tmp_path), BackupOptions(read_rcu=1000))
    other = "999988887777"
    role = f"arn:aws:iam::{other}:role/restorer"
    result = restore_backup(backup.url, "rich-copy", RestoreOptions(table_principal=Principal(role_arn=role), **FAST))

    target = make_session(Principal(role_arn=role)).client("dynamodb")
    a = ddb.describe_table(TableName="rich")["Table"]
    b = target.describe_table(TableName="rich-copy")["Table"]
    assert b["TableArn"].split(":")[4] == other
    for field in ("KeySchema", "AttributeDefinitions", "BillingModeSummary", "StreamSpecification",
                  "TableClassSummary", "DeletionProtectionEnabled"):
        assert sorted_json(a.get(field)) == sorted_json(b.get(field)), field
    assert (a["ProvisionedThroughput"]["ReadCapacityUnits"], a["ProvisionedThroughput"]["WriteCapacityUnits"]) == \
           (b["ProvisionedThroughput"]["ReadCapacityUnits"], b["ProvisionedThroughput"]["WriteCapacityUnits"])
    assert index_shape(a["GlobalSecondaryIndexes"]) == index_shape(b["GlobalSecondaryIndexes"])
    assert index_shape(a["LocalSecondaryIndexes"]) == index_shape(b["LocalSecondaryIndexes"])
    # the source account's key cannot encrypt a table in another account: that account's own
    # AWS managed key does, and the run says so
    assert a["SSEDescription"]["SSEType"] == b["SSEDescription"]["SSEType"] == "KMS"
    assert b["SSEDescription"]["KMSMasterKeyArn"].split(":")[4] == other
    assert [n for n in result.notes if key in n and "AWS managed key" in n]
    assert ddb.describe_time_to_live(TableName="rich")["TimeToLiveDescription"] == \
           target.describe_time_to_live(TableName="rich-copy")["TimeToLiveDescription"]
    tags = lambda client, arn: sorted(client.list_tags_of_resource(ResourceArn=arn)["Tags"], key=lambda t: t["Key"])
    assert tags(ddb, a["TableArn"]) == tags(target, b["TableArn"])
    assert len(scan_all(target, "rich-copy")) == 30


def sorted_json(value):
    import json
    return json.dumps(value, sort_keys=True, default=str)


def index_shape(indexes: list[dict]) -> list:
    keep = ("IndexName", "KeySchema", "Projection")
    shaped = []
    for index in sorted(indexes, key=lambda i: i["IndexName"]):
        entry = {k: index[k] for k in keep}
        if "ProvisionedThroughput" in index:
            entry["rw"] = (index["ProvisionedThroughput"]["ReadCapacityUnits"],
                           index["ProvisionedThroughput"]["WriteCapacityUnits"])
        shaped.append(entry)
    return shaped


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_corrupt_object_writes_none_of_its_items(ddb, aws_env, tmp_path, compression):
    """A digit flipped in one object: the run fails naming it, and not one of its items (nor of
    any later object) is in the table, because a checksum is proven before its first write."""
    import shutil

    from ddbvault.format.codec import compression_of_key, decode_lines, decompress

    create_table(ddb, f"flip-{compression}")
    load_items(ddb, f"flip-{compression}", [sample_item(i, payload_bytes=80) for i in range(300)])
    backup = backup_table(f"flip-{compression}", str(tmp_path / "b"),
                          BackupOptions(read_rcu=100000, segments=3, compression=compression))
    root = tmp_path / "b" / f"flip-{compression}" / backup.backup_id
    import json
    keys = [o["key"] for o in json.loads((root / "manifest.json").read_text())["objects"]]
    assert len(keys) == 3
    victim = root / keys[-1]  # restored last with one worker
    items = list(decode_lines(decompress(victim.read_bytes(), compression_of_key(victim.name))))
    if compression == "none":
        data = victim.read_bytes()
        at = data.index(b'{"N":"') + len(b'{"N":"')
        victim.write_bytes(data[:at] + bytes([(data[at] - 48 + 1) % 10 + 48]) + data[at + 1:])
    else:  # gzip: a byte of the deflate stream that keeps its CRC check for last
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0x01
        victim.write_bytes(bytes(data))
    shutil.rmtree(tmp_path / "cache", ignore_errors=True)
    spool = tmp_path / "spool"  # the run's TMPDIR: the spool files must not outlive it
    spool.mkdir()
    import os
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", str(root), "--table",
                           f"flipped-{compression}", "--workers", "1", "--write-wcu", "100000"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(spool)})
    assert proc.returncode == 6 and victim.name in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert list(spool.iterdir()) == []
    restored = {(i["pk"]["S"], i["sk"]["N"]) for i in scan_all(ddb, f"flipped-{compression}")}
    assert restored.isdisjoint({(i["pk"]["S"], i["sk"]["N"]) for i in items})
    assert len(restored) == 300 - len(items)  # the objects before it are complete


def test_target_encryption_options(ddb, aws_env, tmp_path):
    """The saved key is kept in its own account and region; --sse / --kms-key-id choose otherwise."""
    kms = boto3.client("kms")
    saved, chosen = (kms.create_key()["KeyMetadata"]["Arn"] for _ in range(2))
    ddb.create_table(TableName="sealed", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST",
                     SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": saved})
    ddb.put_item(TableName="sealed", Item={"pk": {"S": "a"}})
    backup = backup_table("sealed", str(tmp_path), BackupOptions(read_rcu=1000))

    def key_of(table: str, **overrides) -> str | None:
        result = restore_backup(backup.url, table, RestoreOptions(overrides=Overrides(**overrides), **FAST))
        assert result.items == 1 and not result.notes
        sse = ddb.describe_table(TableName=table)["Table"].get("SSEDescription") or {}
        return sse.get("KMSMasterKeyArn") if sse.get("Status") == "ENABLED" else None

    assert key_of("sealed-same") == saved
    assert key_of("sealed-chosen", kms_key_id=chosen) == chosen
    assert key_of("sealed-owned", sse="aws-owned") is None
    managed = key_of("sealed-managed", sse="aws:kms")
    assert managed not in (None, saved, chosen)
    with pytest.raises(UsageError, match="--kms-key-id"):
        key_of("never", sse="aws-owned", kms_key_id=chosen)
    with pytest.raises(UsageError, match="with --no-create the table already exists"):
        restore_backup(backup.url, "sealed-same", RestoreOptions(no_create=True, overrides=Overrides(sse="aws-owned"),
                                                                **FAST))


def test_write_cap_and_capacity_overrides_cover_gsis(ddb, aws_env, tmp_path):
    """A 5 WCU GSI under a 1,000 WCU table caps the restore at 0.5 x 5; --rcu/--wcu reach GSIs."""
    ddb.create_table(TableName="narrow-gsi", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     ProvisionedThroughput={"ReadCapacityUnits": 4000, "WriteCapacityUnits": 1000},
                     GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"},
                                              "ProvisionedThroughput": {"ReadCapacityUnits": 3000, "WriteCapacityUnits": 5}}])
    ddb.batch_write_item(RequestItems={"narrow-gsi": [
        {"PutRequest": {"Item": {"pk": {"S": f"p{i}"}, "g": {"S": "x"}}}} for i in range(20)]})
    backup = backup_table("narrow-gsi", str(tmp_path), BackupOptions(read_rcu=1000, segments=1))  # one batch

    same = restore_backup(backup.url, "narrow-gsi-copy")
    assert same.items == 20 and same.write_rate_wcu == 2.5
    gsi = ddb.describe_table(TableName="narrow-gsi-copy")["Table"]["GlobalSecondaryIndexes"][0]
    assert gsi["ProvisionedThroughput"]["WriteCapacityUnits"] == 5

    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", backup.url, "--table", "narrow-gsi-cheap",
                           "--rcu", "1", "--wcu", "1", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json
    assert json.loads(proc.stdout)["write_rate_wcu"] == 0.5
    cheap = ddb.describe_table(TableName="narrow-gsi-cheap")["Table"]
    for throughput in (cheap["ProvisionedThroughput"], cheap["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]):
        assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (1, 1)
