"""A service job with `tables:` on moto: selectors resolved at run time, one backup per table, one
run record and ONE notification per run, a failing table not stopping the others, and the RPO
check (`ddbvault status`) showing the job by its worst table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ddbvault.service import load_config, run_once
from tests.support.receivers import webhook_server
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
TABLES = {"mt-orders-a": 12, "mt-orders-b": 8, "mt-ledger": 5, "mt-other": 3}


@pytest.fixture(scope="module")
def tables(ddb):
    for name, count in TABLES.items():
        create_table(ddb, name)
        fill_table(ddb, name, count, edge_cases=False, payload_bytes=50)
    arn = ddb.describe_table(TableName="mt-ledger")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "backup", "Value": "daily"}])
    return ddb


def _config(path: Path, dest: Path, hook: str, selectors: str = "['mt-orders-*', 'tag:backup=daily']") -> Path:
    path.write_text(f"""
defaults:
  destination: "{dest}"
  read_rcu: 100000
  notifications: [{{type: webhook, "on": all, url: "{hook}/hook"}}]
jobs:
  - {{name: many, tables: {selectors}, cron: "0 3 * * *", rpo: 1h}}
""")
    return path


def _status(config: Path) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "status", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, json.loads(proc.stdout)


def test_a_tables_job_backs_up_each_match_and_notifies_once(tables, aws_env, tmp_path):
    dest = tmp_path / "b"
    dest.mkdir()
    with webhook_server({"/hook": 204}) as (base, requests):
        config = _config(tmp_path / "c.yaml", dest, base)
        code, before = _status(config)  # matched tables without a backup yet: out, not a crash
        assert code == 1 and before["jobs"][0]["within_rpo"] is False
        assert before["jobs"][0]["table"] == "mt-ledger"  # no table has a backup: the first is shown
        assert before["jobs"][0]["summary"].endswith("no backup yet")
        [record] = run_once(load_config(config))
    assert record.outcome == "success", record.error
    assert record.table == "mt-ledger, mt-orders-a, mt-orders-b" and record.items == 25
    assert [(t["table"], t["ok"], t["items"]) for t in record.tables] == \
           [("mt-ledger", True, 5), ("mt-orders-a", True, 12), ("mt-orders-b", True, 8)]
    assert sorted(p.name for p in dest.iterdir()) == ["mt-ledger", "mt-orders-a", "mt-orders-b"]
    assert [len(list((dest / t).glob("*/manifest.json"))) for t in sorted(p.name for p in dest.iterdir())] == [1, 1, 1]
    [sent] = requests  # one notification for the whole run
    event = sent["body"]["event"]
    assert (event["outcome"], event["items"]) == ("success", 25)
    assert [t["table"] for t in event["tables"]] == ["mt-ledger", "mt-orders-a", "mt-orders-b"]
    code, after = _status(config)
    assert code == 0 and after["jobs"][0]["within_rpo"] is True, after


def test_one_failing_table_fails_the_run_not_the_others(tables, aws_env, tmp_path):
    dest = tmp_path / "b"
    dest.mkdir()
    (dest / "mt-orders-a").write_text("a file where the table's folder would go")
    with webhook_server({"/hook": 204}) as (base, requests):
        config = _config(tmp_path / "c.yaml", dest, base)
        [record] = run_once(load_config(config))
    assert record.outcome == "failure"
    assert [(t["table"], t["ok"]) for t in record.tables] == \
           [("mt-ledger", True), ("mt-orders-a", False), ("mt-orders-b", True)]
    assert record.error.startswith("1 of 3 tables failed: mt-orders-a: ") and "Backed up: mt-ledger, mt-orders-b" in record.error
    assert list((dest / "mt-orders-b").glob("*/manifest.json"))
    [sent] = requests
    assert sent["body"]["event"]["outcome"] == "failure" and "mt-orders-a" in sent["body"]["text"]
    code, status = _status(config)  # the job shows its worst table: the one with no backup
    assert code == 1 and status["jobs"][0]["table"] == "mt-orders-a"
    assert status["jobs"][0]["summary"].endswith("no backup yet")


def test_no_match_is_a_failed_run_with_one_notification(tables, aws_env, tmp_path):
    with webhook_server({"/hook": 204}) as (base, requests):
        config = _config(tmp_path / "c.yaml", tmp_path / "b", base, "['nothing-*']")
        [record] = run_once(load_config(config))
    assert record.outcome == "failure" and "no table in us-east-1 matches 'nothing-*'" in record.error
    assert len(requests) == 1 and requests[0]["body"]["event"]["outcome"] == "failure"
    code, status = _status(config)
    assert code == 1 and "matches 'nothing-*'" in status["jobs"][0]["error"]


@pytest.mark.parametrize("job, needle", [
    ("{name: a, table: t1x, tables: ['x-*'], cron: '0 3 * * *'}", "exactly one of table"),
    ("{name: a, cron: '0 3 * * *'}", "exactly one of table"),
    ("{name: a, tables: [], cron: '0 3 * * *'}", "jobs.0.tables"),
    ("{name: a, tables: ['tag:backup'], cron: '0 3 * * *'}", "tag:KEY=VALUE"),
    ("{name: a, tables: ['orders/*'], cron: '0 3 * * *'}", "not a table name pattern"),
])
def test_bad_tables_configs_fail_clearly(tmp_path, job, needle):
    config = tmp_path / "bad.yaml"
    config.write_text(f"defaults: {{destination: /tmp/x}}\njobs: [{job}]\n")
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "invalid" in proc.stderr
