"""backup --engine export against moto and the export stand-in (tests/support/export_standin.py):
full exports that verify, list and restore (both paths) bit-exact, the failure paths, and
incremental exports applied on a full backup with restore --then."""

from __future__ import annotations

import base64
import gzip
import hashlib
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import boto3
import orjson
import pytest

from ddbvault.aws.retry import RetryStats
from ddbvault.backup import BackupOptions, backup_table
from ddbvault.errors import AwsError, IntegrityError, UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.format.manifest import Manifest
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.incremental import apply_increments, open_chain
from ddbvault.vault.listing import format_rows, list_backups
from ddbvault.verify import verify_backup
from ddbvault.devtools.demo import load_items
from ddbvault.devtools.sample_data import sample_item
from tests.support.export_standin import ExportStandIn
from tests.support.tables import canonical_items, create_table, fill_table, moto_import_safe, scan_all, wire

pytestmark = pytest.mark.integration
BUCKET = "vault"
DEST = f"s3://{BUCKET}/b"
DDBVAULT = (sys.executable, "-m", "ddbvault")


def _ascii(value):
    """`value` with every non-ASCII character of its strings and map keys replaced by '?'."""
    (kind, inner), = value.items()
    if kind == "S":
        return {"S": inner.encode("ascii", "replace").decode()}
    if kind == "SS":
        return {"SS": sorted({s.encode("ascii", "replace").decode() for s in inner})}
    if kind == "M":
        return {"M": {k.encode("ascii", "replace").decode(): _ascii(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_ascii(v) for v in inner]}
    return value


@pytest.fixture(scope="module")
def standin(aws_env, ddb, s3):
    s3.create_bucket(Bucket=BUCKET)
    with ExportStandIn(aws_env) as standin, pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", standin.url)
        patch.setattr("ddbvault.backup.via_export.POLL_FIRST_S", 0.05)
        yield standin


def pitr(ddb, table: str) -> None:
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})


def table_of(ddb, name: str) -> dict:
    return canonical_items(wire(scan_all(ddb, name)))


@pytest.fixture(scope="module")
def orders(standin, ddb):
    create_table(ddb, "orders")
    fill_table(ddb, "orders", 120)
    pitr(ddb, "orders")
    time.sleep(1.1)  # the default export time (the backup id's second) lies after PITR was turned on
    return "orders"


def test_full_export_backup_verifies_lists_and_restores_bit_exact(standin, orders, ddb, s3):
    result = backup_table(orders, DEST, BackupOptions(engine="export"))
    assert result.engine == "export" and result.items == 120 and result.export_arn.startswith("arn:")
    manifest = Manifest.from_json(s3.get_object(Bucket=BUCKET, Key=f"b/orders/{result.backup_id}/manifest.json")
                                  ["Body"].read())
    export_id = result.export_arn.rpartition("/export/")[2]
    assert manifest.format_version == "1.3" and manifest.options["engine"] == "export"
    assert manifest.export["type"] == "FULL_EXPORT" and manifest.export["item_count"] == 120
    assert manifest.export["s3_prefix"] == f"b/orders/{result.backup_id}/export"
    assert all(o.key.startswith(f"export/AWSDynamoDB/{export_id}/data/") and o.md5 and len(o.sha256) == 64
               for o in manifest.objects)
    assert manifest.schema["KeySchema"] == ddb.describe_table(TableName=orders)["Table"]["KeySchema"]

    report = verify_backup(result.url, against_table=orders)
    assert report.ok, report.problem_lines()
    entry = next(e for e in list_backups(DEST) if e.backup_id == result.backup_id)
    assert entry.engine == "export" and entry.items == 120 and entry.window is None
    assert any("export" in row for row in format_rows([entry]))

    restored = restore_backup(result.url, "orders-batch")
    assert restored.items == 120
    assert table_of(ddb, "orders-batch") == table_of(ddb, orders)


