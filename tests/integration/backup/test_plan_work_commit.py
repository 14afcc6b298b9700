"""plan / work / commit (docs/scale.md) as separate processes: the commands an AWS Batch array job
or a Kubernetes Indexed Job runs, launched here as local processes with the index variables
set; concurrent attempts of the same segments; commit's refusals; the index's inputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddbvault.errors import InterruptedRun
from ddbvault.exit_codes import ExitCode
from ddbvault.restore import restore_backup
from ddbvault.verify import verify_backup
from tests.support.tables import canonical_items, create_table, fill_table, scan_all

pytestmark = pytest.mark.integration
ITEMS = 600


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "steps")
    fill_table(ddb, "steps", ITEMS, edge_cases=True, payload_bytes=300)
    return "steps"


@pytest.fixture(params=["local", "s3"])
def dest(request, tmp_path, s3) -> str:
    if request.param == "local":
        return str(tmp_path / "vault")
    bucket = f"steps-{tmp_path.name[-20:].lower().replace('_', '-')}"
    s3.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/prod"


def cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ddbvault", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def finished(proc: subprocess.Popen, timeout: float = 180) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def plan(table: str, dest: str, *extra: str) -> dict:
    code, out, err = finished(cli("backup", "plan", table, "--to", dest, "--read-rcu", "100000", "--json", *extra))
    assert code == 0, err
    return json.loads(out)


def assert_identical(url: str, table: str, ddb, restored: str) -> None:
    report = verify_backup(url)
    assert report.ok, report.problem_lines()
    restore_backup(url, restored)
    assert canonical_items(scan_all(ddb, restored)) == canonical_items(scan_all(ddb, table))


def data_keys(dest: str, url: str, s3) -> list[str]:
    """Every object under the backup's data/, as the store lists it."""
    if dest.startswith("s3://"):
        bucket, _, prefix = url[len("s3://"):].partition("/")
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/data/").get("Contents", [])
        return sorted(o["Key"][len(prefix) + 1:] for o in listed)
    return sorted(p.relative_to(url).as_posix() for p in Path(url, "data").iterdir())


def remove_object(dest: str, url: str, relative: str, s3) -> None:
    """Delete `relative` under the backup at `url` (a test stands in for a lifecycle rule)."""
    if dest.startswith("s3://"):
        bucket, _, prefix = url[len("s3://"):].partition("/")
        s3.delete_object(Bucket=bucket, Key=f"{prefix}/{relative}")
    else:
        Path(url, relative).unlink()


def test_an_array_of_indexed_workers_then_commit(table, dest, ddb, s3):
    planned = plan(table, dest, "--parallelism", "3", "--segments", "7")
    url = planned["url"]
    assert (planned["segments"], planned["parallelism"]) == (7, 3)
    assert planned["worker_read_rate_rcu_per_s"] == pytest.approx(100000 / 3)
    # Kubernetes sets JOB_COMPLETION_INDEX, AWS Batch AWS_BATCH_JOB_ARRAY_INDEX: both, at once
    workers = [cli("backup", "work", "--backup", url, "--json",
                   env={"JOB_COMPLETION_INDEX" if i % 2 else "AWS_BATCH_JOB_ARRAY_INDEX": str(i)})
               for i in range(3)]
    reports = []
    for proc in workers:
        code, out, err = finished(proc)
        assert code == 0, err
        reports.append(json.loads(out))
    # worker I scanned exactly the segments S with S % 3 == I, and won each
    assert [[s["segment"] for s in r["segments"]] for r in reports] == [[0, 3, 6], [1, 4], [2, 5]]
    assert all(s["outcome"] == "won" for r in reports for s in r["segments"])
    assert sum(r["items"] for r in reports) == ITEMS
    code, out, err = finished(cli("backup", "commit", "--backup", url, "--json"))
    assert code == 0, err
    result = json.loads(out)
    assert result["items"] == ITEMS and result["segments"] == 7 and result["parallelism"] == 3
    assert len(data_keys(dest, url, s3)) == result["objects"]  # nothing but the manifest's objects
    assert_identical(url, table, ddb, f"steps-array-{'s3' if dest.startswith('s3') else 'dir'}")
    assert result["raw_bytes"] > result["bytes"] > 0  # lines before compression, summed from the results
    # a second commit (a retried commit job) changes nothing and says the same, raw_bytes
    # included: summed from the segments' stored results, the ones the manifest was made from
    code, out, err = finished(cli("backup", "commit", "--backup", url, "--json"))
    assert code == 0, err
    again = json.loads(out)
    assert {k: v for k, v in again.items() if k != "seconds"} == {k: v for k, v in result.items() if k != "seconds"}
    # a result gone (a lifecycle rule, a hand): raw_bytes is unknown, null, never a made-up 0
    remove_object(dest, url, "segments/000003.json", s3)
    code, out, err = finished(cli("backup", "commit", "--backup", url, "--json"))
    assert code == 0, err
    unknown = json.loads(out)
    assert unknown["raw_bytes"] is None
    assert {k: v for k, v in unknown.items() if k not in ("seconds", "raw_bytes")} == \
        {k: v for k, v in result.items() if k not in ("seconds", "raw_bytes")}
    code, out, err = finished(cli("backup", "commit", "--backup", url))
    assert code == 0 and out.startswith(f"backed up {ITEMS:,} items of {table} to {url} ("), err


