"""Restore and verify of crafted backups: restore writes only what the backup says, only into
--table, counts only what it can prove, and never prints an item value.

Backups are made by ddbvault on local directories, then edited as a writer bug or an attacker
would (lines changed, manifest sha256/sizes recomputed so only the line checks can catch it).
moto for most; dynalite where DynamoDB's strictness matters (16 MB requests, index key types).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import orjson
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.errors import IntegrityError
from ddbvault.exit_codes import ExitCode
from ddbvault.devtools.local_servers import local_aws_env
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.verify import verify_backup
from ddbvault.dynamodb.write_batch import MAX_REQUEST_BYTES
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table, scan_all

pytestmark = pytest.mark.integration
SECRET = "SECRETITEM"
FAST = dict(write_wcu=100000)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def put_items(ddb, table: str, count: int) -> None:
    for i in range(count):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"user#{i % 7}"}, "sk": {"N": str(i)},
                                            "secret": {"S": f"{SECRET}-{i}"}})


@pytest.fixture(scope="module")
def source(ddb, aws_env):
    create_table(ddb, "lines_source")
    put_items(ddb, "lines_source", 120)
    create_table(ddb, "victim")
    put_items(ddb, "victim", 5)
    return "lines_source"


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def fresh_backup(table: str, dest: Path, segments: int = 1) -> tuple[str, Path]:
    result = backup_table(table, str(dest), BackupOptions(read_rcu=100000, segments=segments))
    return result.url, dest / table / result.backup_id


def edit_object(root: Path, change, index: int = 0) -> str:
    """Apply change(lines) to data object `index` and make the manifest agree with the result."""
    manifest = json.loads((root / "manifest.json").read_bytes())
    obj = manifest["objects"][index]
    path = root / obj["key"]
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    change(lines)
    data = gzip.compress(b"".join(lines))
    path.chmod(0o644)
    path.write_bytes(data)
    obj.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), items=len(lines))
    manifest["totals"].update(bytes=sum(o["bytes"] for o in manifest["objects"]),
                              items=sum(o["items"] for o in manifest["objects"]))
    (root / "manifest.json").chmod(0o644)
    (root / "manifest.json").write_text(json.dumps(manifest))
    return str(path)


def rewrite_item(lines: list[bytes], number: int, change) -> None:
    record = json.loads(lines[number - 1])
    change(record["Item"])
    lines[number - 1] = json.dumps(record).encode() + b"\n"


def test_a_line_that_closes_the_request_writes_into_no_other_table(source, ddb, tmp_path):
    url, root = fresh_backup(source, tmp_path)
    injection = b'}],"victim":[{"PutRequest":{"Item":{"pk":{"S":"INJECTED"},"sk":{"N":"1"}}}'

    def inject(lines):
        lines[3] = lines[3].rstrip(b"\n") + injection + b"\n"

    where = edit_object(root, inject)
    proc = run_cli("restore", url, "--table", "injected_copy", "--write-wcu", "100000")
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert f"data object {where}: line 4: not one JSON object" in proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr
    assert len(scan_all(ddb, "victim")) == 5
    assert "Item" not in ddb.get_item(TableName="victim", Key={"pk": {"S": "INJECTED"}, "sk": {"N": "1"}})
    verify = run_cli("verify", url)
    assert verify.returncode == ExitCode.INTEGRITY and f"{where}: line 4: not one JSON object" in verify.stderr


@pytest.mark.parametrize("change, says", [
    (lambda item: item.update(sk={"Q": "17"}), 'line 31: attribute "sk": has unknown type descriptor "Q"'),
    (lambda item: item.update(secret={"N": "not-a-number"}), 'line 31: attribute "secret": N is not a number'),
    (lambda item: item.update(sk={"S": "17"}), 'line 31: key attribute "sk" is S, the table\'s key type is N'),
    (lambda item: item.update(extra={"SS": ["a", "a"]}), 'line 31: attribute "extra": SS has duplicate members'),
    (lambda item: item.update(extra={"B": "not base64!"}), 'line 31: attribute "extra": B is not valid base64'),
])
def test_invalid_items_fail_verify_and_restore_naming_object_and_line_never_the_value(
        source, ddb, tmp_path, change, says):
    url, root = fresh_backup(source, tmp_path)
    where = edit_object(root, lambda lines: rewrite_item(lines, 31, change))
    verify = run_cli("verify", url)
    assert verify.returncode == ExitCode.INTEGRITY and f"data object {where}: {says}" in verify.stderr
    table = f"invalid_{abs(hash(says)) % 10**6}"
    restore = run_cli("restore", url, "--table", table, "--write-wcu", "100000")
    assert restore.returncode == ExitCode.INTEGRITY and f"data object {where}: {says}" in restore.stderr
    for text in (verify.stderr + verify.stdout, restore.stderr + restore.stdout):
        assert SECRET not in text and "not-a-number" not in text and "not base64!" not in text
    assert "Traceback" not in restore.stderr


def test_verify_names_the_first_bad_lines_of_an_object_and_counts_the_rest(source, tmp_path):
    url, root = fresh_backup(source, tmp_path)

    def break_many(lines):
        for number in range(10, 90, 10):
            rewrite_item(lines, number, lambda item: item.update(sk={"N": "x"}))

    where = edit_object(root, break_many)
    report = verify_backup(url)
    assert not report.ok and report.items_read == 120
    assert [p.split(": ")[1] for p in report.problems[:5]] == [f"line {n}" for n in (10, 20, 30, 40, 50)]
    assert f"data object {where}: 8 bad lines in all (first 5 shown)" in report.problems


def test_a_key_in_two_objects_is_reported_and_counted_once(source, ddb, tmp_path):
    url, root = fresh_backup(source, tmp_path, segments=3)
    manifest = json.loads((root / "manifest.json").read_bytes())
    first = manifest["objects"][0]
    # A second object holding the same lines (the manifest itself refuses one key listed twice).
    copy = dict(first, key=first["key"].replace("000000-0000", "000099-0000"))
    (root / copy["key"]).write_bytes((root / first["key"]).read_bytes())
    manifest["objects"].append(copy)
    manifest["totals"].update(items=sum(o["items"] for o in manifest["objects"]),
                              bytes=sum(o["bytes"] for o in manifest["objects"]),
                              objects=len(manifest["objects"]))
    (root / "manifest.json").chmod(0o644)
    (root / "manifest.json").write_text(json.dumps(manifest))
    verify = run_cli("verify", url)
    assert verify.returncode == ExitCode.INTEGRITY
    assert f"the backup repeats {first['items']} keys" in verify.stderr and "repeats the key" in verify.stderr
    restore = run_cli("restore", url, "--table", "twice_copy", "--write-wcu", "100000", "--json")
    assert restore.returncode == 0, restore.stderr
    result = json.loads(restore.stdout)
    assert result["items"] == len(scan_all(ddb, "twice_copy")) == 120
    assert result["written"] == 120 + first["items"] and result["duplicates"] == first["items"]
    assert f"the backup repeats {first['items']} keys (first at data object" in restore.stderr


def test_a_key_twice_in_one_batch_is_collapsed_last_wins_and_reported(source, ddb, tmp_path):
    url, root = fresh_backup(source, tmp_path)

    def repeat(lines):
        record = json.loads(lines[29])
        record["Item"]["secret"] = {"S": "the last copy"}
        lines[30] = json.dumps(record).encode() + b"\n"  # line 31 repeats line 30's key

    where = edit_object(root, repeat)
    assert any(f"{where}: line 31: repeats the key" in p for p in verify_backup(url).problems)
    result = restore_backup(url, "dup_batch", RestoreOptions(**FAST))
    assert (result.items, result.written, result.duplicates) == (119, 119, 1)
    assert result.first_duplicate == f"data object {where} line 31"
    items = scan_all(ddb, "dup_batch")
    assert len(items) == 119 and sum(i["secret"] == {"S": "the last copy"} for i in items) == 1


@pytest.fixture
def on_dynalite(dynalite, monkeypatch):
    for name, value in local_aws_env(dynalite.url).items():
        monkeypatch.setenv(name, value)
    return boto3.client("dynamodb", endpoint_url=dynalite.url)


def count(ddb, table: str) -> int:
    total, args = 0, {"TableName": table, "Select": "COUNT"}
    while True:
        page = ddb.scan(**args)
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_requests_are_cut_below_16_mb_when_25_items_would_exceed_it(on_dynalite, dynalite, tmp_path, monkeypatch):
    ddb = on_dynalite
    ddb.create_table(TableName="series", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName="series", WaiterConfig={"Delay": 0.1})
    samples = {"L": [{"N": str(j % 10)} for j in range(70_000)]}  # ~210 KB as an item, ~770 KB as JSON
    for i in range(25):
        ddb.put_item(TableName="series", Item={"pk": {"S": f"series-{i}"}, "samples": samples})
    url, _ = fresh_backup("series", tmp_path)
    with RecordingProxy(dynalite.url) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        result = restore_backup(url, "series_copy", RestoreOptions(**FAST))
    sizes = [int(h["content-length"]) for _, _, h in proxy.requests
             if h.get("x-amz-target", "").endswith("BatchWriteItem")]
    assert result.items == 25 == count(ddb, "series_copy")
    assert len(sizes) >= 2 and max(sizes) <= MAX_REQUEST_BYTES and sum(sizes) > 16 * 1024 * 1024


def test_items_a_new_index_refuses_are_named_by_key_and_everything_else_is_restored(on_dynalite, tmp_path):
    ddb = on_dynalite
    ddb.create_table(TableName="users", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.get_waiter("table_exists").wait(TableName="users", WaiterConfig={"Delay": 0.1})
    for i in range(60):
        ddb.put_item(TableName="users", Item={"pk": {"S": f"user{i:03d}"}, "email": {"S": f"u{i}@example.com"}})
    for legacy in ("legacy-1", "legacy-2"):  # written before the index existed: email is a number
        ddb.put_item(TableName="users", Item={"pk": {"S": legacy}, "email": {"N": "4242"}})
    url, root = fresh_backup("users", tmp_path)
    manifest = json.loads((root / "manifest.json").read_bytes())  # the source table's GSI, added later
    manifest["schema"]["AttributeDefinitions"].append({"AttributeName": "email", "AttributeType": "S"})
    manifest["schema"]["GlobalSecondaryIndexes"] = [{
        "IndexName": "by-email", "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}]
    (root / "manifest.json").chmod(0o644)
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert verify_backup(url).ok  # the backup is sound: the new table is what refuses the items
    with pytest.raises(IntegrityError) as info:
        restore_backup(url, "users_copy", RestoreOptions(**FAST))
    message = info.value.message
    assert count(ddb, "users_copy") == 60
    assert "refused 2 of 62 items" in message and "4242" not in message + (info.value.hint or "")
    assert '{"pk":{"S":"legacy-1"}}' in message and '{"pk":{"S":"legacy-2"}}' in message
    path = Path(message.rsplit(" are in ", 1)[1])
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert sorted(r["Key"]["pk"]["S"] for r in records) == ["legacy-1", "legacy-2"]
    assert all(r["object"].startswith(str(root)) and r["line"] >= 1 for r in records)
    assert b"4242" not in path.read_bytes()