def test_full_export_restores_via_import_from_the_export_data_prefix(standin, ddb):
    ddb.create_table(TableName="imp-src", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    # moto's ImportTable decodes no JSON escape, and the stand-in writes \uXXXX for non-ASCII
    # characters (json.dumps): ASCII values only, for this test (tables.moto_import_safe)
    rows = [{k: moto_import_safe(v) for k, v in sample_item(i, payload_bytes=80).items() if v != {"M": {}}}
            for i in range(60)]
    rows = [_ascii({"M": row})["M"] for row in rows]
    load_items(ddb, "imp-src", rows)
    pitr(ddb, "imp-src")
    time.sleep(1.1)
    standin.items_per_file = 25  # several data files
    try:
        result = backup_table("imp-src", DEST, BackupOptions(engine="export"))
    finally:
        standin.items_per_file = 1000
    assert result.objects == 3
    restored = restore_backup(result.url, "imp-dst", RestoreOptions(via="import"))
    assert restored.via == "import" and restored.items == 60
    assert table_of(ddb, "imp-dst") == table_of(ddb, "imp-src")


def test_pitr_off_is_a_usage_error_with_the_fix(standin, ddb):
    create_table(ddb, "no-pitr")
    completed = subprocess.run([*DDBVAULT, "backup", "no-pitr", "--to", DEST, "--engine", "export"],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    assert "point-in-time recovery is DISABLED on table no-pitr" in completed.stderr
    assert "PointInTimeRecoveryEnabled=true" in completed.stderr and "Traceback" not in completed.stderr


def test_export_time_outside_the_window_names_the_window(standin, orders):
    with pytest.raises(UsageError, match=r"not inside the point-in-time recovery window of orders, \[") as raised:
        backup_table(orders, DEST, BackupOptions(engine="export",
                                                 export_time=datetime.now(timezone.utc) - timedelta(days=2)))
    assert "EarliestRestorableDateTime" in raised.value.message


def test_failed_export_is_one_line_and_writes_no_manifest(standin, orders, s3):
    standin.fail_next_export("S3AccessDenied", "Access Denied to the bucket\nfor the export")
    with pytest.raises(AwsError) as raised:
        backup_table(orders, DEST, BackupOptions(engine="export", backup_id="20261130T000001Z-fa11ed"))
    assert raised.value.code == "S3AccessDenied" and "\n" not in raised.value.message
    assert "FAILED: S3AccessDenied: Access Denied to the bucket for the export" in raised.value.message
    assert "manifest.json" not in [o["Key"].rpartition("/")[2] for o in s3.list_objects_v2(
        Bucket=BUCKET, Prefix="b/orders/20261130T000001Z-fa11ed/").get("Contents", [])]


def test_md5_mismatch_is_an_integrity_error_naming_the_object(standin, orders, s3):
    standin.corrupt_next_export("md5")
    with pytest.raises(IntegrityError, match=r"export data object s3://vault/b/orders/.*/data/.* is corrupted: MD5"):
        backup_table(orders, DEST, BackupOptions(engine="export", backup_id="20261130T000002Z-bad5ed"))
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="b/orders/20261130T000002Z-bad5ed/manifest.json")["KeyCount"] == 0


def test_past_the_deadline_the_same_backup_id_resumes_the_same_export(standin, orders, ddb):
    standin.polls_to_complete = 10 ** 6
    backup_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-5107ed"
    try:
        with pytest.raises(AwsError) as raised:
            backup_table(orders, DEST, BackupOptions(engine="export", backup_id=backup_id, export_deadline_s=0.3))
    finally:
        standin.polls_to_complete = 2
    error = raised.value
    assert error.code == "ExportDeadline" and "continues on AWS's side" in error.message
    arn = error.message.split("export ", 1)[1].split(" ", 1)[0]
    assert arn.startswith("arn:") and f"--backup-id {backup_id}" in error.hint
    resumed = backup_table(orders, DEST, BackupOptions(engine="export", backup_id=backup_id))
    assert resumed.export_arn == arn and resumed.items == 120


def test_local_destination_and_bad_windows_are_usage_errors(standin, orders, tmp_path):
    with pytest.raises(UsageError, match="needs an s3:// destination"):
        backup_table(orders, str(tmp_path), BackupOptions(engine="export"))
    now = datetime.now(timezone.utc)
    with pytest.raises(UsageError, match="15 minutes to 24 hours"):
        backup_table(orders, DEST, BackupOptions(engine="export", export_from=now - timedelta(minutes=5),
                                                 export_to=now))


def _widen(standin) -> None:
    """moto's PITR window starts when PITR is turned on, so no incremental window (15 minutes at
    least) fits in it: the stand-in's earliest_restorable widens it (its docstring)."""
    standin.earliest_restorable = time.time() - 48 * 3600


def _through(standin):
    """A DynamoDB client whose writes pass through the stand-in, which records them as changes
    (the module's `ddb` goes to moto directly)."""
    return boto3.client("dynamodb", endpoint_url=standin.url)


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _full_base(standin, ddb, table: str, items: int):
    """A filled table with PITR on, its full export backup and that backup's point in time; the
    clock is a second past it on return, so later changes come after it."""
    _widen(standin)
    create_table(ddb, table)
    fill_table(ddb, table, items)
    pitr(ddb, table)
    time.sleep(1.1)
    base = backup_table(table, DEST, BackupOptions(engine="export"))
    time.sleep(1.1)
    return base, datetime.strptime(base.backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def test_incremental_on_a_full_backup_restores_the_table_at_t2(standin, ddb):
    base, base_time = _full_base(standin, ddb, "inc", 40)
    via = _through(standin)
    for i in range(100, 110):
        via.put_item(TableName="inc", Item=wire([sample_item(i, payload_bytes=50)])[0])
    first = scan_all(ddb, "inc")[:3]
    via.delete_item(TableName="inc", Key={"pk": first[0]["pk"], "sk": first[0]["sk"]})
    via.delete_item(TableName="inc", Key={"pk": first[1]["pk"], "sk": first[1]["sk"]})
    via.put_item(TableName="inc", Item={**first[2], "note": {"S": "changed"}})
    t2 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(1.2)
    start = t2 - timedelta(minutes=20)
    assert start <= base_time < t2
    inc = backup_table("inc", DEST, BackupOptions(engine="export", export_from=start, export_to=t2))
    assert inc.items == 13
    entry = next(e for e in list_backups(DEST, table="inc") if e.backup_id == inc.backup_id)
    assert entry.engine == "export" and entry.window == {"from": _utc(start), "to": _utc(t2)}
    assert "export incremental" in format_rows([entry])[1]
    report = verify_backup(inc.url)
    assert report.ok and report.items_read == 13, report.problem_lines()

    with pytest.raises(UsageError, match="needs a base") as alone:
        restore_backup(inc.url, "inc-alone")
    assert "--then" in alone.value.hint

    result = restore_backup(base.url, "inc-restored", then=[inc.url])
    assert result.incrementals[0]["puts"] == 11 and result.incrementals[0]["deletes"] == 2
    assert table_of(ddb, "inc-restored") == table_of(ddb, "inc")
    # idempotent: applying the same changes again changes nothing
    _, increments = open_chain(base.url, [inc.url], RestoreOptions(), RetryStats())
    apply_increments("inc-restored", increments, RestoreOptions())
    assert table_of(ddb, "inc-restored") == table_of(ddb, "inc")

    completed = subprocess.run([*DDBVAULT, "restore", base.url, "--table", "inc-cli", "--then", inc.url],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == 0, completed.stderr
    assert "then applied 13 changes (11 puts, 2 deletes)" in completed.stdout
    assert table_of(ddb, "inc-cli") == table_of(ddb, "inc")


def test_non_chaining_windows_are_refused_naming_the_gap(standin, ddb):
    base, base_time = _full_base(standin, ddb, "gap", 5)
    end = base_time + timedelta(seconds=1)
    # the CLI spelling: --to twice, the destination and the window's end
    completed = subprocess.run([*DDBVAULT, "backup", "gap", "--to", DEST, "--engine", "export", "--incremental",
                                "--from", _utc(end - timedelta(minutes=20)), "--to", _utc(end), "--json"],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == 0, completed.stderr
    first = orjson.loads(completed.stdout)["url"]
    early = backup_table("gap", DEST, BackupOptions(engine="export", export_from=base_time - timedelta(minutes=40),
                                                    export_to=base_time - timedelta(minutes=20)))
    with pytest.raises(UsageError, match="the chain has a gap or an overlap there") as raised:
        restore_backup(base.url, "gap-restored", then=[early.url])
    assert "from at or before" in raised.value.message and early.url in raised.value.message
    with pytest.raises(UsageError, match=f"needs a window that starts at {_utc(end)}"):
        restore_backup(base.url, "gap-restored", then=[first, early.url])
    with pytest.raises(UsageError, match="is not an incremental export"):
        restore_backup(base.url, "gap-restored", then=[base.url])
    assert "gap-restored" not in ddb.list_tables()["TableNames"]  # refused before any table is touched


def test_a_scan_backup_is_a_base_for_incrementals(standin, ddb):
    """A scan backup's started_at has milliseconds (2026-11-30T10:00:00.123Z); the chain check
    once refused it with an unexpected ValueError (exit 1)."""
    _widen(standin)
    create_table(ddb, "scanbase")
    fill_table(ddb, "scanbase", 20)
    pitr(ddb, "scanbase")
    base = backup_table("scanbase", DEST, BackupOptions())
    time.sleep(1.1)
    via = _through(standin)
    via.put_item(TableName="scanbase", Item={"pk": {"S": "added"}, "sk": {"N": "1"}})
    end = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(1.2)
    inc = backup_table("scanbase", DEST, BackupOptions(engine="export", export_from=end - timedelta(minutes=20),
                                                       export_to=end))
    completed = subprocess.run([*DDBVAULT, "restore", base.url, "--table", "scanbase-r", "--then", inc.url],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == 0, completed.stderr
    assert table_of(ddb, "scanbase-r") == table_of(ddb, "scanbase")


def test_restore_via_import_refuses_an_unlisted_object_in_the_export_data_prefix(standin, ddb, s3):
    """The production principal may write under export/ (docs/iam.md): an object it adds to the
    export's data/ would be imported too, as ImportTable reads the whole prefix. It is refused
    before any table is created; --via batch reads only the listed objects."""
    ddb.create_table(TableName="unlisted", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    for i in range(10):
        ddb.put_item(TableName="unlisted", Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
    pitr(ddb, "unlisted")
    time.sleep(1.1)
    result = backup_table("unlisted", DEST, BackupOptions(engine="export"))
    export_id = result.export_arn.rpartition("/export/")[2]
    data = f"b/unlisted/{result.backup_id}/export/AWSDynamoDB/{export_id}/data/"
    s3.put_object(Bucket=BUCKET, Key=data + "planted.json.gz",
                  Body=gzip.compress(b'{"Item":{"pk":{"S":"planted"},"v":{"N":"666"}}}\n'))
    completed = subprocess.run([*DDBVAULT, "restore", result.url, "--table", "unlisted-imp", "--via", "import"],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == ExitCode.INTEGRITY, completed.stderr
    assert "planted.json.gz" in completed.stderr and "Try:" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "unlisted-imp" not in ddb.list_tables()["TableNames"]
    assert restore_backup(result.url, "unlisted-batch").items == 10


@pytest.mark.parametrize("multipart", [False, True], ids=["single-part", "multipart"])
def test_restore_via_import_refuses_an_export_object_replaced_since_the_backup(standin, ddb, s3, multipart):
    """The production principal may overwrite an export's files (they are exempt from
    If-None-Match): a data object replaced since the backup, same key and same item count, is
    refused before ImportTable (which checks nothing) creates any table; from the listing's ETag
    for a single-part object, by reading and hashing a multipart one."""
    name = f"replaced-{int(multipart)}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"N": "1"}})
    pitr(ddb, name)
    time.sleep(1.1)
    result = backup_table(name, DEST, BackupOptions(engine="export"))
    export_id = result.export_arn.rpartition("/export/")[2]
    data = f"b/{name}/{result.backup_id}/export/AWSDynamoDB/{export_id}/data/"
    key = next(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=data)["Contents"])
    original = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    # the same items, gzipped again with another header time: same size, other bytes, so only the
    # ETag (single part) or a hash of the body (multipart) can tell
    forged = gzip.compress(gzip.decompress(original), mtime=12345)
    assert len(forged) == len(original) and forged != original
    if multipart:  # the same bytes as one part: an ETag that is not the MD5 (`...-1`)
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=1, Body=forged)["ETag"]
        s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload,
                                     MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    else:
        s3.put_object(Bucket=BUCKET, Key=key, Body=forged)
    with pytest.raises(IntegrityError, match="is not the object the backup proved") as raised:
        restore_backup(result.url, f"{name}-imp", RestoreOptions(via="import"))
    assert "versioning keeps the proved version" in raised.value.hint
    assert f"{name}-imp" not in ddb.list_tables()["TableNames"]


def test_the_backup_id_of_a_complete_backup_starts_no_export(standin, orders, s3):
    """--backup-id resumes an unfinished export. Past the ClientToken's 8 hours (the stand-in's
    tokens forgotten here), the id of a complete backup would start a new export writing into
    that backup's export/ before failing on its manifest: refused before any export starts."""
    done = backup_table(orders, DEST, BackupOptions(engine="export"))
    root = f"b/orders/{done.backup_id}/"
    before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=root)["Contents"])
    standin._tokens.clear()
    exports = len(standin.exports)
    with pytest.raises(IntegrityError, match="is complete already") as raised:
        backup_table(orders, DEST, BackupOptions(engine="export", backup_id=done.backup_id))
    assert raised.value.hint and len(standin.exports) == exports
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=root)["Contents"]) == before


def test_a_backup_id_dated_outside_the_pitr_window_is_named_not_export_time(standin, orders):
    # without --export-time the export time is the backup id's; the error named --export-time
    with pytest.raises(UsageError, match=r"the export time 2099-11-30T10:00:00Z \(the time of --backup-id "
                                         r"20991130T100000Z-abcdef\) is not inside") as raised:
        backup_table(orders, DEST, BackupOptions(engine="export", backup_id="20991130T100000Z-abcdef"))
    assert "--export-time" in raised.value.hint


@pytest.mark.parametrize("dest,extra,message", [
    ("LOCAL", [], "needs an s3:// destination"),
    (DEST, ["--keep", "daily=7"], "--keep cannot be combined with --engine export"),
])
def test_tables_with_an_impossible_export_option_fail_once_before_any_table(standin, orders, tmp_path,
                                                                           dest, extra, message):
    # each matched table failed alone with the same usage error ("backed up 0 of 1 table")
    dest = str(tmp_path) if dest == "LOCAL" else dest
    completed = subprocess.run([*DDBVAULT, "backup", "--tables", "ord*", "--to", dest, "--engine", "export", *extra],
                               capture_output=True, text=True, env=os.environ)
    assert completed.returncode == ExitCode.USAGE, completed.stderr
    assert completed.stderr.count(message) == 1 and "Try:" in completed.stderr
    assert "tables failed" not in completed.stderr and "Traceback" not in completed.stderr


def test_a_file_planted_in_the_export_data_folder_fails_the_backup(standin, orders, s3, monkeypatch):
    """Production may write under export/ (docs/iam.md). A file it adds to the export's data/
    before ddbvault reads the export would be imported by every restore --via import; the
    backup fails naming it, and writes no manifest."""
    from ddbvault.backup import via_export

    real = via_export.read_export_files
    planted = []

    def plant_then_read(store, layout, url, **kwargs):
        planted.append(f"{layout.root}/data/planted.json.gz")
        s3.put_object(Bucket=BUCKET, Key=planted[0], Body=gzip.compress(b'{"Item":{"pk":{"S":"x"},"sk":{"N":"1"}}}\n'))
        return real(store, layout, url, **kwargs)

    monkeypatch.setattr(via_export, "read_export_files", plant_then_read)
    with pytest.raises(IntegrityError, match="planted.json.gz; no manifest written") as raised:
        backup_table(orders, DEST, BackupOptions(engine="export"))
    assert raised.value.hint
    root = planted[0].split("/export/")[0]
    assert not s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{root}/manifest.json").get("Contents")


def test_a_bad_change_line_is_found_before_the_base_touches_any_table(standin, ddb, s3):
    """--then reads every incremental's change lines before restoring the base: an incremental
    with a malformed line (checksums made to match, so only the line itself is wrong) refuses
    the whole restore, and no table is created."""
    base, base_time = _full_base(standin, ddb, "badline", 5)
    _through(standin).put_item(TableName="badline", Item=wire([sample_item(100, payload_bytes=50)])[0])
    t2 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(1.2)
    inc = backup_table("badline", DEST, BackupOptions(engine="export", export_from=t2 - timedelta(minutes=20),
                                                      export_to=t2))
    root = inc.url.removeprefix(f"s3://{BUCKET}/")
    manifest = orjson.loads(s3.get_object(Bucket=BUCKET, Key=f"{root}/manifest.json")["Body"].read())
    obj = manifest["objects"][0]
    lines = gzip.decompress(s3.get_object(Bucket=BUCKET, Key=f"{root}/{obj['key']}")["Body"].read()).splitlines()
    record = orjson.loads(lines[0])
    del record["Keys"]
    body = gzip.compress(b"\n".join([orjson.dumps(record), *lines[1:]]) + b"\n")
    s3.put_object(Bucket=BUCKET, Key=f"{root}/{obj['key']}", Body=body)
    obj.update(bytes=len(body), sha256=hashlib.sha256(body).hexdigest(),
               md5=base64.b64encode(hashlib.md5(body).digest()).decode())
    s3.put_object(Bucket=BUCKET, Key=f"{root}/manifest.json", Body=orjson.dumps(manifest))
    with pytest.raises(IntegrityError, match="line 1"):
        restore_backup(base.url, "badline-r", then=[inc.url])
    assert "badline-r" not in ddb.list_tables()["TableNames"]
