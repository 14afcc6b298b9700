"""What an operator sees around plan / work / commit / --resume (docs/scale.md). Inputs they can get wrong, each
refused in one line with a Try: and the right exit code, before anything is written: a plan
whose workers outnumber its segments, a resume given options its plan fixed, a resume or commit
of a complete backup made without a plan; and a retried commit, which reports the backup unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddbvault.exit_codes import ExitCode
from tests.support.cli import run_cli
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "refusals")
    fill_table(ddb, "refusals", 40)
    return "refusals"


def refused(result, code: ExitCode, message: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(lines) == 2 and message in lines[0] and lines[1].startswith("Try: "), lines


@pytest.mark.parametrize("args", [
    ["plan", "refusals", "--parallelism", "10000", "--segments", "3"],   # each worker at 1/10,000 of the cap
    ["run", "refusals", "--processes", "4", "--parallelism", "4", "--segments", "2"],
])
def test_more_workers_than_segments_is_refused_before_the_plan(table, tmp_path, args):
    result = run_cli("backup", *args, "--to", str(tmp_path))
    refused(result, ExitCode.USAGE, "segments: each worker would read at 1/")
    assert not list(tmp_path.rglob("*"))


def test_processes_without_parallelism_run_no_more_workers_than_segments(table, tmp_path):
    result = run_cli("backup", table, "--to", str(tmp_path), "--processes", "4", "--segments", "2", "--json")
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    plan = json.loads(Path(done["url"], "plan.json").read_bytes())
    # the cap is shared among the 2 that can run, not the 4 processes asked for
    assert (plan["parallelism"], plan["segments"]) == (2, 2)
    assert plan["worker_read_rate_rcu_per_s"] == pytest.approx(plan["read_rate_rcu_per_s"] / 2)


@pytest.mark.parametrize("args, named", [
    (["--segments", "3"], "--segments"),
    (["--read-rcu", "5", "--compression", "zstd"], "--read-rcu, --compression"),
    (["--processes", "2", "--parallelism", "2"], "--parallelism"),
    (["--keep", "daily=1"], "--keep"),
])
def test_resume_refuses_what_the_plan_fixed(table, tmp_path, args, named):
    planned = run_cli("backup", "plan", table, "--to", str(tmp_path), "--segments", "2", "--json")
    url = json.loads(planned.stdout)["url"]
    result = run_cli("backup", "--resume", url, *args)
    refused(result, ExitCode.USAGE, f"{named}: the backup's plan fixed")
    assert sorted(p.name for p in Path(url).iterdir()) == ["plan.json"]  # nothing scanned, nothing written
    # what a resume may choose is still taken
    assert run_cli("backup", "--resume", url, "--workers", "2", "--no-progress").returncode == 0


def test_a_complete_backup_without_a_plan_is_not_sent_to_plan_first(table, tmp_path):
    done = run_cli("backup", table, "--to", str(tmp_path), "--schema-only", "--json")
    url = json.loads(done.stdout)["url"]
    before = sorted(p.relative_to(url).as_posix() for p in Path(url).rglob("*"))
    for args in (["--resume", url], ["commit", "--backup", url], ["work", "--backup", url]):
        result = run_cli("backup", *args)
        refused(result, ExitCode.USAGE, "is a complete backup that has no plan")
        assert f"Try: ddbvault verify {url}" in result.stderr
    assert sorted(p.relative_to(url).as_posix() for p in Path(url).rglob("*")) == before


def test_work_refusals_say_what_to_do(table, tmp_path):
    planned = run_cli("backup", "plan", table, "--to", str(tmp_path), "--segments", "2", "--json")
    url = json.loads(planned.stdout)["url"]
    refused(run_cli("backup", "work", "--backup", url, "--segment", "5"), ExitCode.USAGE, "segment 5 is out of range")
    refused(run_cli("backup", "work", "--backup", url, "--segment", "1", "--index", "0"), ExitCode.USAGE,
            "--segment and --index are exclusive")


def test_a_retried_commit_reports_the_committed_backup_unchanged(table, tmp_path):
    import time

    url = json.loads(run_cli("backup", "plan", table, "--to", str(tmp_path), "--segments", "2", "--json").stdout)["url"]
    assert run_cli("backup", "work", "--backup", url).returncode == 0
    first = run_cli("backup", "commit", "--backup", url, "--json")
    time.sleep(1.5)
    again = run_cli("backup", "commit", "--backup", url, "--json")
    assert first.returncode == again.returncode == 0, again.stderr
    # the duration is the backup's (plan to manifest), not the time since its plan: a retried
    # commit job changes nothing, and says so
    # (raw_bytes, the uncompressed size, is in the results, not the manifest: 0 when committed already)
    assert {**json.loads(again.stdout), "raw_bytes": None} == {**json.loads(first.stdout), "raw_bytes": None}
