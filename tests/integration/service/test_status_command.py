"""`ddbvault status`: every job's RPO from its destination, as a table or JSON, exit 0 only when
every job is within. Real moto_server (tables, one S3 bucket) and real backups whose ids set
their age."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.exit_codes import ExitCode
from ddbvault.format.layout import new_backup_id
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
OPTIONS = BackupOptions(segments=1, read_rcu=100000)
BUCKET = "status-vault"


def run_status(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", "status", "--config", str(config), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=120)


def _back_up(table: str, dest: str, hours_ago: float) -> str:
    start = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return backup_table(table, dest, replace(OPTIONS, backup_id=new_backup_id(start))).url


@pytest.fixture(scope="module")
def vault(ddb, s3, tmp_path_factory) -> dict:
    """st-fresh backed up 1 h ago to a directory and to S3, st-late 30 h ago; st-never has none."""
    for name in ("st-fresh", "st-late", "st-never"):
        create_table(ddb, name)
        fill_table(ddb, name, 20, edge_cases=False, payload_bytes=20)
    s3.create_bucket(Bucket=BUCKET)
    local = tmp_path_factory.mktemp("status-vault")
    return {"dir": local, "fresh": _back_up("st-fresh", str(local), 1),
            "fresh_s3": _back_up("st-fresh", f"s3://{BUCKET}/prod", 1),
            "late": _back_up("st-late", str(local), 30)}


def _config(tmp_path: Path, vault: dict, *jobs: str) -> Path:
    body = {
        "fresh": "{name: fresh, table: st-fresh, cron: '0 3 * * *', rpo: 26h, timezone: Europe/Paris}",
        "fresh-s3": f"{{name: fresh-s3, table: st-fresh, interval_seconds: 3600, destination: 's3://{BUCKET}/prod'}}",
        "late": "{name: late, table: st-late, cron: '0 3 * * *', rpo: 26h}",
        "never": "{name: never, table: st-never, cron: '0 3 * * *', rpo: 26h}",
        "unlisted": "{name: unlisted, table: st-fresh, cron: '0 3 * * *', destination: 's3://no-such-status-bucket/x'}",
    }
    path = tmp_path / "ddbvault.yaml"
    path.write_text(f"defaults: {{destination: '{vault['dir']}'}}\njobs:\n"
                    + "".join(f"  - {body[job]}\n" for job in jobs))
    return path


def test_every_job_within_its_rpo_exits_0_with_a_table(vault, tmp_path):
    proc = run_status(_config(tmp_path, vault, "fresh", "fresh-s3"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    rows = {line.split()[0]: line for line in proc.stdout.splitlines() if line.strip().startswith("fresh")}
    assert set(rows) == {"fresh", "fresh-s3"}
    # 26h as configured; 2h: twice the one-hour interval, the default
    name, rpo, age = rows["fresh"].split()[1:4]
    assert (name, rpo) == ("st-fresh", "26h") and re.fullmatch(r"6\dm", age)  # an hour and the seconds since
    assert f"  {_in_paris(vault['fresh'])}  " in rows["fresh"]  # the job's time zone
    assert " within " in rows["fresh"] and rows["fresh"].rstrip().endswith(vault["fresh"])
    assert rows["fresh-s3"].split()[1:3] == ["st-fresh", "2h"] and "UTC" in rows["fresh-s3"]
    assert rows["fresh-s3"].rstrip().endswith(vault["fresh_s3"])
    assert "2 of 2 jobs within their RPO" in proc.stdout


def _in_paris(url: str) -> str:
    """The start time of the backup at `url` (from its id) as the table shows it in Europe/Paris."""
    stamp = datetime.strptime(url.rsplit("/", 1)[1][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return stamp.astimezone(ZoneInfo("Europe/Paris")).strftime("%Y-%m-%d %H:%M %Z")


def test_a_job_out_of_rpo_no_backup_or_unlisted_exits_1_saying_which(vault, tmp_path):
    proc = run_status(_config(tmp_path, vault, "fresh", "late", "never", "unlisted"))
    assert proc.returncode == ExitCode.FAILURE, proc.stderr
    assert proc.stderr.splitlines() == ["ddbvault: error: out of RPO: late, never, unlisted"]
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()
            if line.split() and line.split()[0] in ("fresh", "late", "never", "unlisted")}
    assert rows["late"].split()[1:4] == ["st-late", "26h", "30h"] and " OUT " in rows["late"]
    assert rows["late"].rstrip().endswith(vault["late"])
    assert "no backup yet" in rows["never"] and " OUT " in rows["never"]
    assert " unknown " in rows["unlisted"] and "cannot list the destination" in rows["unlisted"]
    assert "no-such-status-bucket" in rows["unlisted"]
    assert "1 of 4 jobs within their RPO" in proc.stdout


def test_json_is_the_only_thing_on_stdout_with_each_jobs_protection(vault, tmp_path):
    proc = run_status(_config(tmp_path, vault, "fresh", "late", "never", "unlisted"), "--json")
    assert proc.returncode == ExitCode.FAILURE
    report = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert report["ok"] is False
    jobs = {job["job"]: job for job in report["jobs"]}
    assert list(jobs) == ["fresh", "late", "never", "unlisted"]  # config order
    assert set(jobs["fresh"]) == {"job", "table", "within_rpo", "rpo_seconds", "age_seconds", "last_good_at",
                                  "last_good_url", "checked_at", "error", "summary"}
    assert jobs["fresh"]["within_rpo"] is True and jobs["fresh"]["last_good_url"] == vault["fresh"]
    assert 3500 < jobs["fresh"]["age_seconds"] < 3900 and jobs["fresh"]["rpo_seconds"] == 26 * 3600
    assert jobs["late"]["within_rpo"] is False and 30 * 3600 - 60 < jobs["late"]["age_seconds"] < 30 * 3600 + 300
    assert jobs["never"]["last_good_url"] is None and jobs["never"]["summary"] == "out of RPO 26h: no backup yet"
    assert jobs["unlisted"]["within_rpo"] is False and "no-such-status-bucket" in jobs["unlisted"]["error"]
    assert jobs["unlisted"]["rpo_seconds"] == 2 * 86400  # the default: twice the daily period
    assert "out of RPO: late, never, unlisted" in proc.stderr

    proc = run_status(_config(tmp_path, vault, "fresh", "late"), "--json", "--job", "fresh")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True and [j["job"] for j in json.loads(proc.stdout)["jobs"]] == ["fresh"]


def test_job_is_repeatable_and_checks_each_named_job_in_config_order(vault, tmp_path):
    proc = run_status(_config(tmp_path, vault, "fresh", "late", "never"), "--json", "--job", "late", "--job", "fresh")
    assert proc.returncode == ExitCode.FAILURE
    assert [j["job"] for j in json.loads(proc.stdout)["jobs"]] == ["fresh", "late"]
    assert "out of RPO: late\n" in proc.stderr


def test_an_unknown_job_or_a_bad_config_exits_2_as_json_too(vault, tmp_path):
    config = _config(tmp_path, vault, "fresh")
    proc = run_status(config, "--job", "fresh", "--job", "nosuch", "--json")
    assert proc.returncode == ExitCode.USAGE
    assert json.loads(proc.stdout)["error"] == "UsageError" and "nosuch" in proc.stderr
    config.write_text(config.read_text().replace("rpo: 26h", "rpo: soon"))
    proc = run_status(config)
    assert proc.returncode == ExitCode.USAGE and proc.stdout == ""
    assert "jobs.0.rpo" in proc.stderr and "soon" in proc.stderr and "Try:" in proc.stderr


def test_a_backup_from_the_future_never_counts_as_within(ddb, tmp_path):
    """A complete backup whose id is a year ahead (a writer's clock gone wrong) would read "0s old"
    for ever: it is not good, so the job has no backup yet and status exits 1."""
    create_table(ddb, "st-future")
    fill_table(ddb, "st-future", 5, edge_cases=False, payload_bytes=20)
    url = _back_up("st-future", str(tmp_path / "vault"), -24 * 365)
    config = tmp_path / "ddbvault.yaml"
    config.write_text(f"jobs:\n  - {{name: future, table: st-future, cron: '0 3 * * *', rpo: 26h, "
                      f"destination: '{tmp_path / 'vault'}'}}\n")
    proc = run_status(config, "--json")
    assert proc.returncode == 1, proc.stderr
    [job] = json.loads(proc.stdout)["jobs"]
    assert job["within_rpo"] is False and job["last_good_url"] is None, url
    assert job["summary"] == "out of RPO 26h: no backup yet"
