"""`ddbvault verify`: a good backup passes; every kind of damage is found and names its object;
--against-table finds what changed in the live table, naming keys and attributes only.

Real moto_server; backups on a local directory and on moto's S3.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from ddbvault import BackupOptions, backup_table
from ddbvault.exit_codes import ExitCode
from ddbvault.verify import verify_backup
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
TABLE = "verified"
OPTIONS = BackupOptions(segments=3, read_rcu=100000)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, TABLE)
    fill_table(ddb, TABLE, 300, payload_bytes=100)
    return TABLE


@pytest.fixture
def local_backup(table, aws_env, tmp_path):
    """A fresh backup on a local directory: (url, its root directory)."""
    result = backup_table(table, str(tmp_path), OPTIONS)
    return result.url, tmp_path / table / result.backup_id


def _data_files(root: Path) -> list[Path]:
    return sorted((root / "data").iterdir())


def test_good_backup_verifies_through_the_cli(local_backup):
    url, _ = local_backup
    proc = run_cli("verify", url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"verified {url}: 3 objects, 300 items")
    proc = run_cli("verify", url, "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["items"] == report["items_read"] == 300 and report["objects"] == 3


def test_one_changed_byte_in_a_local_object_fails_and_names_it(local_backup):
    url, root = local_backup
    damaged, *intact = _data_files(root)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    proc = run_cli("verify", url, "--json")
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert str(damaged) in proc.stderr
    assert not any(str(path) in proc.stderr for path in intact)
    report = json.loads(proc.stdout)
    assert report["ok"] is False and len(report["problems"]) == 1
    assert str(damaged) in report["problems"][0]


def test_a_deleted_object_is_named(local_backup):
    url, root = local_backup
    gone = _data_files(root)[1]
    gone.unlink()
    proc = run_cli("verify", url)
    assert proc.returncode == ExitCode.INTEGRITY
    assert f"data object {gone} is missing" in proc.stderr
    error, hint = proc.stderr.splitlines()[-2:]  # one error line and its Try: line, as for every error
    assert error.startswith(f"ddbvault: error: {url} failed verification") and hint.startswith("Try: ")


def test_an_incomplete_backup_is_refused(local_backup):
    url, root = local_backup
    (root / "manifest.json").unlink()
    proc = run_cli("verify", url)
    assert proc.returncode == ExitCode.INTEGRITY
    assert "incomplete" in proc.stderr and url in proc.stderr


def _rewrite_manifest(root: Path, change) -> None:
    path = root / "manifest.json"
    body = json.loads(path.read_bytes())
    change(body)
    path.write_text(json.dumps(body))


def test_item_count_differing_from_the_manifest_is_named(local_backup):
    url, root = local_backup
    key = json.loads((root / "manifest.json").read_bytes())["objects"][0]["key"]
    held = _items_in(root, key)

    def one_more(body):
        body["objects"][0]["items"] += 1
        body["totals"]["items"] += 1

    _rewrite_manifest(root, one_more)
    report = verify_backup(url)
    assert not report.ok
    assert report.problems == [f"data object {root / key} holds {held} items, the manifest says {held + 1}"]


def _items_in(root: Path, key: str) -> int:
    from ddbvault.format.codec import compression_of_key, decode_lines, decompress

    return len(list(decode_lines(decompress((root / key).read_bytes(), compression_of_key(key)))))


def test_totals_that_do_not_add_up_and_unlisted_objects_are_named(local_backup):
    url, root = local_backup
    _rewrite_manifest(root, lambda body: body["totals"].update(bytes=body["totals"]["bytes"] + 1))
    stray = root / "data" / "000009-0000.json.gz"
    stray.write_bytes(_data_files(root)[0].read_bytes())
    report = verify_backup(url)
    assert not report.ok
    assert any("totals.bytes" in p and str(root / "manifest.json") in p for p in report.problems)
    assert any(str(stray) in p and "not in the manifest" in p for p in report.problems)
    assert len(report.problems) == 2


def test_s3_object_put_again_with_one_byte_changed_is_named(table, aws_env, s3):
    s3.create_bucket(Bucket="verify-bucket")
    result = backup_table(table, "s3://verify-bucket/pre", OPTIONS)
    assert verify_backup(result.url, against_table=table).ok
    key = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="verify-bucket",
                                                      Prefix="pre/")["Contents"] if "/data/" in o["Key"])[0]
    # moto answers GetObject of a multipart object with its composite SHA-256 but without AWS's
    # "-N" suffix, so a client that validates response checksums by default refuses the body
    reader = boto3.client("s3", config=Config(response_checksum_validation="when_required"))
    data = bytearray(reader.get_object(Bucket="verify-bucket", Key=key)["Body"].read())
    data[-10] ^= 0xFF
    s3.put_object(Bucket="verify-bucket", Key=key, Body=bytes(data))
    proc = run_cli("verify", result.url)
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert f"s3://verify-bucket/{key}" in proc.stderr


def test_against_table_passes_on_the_unchanged_table(local_backup, table):
    url, _ = local_backup
    report = verify_backup(url, against_table=table)
    assert report.ok, report.problem_lines()
    assert report.comparison.table_items == report.comparison.backup_items == 300


def test_against_missing_table_fails_before_reading(local_backup):
    url, _ = local_backup
    proc = run_cli("verify", url, "--against-table", "no-such-table")
    assert proc.returncode == ExitCode.NOT_FOUND
    assert "no-such-table" in proc.stderr


@pytest.fixture
def drifting(ddb, aws_env, tmp_path):
    """A table of its own (the test changes it) and a backup of it."""
    create_table(ddb, "drifting")
    items = fill_table(ddb, "drifting", 120, edge_cases=False, payload_bytes=50)
    yield backup_table("drifting", str(tmp_path), OPTIONS).url, items
    ddb.delete_table(TableName="drifting")


def _key(item: dict) -> dict:
    return {"pk": item["pk"], "sk": item["sk"]}


def test_against_table_names_changed_deleted_and_new_keys_and_attributes_only(drifting, ddb):
    url, items = drifting
    changed, deleted = _key(items[5]), _key(items[7])
    added = {"pk": {"S": "brand-new"}, "sk": {"N": "1"}}
    ddb.update_item(TableName="drifting", Key=changed, UpdateExpression="SET #n = :v",
                    ExpressionAttributeNames={"#n": "name"},
                    ExpressionAttributeValues={":v": {"S": "SECRET-NEW-VALUE"}})
    ddb.delete_item(TableName="drifting", Key=deleted)
    ddb.put_item(TableName="drifting", Item={**added, "note": {"S": "SECRET-ADDED"}})
    proc = run_cli("verify", url, "--against-table", "drifting", "--json")
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    comparison = json.loads(proc.stdout)["against_table"]
    found = {d["kind"]: d for d in comparison["differences"]}
    assert found["differs"] == {"kind": "differs", "key": changed, "attributes": ["name"]}
    assert found["missing_from_table"] == {"kind": "missing_from_table", "key": deleted, "attributes": []}
    assert found["only_in_table"] == {"kind": "only_in_table", "key": added, "attributes": []}
    assert (comparison["differing"], comparison["missing_from_table"], comparison["only_in_table"]) == (1, 1, 1)
    assert json.dumps(changed, separators=(",", ":"), ensure_ascii=False) in proc.stderr
    assert "differs in attributes: name" in proc.stderr
    assert json.dumps(deleted, separators=(",", ":"), ensure_ascii=False) in proc.stderr
    assert "brand-new" in proc.stderr
    for secret in ("SECRET", items[5]["name"]["S"]):  # the new values, and the old value of `name`
        assert secret not in proc.stdout and secret not in proc.stderr


def test_against_table_reports_at_most_max_differences(drifting, ddb):
    for sk in range(10, 20):
        ddb.put_item(TableName="drifting", Item={"pk": {"S": f"extra#{sk}"}, "sk": {"N": str(sk)}})
    report = verify_backup(drifting[0], against_table="drifting", max_differences=4)
    assert not report.ok
    assert report.comparison.only_in_table == 10 and len(report.comparison.differences) == 4
    assert "showing 4 of 10" in report.problem_lines()[-1]


def test_against_table_through_s3_via_the_cli(table, aws_env, s3):
    s3.create_bucket(Bucket="verify-bucket-2")
    result = backup_table(table, "s3://verify-bucket-2", OPTIONS)
    proc = run_cli("verify", result.url, "--against-table", table)
    assert proc.returncode == 0, proc.stderr
    assert f"table {table} matches (300 items)" in proc.stdout


def test_a_manifest_under_another_backup_id_is_refused_naming_both(local_backup):
    url, root = local_backup
    moved = root.parent / "20991231T000000Z-dddddd"
    shutil.copytree(root, moved)
    proc = run_cli("verify", str(moved))
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert (f"{moved / 'manifest.json'}: manifest backup_id {root.name!r} differs from the backup id "
            f"'20991231T000000Z-dddddd' in its path") in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["over the cap", "dev-zero link"])
def test_a_manifest_without_bound_fails_by_name_in_bounded_memory(local_backup, kind):
    from ddbvault.format.manifest import MANIFEST_MAX_BYTES

    url, root = local_backup
    manifest = root / "manifest.json"
    if kind == "over the cap":
        with open(manifest, "r+b") as stored:
            stored.truncate(MANIFEST_MAX_BYTES + 1)  # sparse: nothing on disk
        expected = f"{manifest}: manifest over {MANIFEST_MAX_BYTES:,} bytes"
    else:
        manifest.unlink()
        manifest.symlink_to("/dev/zero")
        expected = f"{manifest} is not a regular file"

    def cap() -> None:  # an unbounded read fails fast here instead of filling the machine
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    proc = subprocess.run([sys.executable, "-m", "ddbvault", "verify", url], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120, preexec_fn=cap)
    assert proc.returncode == ExitCode.INTEGRITY, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