def test_concurrent_attempts_of_every_segment_leave_exactly_the_winners(table, dest, ddb, s3):
    url = plan(table, dest, "--segments", "4")["url"]
    # three workers on every segment at once (zombies, retries, a worker presumed dead)
    workers = [cli("backup", "work", "--backup", url, "--json", "--workers", "2") for _ in range(3)]
    outcomes: dict[int, list[str]] = {}
    for proc in workers:
        code, out, err = finished(proc)
        assert code == 0, err
        for segment in json.loads(out)["segments"]:
            outcomes.setdefault(segment["segment"], []).append(segment["outcome"])
    assert sorted(outcomes) == [0, 1, 2, 3]
    for segment, seen in outcomes.items():
        assert seen.count("won") == 1, (segment, seen)  # exactly one result per segment
        assert set(seen) <= {"won", "lost", "done"}
    code, out, err = finished(cli("backup", "commit", "--backup", url, "--json"))
    assert code == 0, err
    manifest_objects = json.loads(out)["objects"]
    keys = data_keys(dest, url, s3)
    assert len(keys) == manifest_objects  # nothing but the winners' objects under data/
    if dest.startswith("s3://"):
        bucket = url[len("s3://"):].split("/")[0]
        assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")  # losers aborted theirs
    else:
        assert not [p for p in Path(url, "staging").rglob("*") if p.is_file()]  # losers removed theirs
    assert_identical(url, table, ddb, f"steps-zombies-{'s3' if dest.startswith('s3') else 'dir'}")


def test_a_process_reuses_one_context_for_its_tasks_of_one_backup(table, dest, ddb, s3):
    """An executor's process (pool child, Dask worker) runs task after task: it opens the plan,
    sessions, clients and read pace once per backup, not once per segment (executors/task.py);
    a failed task drops its context, and another backup's task replaces the idle ones."""
    import threading

    from ddbvault.backup.commit import commit_backup
    from ddbvault.backup.executors import task
    from ddbvault.backup.work import WorkOptions

    url = plan(table, dest, "--segments", "4", "--parallelism", "2")["url"]
    options, built = WorkOptions(threads=1), task.built
    done = [task.run_segment(url, s, options, threading.Event()) for s in range(3)]
    assert task.built == built + 1  # one context for the three tasks
    assert [d.segment for d in done] == [0, 1, 2] and all(d.items > 0 for d in done)
    pace = task._idle[-1].pace
    assert pace.limiter.rate == 50000  # the plan's worker rate: the cap shared by 2
    stopped = threading.Event()
    stopped.set()
    with pytest.raises(InterruptedRun):
        task.run_segment(url, 3, options, stopped)  # cancelled: raises, drops its context
    assert not task._idle
    task.run_segment(url, 3, options, threading.Event())
    assert task.built == built + 2 and task._idle[-1].pace is not pace
    other = plan(table, dest, "--segments", "1")["url"]
    task.run_segment(other, 0, options, threading.Event())
    assert task.built == built + 3 and [c.key[0] for c in task._idle] == [other]
    assert commit_backup(url).items == ITEMS
    assert_identical(url, table, ddb, f"steps-reuse-{'s3' if dest.startswith('s3') else 'dir'}")


def test_commit_names_the_segments_without_a_result(table, tmp_path):
    url = plan(table, str(tmp_path), "--segments", "5", "--parallelism", "5")["url"]
    code, _, err = finished(cli("backup", "work", "--backup", url, "--index", "2"))
    assert code == 0, err
    code, out, err = finished(cli("backup", "commit", "--backup", url))
    assert code == ExitCode.INTEGRITY and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0].endswith("4 of 5 segments have no result (0, 1, 3, 4); no manifest written")
    assert lines[1] == f"Try: ddbvault backup --resume {url}"
    assert not list(Path(url).glob("manifest.json"))
    # --resume runs exactly the four missing segments, then commits
    code, out, err = finished(cli("backup", "--resume", url, "--json"))
    assert code == 0, err
    manifest = json.loads(Path(url, "manifest.json").read_bytes())
    assert [s["attempts"] for s in manifest["segments"]] == [1, 1, 1, 1, 1]
    assert json.loads(out)["items"] == ITEMS


@pytest.mark.parametrize("env, args, code, message", [
    ({"JOB_COMPLETION_INDEX": "1", "AWS_BATCH_JOB_ARRAY_INDEX": "2"}, [], ExitCode.USAGE, "both set, to different"),
    ({"JOB_COMPLETION_INDEX": "-1"}, [], ExitCode.USAGE, "JOB_COMPLETION_INDEX must be a non-negative integer"),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "1e3"}, [], ExitCode.USAGE, "must be a non-negative integer"),
    ({"JOB_COMPLETION_INDEX": "2"}, [], ExitCode.USAGE, "index 2 is out of range: the plan has 2 workers"),
    ({}, ["--segment", "9"], ExitCode.USAGE, "segment 9 is out of range: the plan has 4 segments"),
    ({}, ["--segment", "1", "--index", "0"], ExitCode.USAGE, "--segment and --index are exclusive"),
])
def test_hostile_indexes_are_refused_before_any_scan(table, tmp_path, env, args, code, message):
    url = plan(table, str(tmp_path), "--segments", "4", "--parallelism", "2")["url"]
    got, out, err = finished(cli("backup", "work", "--backup", url, *args, env=env))
    assert got == code and message in err and "Traceback" not in err, err
    assert not list(Path(url).glob("attempts/*")) and not list(Path(url).glob("segments/*"))


def test_work_and_commit_without_a_plan_say_to_plan_first(tmp_path):
    url = str(tmp_path / "steps" / "20261201T000000Z-abcdef")
    for step in ("work", "commit"):
        code, _, err = finished(cli("backup", step, "--backup", url))
        assert code == ExitCode.NOT_FOUND, err
        assert "has no plan" in err and "Try: plan the backup first" in err and "Traceback" not in err
