"""Schema-only backups and restores on moto: the manifest alone, no Scan, and a table created
with every saved setting and no item; the refusals and the CLI's exit codes and --json."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.demo import create_demo_table, load_items
from ddbvault.devtools.sample_data import sample_item
from ddbvault.errors import UsageError
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.vault.listing import format_rows, list_backups
from ddbvault.verify import verify_backup
from tests.support.tables import scan_all

pytestmark = pytest.mark.integration
ITEMS = 50


@pytest.fixture(scope="module")
def dest(ddb, tmp_path_factory):
    """The demo table (GSI, LSI, TTL, tags, stream; PROVISIONED) with items, and one schema-only
    and one full backup of it."""
    create_demo_table(ddb, "shape")
    load_items(ddb, "shape", [sample_item(i, payload_bytes=100) for i in range(ITEMS)])
    return tmp_path_factory.mktemp("backups")


@pytest.fixture(scope="module")
def schema_backup(dest, aws_env):
    return backup_table("shape", str(dest), BackupOptions(schema_only=True))


@pytest.fixture(scope="module")
def full_backup(dest, aws_env):
    return backup_table("shape", str(dest), BackupOptions(read_rcu=100000))


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *argv], capture_output=True, text=True, timeout=120)


def test_schema_only_backup_writes_the_manifest_alone(schema_backup, dest):
    assert (schema_backup.schema_only, schema_backup.items, schema_backup.objects, schema_backup.consumed_rcu) == \
           (True, 0, 0, 0.0)
    root = dest / "shape" / schema_backup.backup_id
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["manifest.json"]  # no data/
    body = orjson.loads((root / "manifest.json").read_bytes())
    assert body["format_version"] == "1.1" and body["options"] == {"schema_only": True}
    assert body["objects"] == [] and body["totals"] == {"items": 0, "bytes": 0, "objects": 0}
    assert body["consumed_capacity"]["read_capacity_units"] == 0  # no Scan
    saved = body["schema"]
    assert [i["IndexName"] for i in saved["GlobalSecondaryIndexes"]] == ["by-name"]
    assert [i["IndexName"] for i in saved["LocalSecondaryIndexes"]] == ["pk-name"]


def _settings(ddb, table: str) -> dict:
    """What a restore must carry over, without what names the table itself."""
    t = ddb.describe_table(TableName=table)["Table"]
    shape = lambda indexes: sorted((i["IndexName"], json.dumps(i["KeySchema"]), json.dumps(i["Projection"]))
                                   for i in indexes)
    return {"key": t["KeySchema"], "attributes": sorted(t["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "throughput": (t["ProvisionedThroughput"]["ReadCapacityUnits"],
                           t["ProvisionedThroughput"]["WriteCapacityUnits"]),
            "gsi": shape(t["GlobalSecondaryIndexes"]), "lsi": shape(t["LocalSecondaryIndexes"]),
            "stream": t.get("StreamSpecification"),
            "ttl": ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"],
            "tags": sorted(ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"], key=lambda x: x["Key"])}


@pytest.mark.parametrize("which", ["schema_backup", "full_backup"])
def test_schema_only_restore_creates_every_setting_and_no_item(which, request, ddb, aws_env):
    backup = request.getfixturevalue(which)
    target = f"shape-{which.split('_')[0]}"
    result = restore_backup(backup.url, target, RestoreOptions(schema_only=True))
    assert (result.schema_only, result.items, result.written, result.consumed_wcu) == (True, 0, 0, 0.0)
    assert _settings(ddb, target) == _settings(ddb, "shape")
    assert _settings(ddb, target)["ttl"]["TimeToLiveStatus"] == "ENABLED"
    assert scan_all(ddb, target) == []


def test_schema_only_backup_is_refused_as_a_data_restore(schema_backup, ddb, aws_env):
    with pytest.raises(UsageError, match="schema-only backup") as info:
        restore_backup(schema_backup.url, "never-made", RestoreOptions())
    assert "--schema-only" in info.value.hint
    assert "never-made" not in ddb.list_tables()["TableNames"]
    proc = _run("restore", schema_backup.url, "--table", "never-made")
    assert proc.returncode == 2 and "schema-only backup" in proc.stderr and "Try: add --schema-only" in proc.stderr
    assert "Traceback" not in proc.stderr and "never-made" not in ddb.list_tables()["TableNames"]


@pytest.mark.parametrize("extra", [["--no-create"], ["--resume"], ["--via", "import"], ["--allow-non-empty"]])
def test_schema_only_with_a_data_option_is_a_usage_error(schema_backup, extra, aws_env):
    proc = _run("restore", schema_backup.url, "--table", "x", "--schema-only", *extra, "--json")
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stdout)
    assert error["error"] == "UsageError" and "--schema-only" in error["message"]


def test_cli_json_of_schema_only_backup_and_restore(dest, ddb, aws_env):
    proc = _run("backup", "shape", "--to", str(dest), "--schema-only", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["schema_only"], out["items"], out["objects"], out["consumed_rcu"]) == (True, 0, 0, 0.0)
    proc = _run("restore", out["url"], "--table", "shape-cli", "--schema-only", "--json")
    assert proc.returncode == 0, proc.stderr
    restored = json.loads(proc.stdout)
    assert (restored["schema_only"], restored["items"], restored["table"]) == (True, 0, "shape-cli")
    assert scan_all(ddb, "shape-cli") == [] and _settings(ddb, "shape-cli") == _settings(ddb, "shape")
    proc = _run("restore", out["url"], "--table", "shape-cli", "--schema-only")  # exists already
    assert proc.returncode == 2 and "already exists" in proc.stderr and "--no-create" not in proc.stderr


def test_list_and_verify_show_a_schema_only_backup(schema_backup, full_backup, dest, aws_env):
    entries = {e.backup_id: e for e in list_backups(str(dest), table="shape")}
    entry = entries[schema_backup.backup_id]
    assert (entry.status, entry.items, entry.objects, entry.schema_only) == ("complete", 0, 0, True)
    assert entries[full_backup.backup_id].schema_only is False
    assert any(schema_backup.backup_id in row and "complete (schema-only)" in row
               for row in format_rows(list(entries.values())))
    report = verify_backup(schema_backup.url, against_table="shape")
    assert report.ok and report.schema_only and report.comparison is None
    assert "schema-only" in report.summary() and any("not compared" in n for n in report.notes)
    proc = _run("verify", schema_backup.url, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["schema_only"] is True
    listed = _run("list", str(dest), "--table", "shape", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["backup_id"]: r for r in json.loads(listed.stdout)}
    assert rows[schema_backup.backup_id]["schema_only"] is True


def test_schema_only_backup_with_a_stray_data_object_fails_verify(schema_backup, dest, aws_env, tmp_path):
    import shutil
    copy = tmp_path / "shape" / schema_backup.backup_id
    shutil.copytree(dest / "shape" / schema_backup.backup_id, copy)
    (copy / "data").mkdir()
    (copy / "data" / "000000-0000.json.gz").write_bytes(b"x")
    report = verify_backup(str(copy))
    assert not report.ok and any("not in the manifest" in p for p in report.problems)
