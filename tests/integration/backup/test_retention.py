"""Retention under a keep policy, against moto_server: the tier chosen per calendar period, the
tier tag on every object at write time (GetObjectTagging), the manifest's tier and expiry,
Object Lock retention in an Object-Lock bucket, `list`'s expiry, and that nothing is deleted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.exit_codes import ExitCode
from ddbvault.format.manifest import Manifest
from ddbvault.format.retention import parse_keep
from ddbvault.storage.local import LocalStore
from ddbvault.vault.listing import list_backups, tier_history
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
KEEP = parse_keep("daily=7,weekly=5,monthly=12,yearly=2")
# Small objects and parts, so that one backup writes both multipart and single-PutObject objects.
OPTIONS = BackupOptions(segments=2, read_rcu=100000, keep=KEEP)


# What a backup of two segments holds (docs/scale.md): the plan, one attempt record and one result
# per segment, one data object per segment here, and the manifest.
EVERY_OBJECT_OF_TWO_SEGMENTS = ["attempts/000000-*", "attempts/000001-*", "data/000000-0000.json.gz",
                                "data/000001-0000.json.gz", "manifest.json", "plan.json",
                                "segments/000000.json", "segments/000001.json"]


def _shape(keys: list[str]) -> list[str]:
    """The keys below the backup root, attempt ids replaced by *."""
    below = [key.split("/", 3)[3] for key in keys]
    return sorted(k.split("-")[0] + "-*" if k.startswith("attempts/") else k for k in below)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "kept")
    fill_table(ddb, "kept", 40, edge_cases=False, payload_bytes=50)
    return "kept"


@pytest.fixture(scope="module")
def bucket(s3):
    s3.create_bucket(Bucket="retention")
    return "retention"


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]


def _tags(s3, bucket: str, key: str) -> dict:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_tiers_follow_calendar_periods_and_tag_every_object(s3, table, bucket):
    dest = f"s3://{bucket}/tiers"
    # Thu 2026-01-01: the first backups of that day fill its periods' slots from the top:
    # yearly, monthly, weekly (ISO week 2026-W01), daily.
    days = [utc(2026, 1, 1, 2), utc(2026, 1, 1, 3), utc(2026, 1, 1, 4), utc(2026, 1, 1, 5),
            utc(2026, 1, 1, 6),  # every slot taken: the lowest tier, daily
            utc(2026, 1, 2, 2),  # Fri: same week, same month -> daily
            utc(2026, 1, 5, 2),  # Mon: a new ISO week -> weekly
            utc(2026, 2, 3, 2)]  # a new month -> monthly
    results = [backup_table(table, dest, replace(OPTIONS, now=now)) for now in days]
    assert [r.tier for r in results] == ["yearly", "monthly", "weekly", "daily", "daily", "daily",
                                         "weekly", "monthly"]
    first = results[0]
    assert first.expires_at == "2028-01-03T02:00:00Z"  # yearly=2: 2 x 366 days
    assert results[3].expires_at == "2026-01-08T05:00:00Z"  # daily=7
    assert first.backup_id.startswith("20260101T020000Z-")  # the id follows the injected time
    for result in results:
        keys = _keys(s3, bucket, f"tiers/{table}/{result.backup_id}/")
        assert _shape(keys) == EVERY_OBJECT_OF_TWO_SEGMENTS
        for key in keys:
            assert _tags(s3, bucket, key) == {"ddbvault-tier": result.tier}, key
        body = s3.get_object(Bucket=bucket, Key=f"tiers/{table}/{result.backup_id}/manifest.json")["Body"].read()
        manifest = Manifest.from_json(body)
        assert manifest.format_version == "1.4"  # retention (1.2) and the segments' record (1.4)
        assert manifest.retention.tier == result.tier
        assert manifest.retention.expires_at == result.expires_at
        assert manifest.retention.policy == {"daily": 7, "weekly": 5, "monthly": 12, "yearly": 2}


def test_multipart_objects_carry_the_tag(s3, ddb, bucket):
    create_table(ddb, "kept-big")
    fill_table(ddb, "kept-big", 400, edge_cases=False, payload_bytes=30_000)  # ~12 MB > one 5 MiB part
    result = backup_table("kept-big", f"s3://{bucket}/big", replace(
        OPTIONS, segments=1, workers=1, compression="none", part_size=5 * 1024 * 1024,
        keep=parse_keep("weekly=4"), now=utc(2026, 3, 4)))
    key = f"big/kept-big/{result.backup_id}/data/"
    data = _keys(s3, bucket, key)
    assert len(data) == 1
    head = s3.head_object(Bucket=bucket, Key=data[0])
    assert head["ETag"].strip('"').endswith("-3")  # three parts: a multipart upload
    assert _tags(s3, bucket, data[0]) == {"ddbvault-tier": "weekly"}


def test_no_policy_means_no_tags_and_no_retention(s3, table, bucket):
    result = backup_table(table, f"s3://{bucket}/plain", replace(OPTIONS, keep=None))
    assert result.tier is None and result.expires_at is None
    for key in _keys(s3, bucket, f"plain/{table}/{result.backup_id}/"):
        assert _tags(s3, bucket, key) == {}
    body = s3.get_object(Bucket=bucket, Key=f"plain/{table}/{result.backup_id}/manifest.json")["Body"].read()
    assert json.loads(body)["format_version"] == "1.4" and "retention" not in json.loads(body)


def test_tags_sent_with_the_write_never_afterwards(aws_env, table, bucket, monkeypatch):
    """Every object-creating request carries the tag, and If-None-Match still; no
    PutObjectTagging, PutObjectRetention or DeleteObject request is ever sent."""
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        backup_table(table, f"s3://{bucket}/recorded", replace(OPTIONS, now=utc(2026, 5, 5)))
    puts = [(path, headers) for method, path, headers in proxy.requests
            if method == "PUT" and "recorded/" in path and "partNumber=" not in path]
    # the plan, two attempts, two segment results and the manifest, each one PutObject
    assert len(puts) == 6
    for path, headers in puts:
        assert headers.get("x-amz-tagging") == "ddbvault-tier=yearly", path
        assert headers.get("if-none-match") == "*", path
    # the two data objects: staged as multipart uploads, completed create-only by the winner
    creates = [(path, headers) for method, path, headers in proxy.requests
               if method == "POST" and "recorded/" in path and path.endswith("?uploads")]
    completes = [(path, headers) for method, path, headers in proxy.requests
                 if method == "POST" and "recorded/" in path and "uploadId=" in path]
    assert len(creates) == len(completes) == 2
    assert all(headers.get("x-amz-tagging") == "ddbvault-tier=yearly" for _, headers in creates)
    assert all(headers.get("if-none-match") == "*" for _, headers in completes)
    queries = [urlsplit(path).query for method, path, _ in proxy.requests if method in ("PUT", "POST")]
    assert not any("tagging" in query or "retention" in query for query in queries)
    assert not any(method == "DELETE" for method, _, _ in proxy.requests)


def test_object_lock_bucket_gets_retention_until_expiry(s3, table):
    s3.create_bucket(Bucket="locked", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="locked", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    now = datetime.now(timezone.utc).replace(microsecond=0)
    result = backup_table(table, "s3://locked/p", replace(OPTIONS, keep=parse_keep("daily=3"), now=now))
    assert result.object_lock_mode == "COMPLIANCE"
    keys = _keys(s3, "locked", f"p/{table}/{result.backup_id}/")
    assert _shape(keys) == EVERY_OBJECT_OF_TWO_SEGMENTS
    for key in keys:  # HeadObject: moto 5.1.22 answers GetObjectRetention with a 500
        if "/data/" in key:
            # Data objects are multipart uploads (docs/scale.md): moto 5.1.22 ignores the Object
            # Lock headers of CreateMultipartUpload (AWS applies them: API_CreateMultipartUpload);
            # radosgw keeps them (tests/integration/storage/test_real_s3_radosgw.py).
            continue
        head = s3.head_object(Bucket="locked", Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"] == now + timedelta(days=3)
        assert _tags(s3, "locked", key) == {"ddbvault-tier": "daily"}


def test_object_lock_without_default_mode_uses_governance(s3, table):
    s3.create_bucket(Bucket="locked-plain", ObjectLockEnabledForBucket=True)
    result = backup_table(table, "s3://locked-plain", replace(OPTIONS, keep=parse_keep("monthly=1"),
                                                              now=datetime.now(timezone.utc)))
    assert result.object_lock_mode == "GOVERNANCE"
    key = f"{table}/{result.backup_id}/manifest.json"
    assert s3.head_object(Bucket="locked-plain", Key=key)["ObjectLockMode"] == "GOVERNANCE"


def test_list_shows_tier_and_expiry(s3, table, bucket):
    dest = f"s3://{bucket}/listed"
    old = backup_table(table, dest, replace(OPTIONS, keep=parse_keep("daily=2"), now=utc(2020, 6, 1)))
    new = backup_table(table, dest, replace(OPTIONS, keep=parse_keep("daily=2"),
                                            now=datetime.now(timezone.utc)))
    plain = backup_table(table, dest, replace(OPTIONS, keep=None))
    entries = {e.backup_id: e for e in list_backups(dest)}
    assert (entries[old.backup_id].tier, entries[old.backup_id].expires_at) == ("daily", "2020-06-03T00:00:00Z")
    assert entries[old.backup_id].expired is True
    assert entries[new.backup_id].expired is False and entries[new.backup_id].tier == "daily"
    assert (entries[plain.backup_id].tier, entries[plain.backup_id].expires_at) == (None, None)
    listed = run_cli("list", dest, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["backup_id"]: r for r in json.loads(listed.stdout)}
    assert rows[old.backup_id]["expires_at"] == "2020-06-03T00:00:00Z" and rows[old.backup_id]["expired"]
    assert rows[plain.backup_id]["tier"] is None and rows[plain.backup_id]["expires_at"] is None
    text = run_cli("list", dest)
    assert "TIER" in text.stdout.splitlines()[0] and "EXPIRES" in text.stdout.splitlines()[0]
    assert any(old.backup_id in line and "expired 2020-06-03T00:00:00Z" in line for line in text.stdout.splitlines())


def test_cli_keep_and_malformed_policy(table, bucket, tmp_path):
    done = run_cli("backup", table, "--to", f"s3://{bucket}/cli", "--keep", "daily=7,weekly=5",
                   "--read-rcu", "100000", "--json", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tier"] == "weekly"
    for bad, why in (("daily=x", "'daily=x' is not TIER=COUNT"), ("hourly=3", "unknown tier 'hourly'"),
                     ("daily=1,daily=2", "given twice"), ("daily=0", "keeps nothing")):
        failed = run_cli("backup", table, "--to", str(tmp_path), "--keep", bad)
        assert failed.returncode == ExitCode.USAGE, failed.stderr
        assert why in failed.stderr and "Try: write the policy as TIER=COUNT" in failed.stderr
        assert "Traceback" not in failed.stderr


def test_local_directory_records_tier_and_deletes_nothing(table, tmp_path):
    first = backup_table(table, str(tmp_path), replace(OPTIONS, keep=parse_keep("daily=1"), now=utc(2021, 1, 1)))
    backup_table(table, str(tmp_path), replace(OPTIONS, keep=parse_keep("daily=1"), now=utc(2021, 1, 9)))
    entries = list_backups(str(tmp_path))
    assert len(entries) == 2 and all(e.expired for e in entries)  # expired, still there
    assert (tmp_path / table / first.backup_id / "manifest.json").is_file()


def test_verify_and_restore_of_an_expired_backup_name_what_is_gone(s3, table, bucket):
    """What the lifecycle rule leaves of an expired backup: data objects go up to a day before
    the manifest. verify and restore then fail naming the missing object."""
    result = backup_table(table, f"s3://{bucket}/gone", replace(OPTIONS, keep=parse_keep("daily=1"), now=utc(2021, 3, 1)))
    data = _keys(s3, bucket, f"gone/{table}/{result.backup_id}/data/")
    s3.delete_object(Bucket=bucket, Key=data[0])  # as the tier's lifecycle rule would
    listed = {e.backup_id: e for e in list_backups(f"s3://{bucket}/gone")}
    assert listed[result.backup_id].expired
    verified = run_cli("verify", result.url)
    assert verified.returncode != 0 and "Traceback" not in verified.stderr
    assert f"data object s3://{bucket}/{data[0]} is missing; the backup expired at 2021-03-02T00:00:00Z " \
           "(tier daily): its lifecycle rule removes its objects" in verified.stdout + verified.stderr
    restored = run_cli("restore", result.url, "--table", "kept-restored", "--no-progress")
    assert restored.returncode == ExitCode.NOT_FOUND, restored.stderr
    assert f"s3://{bucket}/{data[0]}" in restored.stderr and "Traceback" not in restored.stderr
    assert "the backup expired at 2021-03-02T00:00:00Z (tier daily)" in restored.stderr
    assert "Try: use a backup that has not expired" in restored.stderr
    s3.delete_object(Bucket=bucket, Key=f"gone/{table}/{result.backup_id}/manifest.json")
    opened = run_cli("verify", result.url)
    assert opened.returncode == ExitCode.INTEGRITY and "it has no manifest" in opened.stderr


def test_a_schema_only_backup_takes_no_slot(table, tmp_path):
    keep = parse_keep("daily=7,monthly=3")
    schema = backup_table(table, str(tmp_path), replace(OPTIONS, keep=keep, schema_only=True, now=utc(2026, 8, 1, 1)))
    data = backup_table(table, str(tmp_path), replace(OPTIONS, keep=keep, now=utc(2026, 8, 1, 2)))
    assert (schema.tier, data.tier) == ("monthly", "monthly")
    assert backup_table(table, str(tmp_path), replace(OPTIONS, keep=keep, now=utc(2026, 8, 1, 3))).tier == "daily"


def test_another_tables_backup_copied_under_this_one_takes_no_slot(table, tmp_path):
    first = backup_table(table, str(tmp_path), replace(OPTIONS, keep=parse_keep("monthly=3"), now=utc(2026, 9, 1, 1)))
    shutil.copytree(tmp_path / table / first.backup_id, tmp_path / "elsewhere" / first.backup_id)
    store, since = LocalStore(str(tmp_path)), utc(2026, 9, 1)
    assert tier_history(store, "", table, since) == [("monthly", utc(2026, 9, 1, 1))]
    assert tier_history(store, "", "elsewhere", since) == []  # it is no backup of "elsewhere"
