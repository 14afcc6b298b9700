"""Many tables on moto: selectors resolved with ListTables and ListTagsOfResource, one backup and
manifest per table, one failing table not stopping the others, the summary (text and --json) and
the exit codes, and `restore --from --tables --rename` round-tripped bit-exact."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson
import pytest

from ddbvault.aws.session import Principal
from ddbvault.backup import BackupOptions
from ddbvault.backup.many import backup_tables
from ddbvault.dynamodb.selectors import parse_rename, parse_selectors
from ddbvault.dynamodb.table_listing import resolve_tables
from ddbvault.errors import NotFoundError, UsageError
from ddbvault.restore import RestoreOptions
from ddbvault.restore.many import restore_tables
from tests.support.tables import by_key, create_table, fill_table, scan_all, wire

pytestmark = pytest.mark.integration
TABLES = {"orders-eu": 30, "orders-us": 20, "billing": 10, "audit-log": 5}
NO_CAP = BackupOptions(read_rcu=100000)


@pytest.fixture(scope="module")
def tables(ddb):
    """Four tables; billing carries the tag backup=daily, audit-log backup=weekly."""
    items = {}
    for name, count in TABLES.items():
        create_table(ddb, name)
        items[name] = fill_table(ddb, name, count)
    arn = lambda name: ddb.describe_table(TableName=name)["Table"]["TableArn"]  # noqa: E731
    ddb.tag_resource(ResourceArn=arn("billing"), Tags=[{"Key": "backup", "Value": "daily"}])
    ddb.tag_resource(ResourceArn=arn("audit-log"), Tags=[{"Key": "backup", "Value": "weekly"}])
    return items


@pytest.fixture(autouse=True)
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _resolve(*texts: str) -> list[str]:
    return resolve_tables(parse_selectors(texts), Principal())


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *argv], capture_output=True, text=True, timeout=180)


def test_selectors_are_a_sorted_union_of_globs_and_tags(tables):
    assert _resolve("orders-*") == ["orders-eu", "orders-us"]
    assert _resolve("tag:backup=daily") == ["billing"]
    assert _resolve("orders-*", "tag:backup=daily", "orders-eu", "*-us") == ["billing", "orders-eu", "orders-us"]
    assert _resolve("Orders-*", "tag:backup=weekly") == ["audit-log"]  # globs are case-sensitive
    assert _resolve("orders-??") == ["orders-eu", "orders-us"]


def test_no_match_is_not_found_naming_the_selectors(tables):
    with pytest.raises(NotFoundError) as caught:
        _resolve("payments-*", "tag:backup=hourly")
    assert "'payments-*', 'tag:backup=hourly'" in caught.value.message and caught.value.hint


def test_a_missing_bucket_fails_the_run_once_before_any_table(tables, tmp_path):
    # not one HeadBucket failure per matched table (300 tables: 300 identical errors)
    with pytest.raises(NotFoundError, match="bucket no-such-vault does not exist") as caught:
        backup_tables(parse_selectors(["orders-*", "billing"]), "s3://no-such-vault/p", NO_CAP)
    assert caught.value.hint
    done = _run("backup", "--tables", "orders-*", "--to", "s3://no-such-vault/p", "--json")
    assert done.returncode == 3 and orjson.loads(done.stdout)["error"] == "NotFoundError"
    assert "FAILED" not in done.stdout and "tables failed" not in done.stderr


def test_a_table_deleted_after_the_listing_fails_alone(tables, ddb, tmp_path):
    create_table(ddb, "orders-gone")
    fill_table(ddb, "orders-gone", 3)

    def progress(table: str):  # called just before each table's backup starts: delete one then
        if table == "orders-gone":
            ddb.delete_table(TableName="orders-gone")
        return None

    run = backup_tables(parse_selectors(["orders-*"]), str(tmp_path), NO_CAP, progress=progress)
    assert [(o.table, o.ok) for o in run.outcomes] == [("orders-eu", True), ("orders-gone", False), ("orders-us", True)]
    assert run.exit_code == 3 and run.failed[0].error["error"] == "AwsNotFoundError"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders-eu", "orders-us"]
    for outcome in run.succeeded:
        assert (tmp_path / outcome.table / outcome.result.backup_id / "manifest.json").is_file()


def test_cli_json_summary_and_exit_code_when_one_table_fails(tables, tmp_path):
    (tmp_path / "billing").write_text("a file where the table's folder would go")
    done = _run("backup", "--tables", "tag:backup=daily", "--tables", "orders-*", "--to", str(tmp_path),
                "--read-rcu", "100000", "--json")
    summary = orjson.loads(done.stdout)  # stdout holds the one JSON object only
    assert done.returncode == summary["exit_code"] != 0, done.stderr
    assert set(summary) == {"ok", "tables", "succeeded", "failed", "exit_code"}
    assert (summary["ok"], summary["succeeded"], summary["failed"]) == (False, 2, 1)
    assert [t["table"] for t in summary["tables"]] == ["billing", "orders-eu", "orders-us"]
    failed, *good = summary["tables"]
    assert failed["ok"] is False and {"error", "message", "hint", "exit_code"} <= set(failed)
    assert failed["exit_code"] == done.returncode
    for entry, name in zip(good, ["orders-eu", "orders-us"]):
        assert entry["ok"] is True and entry["items"] == TABLES[name]
        assert entry["url"].startswith(str(tmp_path / name) + "/") and "error" not in entry
    assert "1 of 3 tables failed: billing" in done.stderr


def test_cli_all_ok_exits_0_with_one_line_per_table(tables, tmp_path):
    done = _run("backup", "--tables", "orders-*", "--to", str(tmp_path), "--read-rcu", "100000")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:2]] == [["ok", "orders-eu:"], ["ok", "orders-us:"]]
    assert lines[-1] == "backed up 2 of 2 tables"


@pytest.mark.parametrize("argv, exit_code, words", [
    (["backup", "orders-eu", "--tables", "orders-*"], 2, "not both"),
    (["backup"], 2, "one of them"),
    (["backup", "--tables", ""], 2, "empty table selector"),
    (["backup", "--tables", "tag:backup"], 2, "tag:KEY=VALUE"),
    (["backup", "--tables", "orders/*"], 2, "not a table name pattern"),
    (["backup", "--tables", "nothing-*"], 3, "no table in us-east-1 matches 'nothing-*'"),
])
def test_cli_refusals(tables, tmp_path, argv, exit_code, words):
    done = _run(*argv, "--to", str(tmp_path), "--json")
    assert done.returncode == exit_code, done.stderr
    assert words in done.stderr and "Try: " in done.stderr
    assert orjson.loads(done.stdout)["exit_code"] == exit_code
    assert not list(tmp_path.iterdir())


def test_restore_with_rename_round_trips_bit_exact(tables, ddb, tmp_path):
    first = backup_tables(parse_selectors(["orders-*", "billing"]), str(tmp_path), NO_CAP)
    assert first.ok
    done = _run("restore", "--from", str(tmp_path), "--tables", "orders-*", "--rename", "orders-eu=dr-eu-orders",
                "--rename", "orders-*=dr-orders-*", "--json")
    assert done.returncode == 0, done.stderr
    summary = orjson.loads(done.stdout)
    assert [(t["table"], t["target"], t["ok"]) for t in summary["tables"]] == \
           [("orders-eu", "dr-eu-orders", True), ("orders-us", "dr-orders-us", True)]
    for source, target in [("orders-eu", "dr-eu-orders"), ("orders-us", "dr-orders-us")]:
        assert by_key(wire(scan_all(ddb, target))) == by_key(wire(tables[source]))
        assert summary["tables"][0 if source == "orders-eu" else 1]["backup"].startswith(str(tmp_path / source))


def test_restore_refusals_before_anything_is_written(tables, ddb, tmp_path):
    backup_tables(parse_selectors(["orders-*"]), str(tmp_path), NO_CAP)
    before = set(ddb.list_tables()["TableNames"])
    dest = str(tmp_path)
    with pytest.raises(UsageError, match="no --rename maps 'orders-us'"):
        restore_tables(dest, parse_selectors(["orders-*"]), (parse_rename("orders-eu=x-eu"),))
    with pytest.raises(UsageError, match="to 'one'"):
        restore_tables(dest, parse_selectors(["orders-*"]), (parse_rename("orders-*=one"),))
    with pytest.raises(UsageError, match="name patterns only"):
        restore_tables(dest, parse_selectors(["tag:backup=daily"]), (parse_rename("*=*"),))
    with pytest.raises(NotFoundError, match="backed up under"):
        restore_tables(dest, parse_selectors(["billing"]), (parse_rename("*=dr-*"),))
    with pytest.raises(UsageError, match="--checkpoint"):
        restore_tables(dest, parse_selectors(["orders-*"]), (parse_rename("*=dr2-*"),),
                       RestoreOptions(checkpoint=str(tmp_path / "c.jsonl")))
    with pytest.raises(UsageError, match="--resume carries on one interrupted restore") as refused:
        restore_tables(dest, parse_selectors(["orders-*"]), (parse_rename("*=dr2-*"),), RestoreOptions(resume=True))
    assert "--table NAME --resume" in refused.value.hint
    assert set(ddb.list_tables()["TableNames"]) == before
    done = _run("restore", "--from", dest, "--tables", "orders-*", "--rename", "*=dr3-*", "--resume")
    assert done.returncode == 2 and "Try: resume each table" in done.stderr
    done = _run("restore", "--from", dest, "--tables", "orders-*")
    assert done.returncode == 2 and "--rename" in done.stderr
    done = _run("restore", "s3://b/p/orders-eu/x", "--table", "t1", "--tables", "orders-*")
    assert done.returncode == 2 and "give one form" in done.stderr


def test_sigterm_stops_the_whole_run_with_exit_130(tables, ddb, tmp_path):
    create_table(ddb, "slow-a")
    fill_table(ddb, "slow-a", 300, edge_cases=False, payload_bytes=100)
    create_table(ddb, "slow-b")
    # --read-rcu 1: one small page a second, so slow-a is certainly mid-way when signalled
    proc = subprocess.Popen([sys.executable, "-m", "ddbvault", "backup", "--tables", "slow-*", "--to", str(tmp_path),
                             "--read-rcu", "1", "--no-progress", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    deadline = time.monotonic() + 60
    while not any(p.is_file() and "staging" in p.parts for p in tmp_path.rglob("*")):  # staged data
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    assert not list(tmp_path.rglob("manifest.json")) and not (tmp_path / "slow-b").exists()
    assert b'"succeeded"' not in stdout  # no summary claims anything
