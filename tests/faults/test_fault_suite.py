"""The standing fault suite: backup and restore through throttles, 5xx, resets, slow and lost
responses, 412 and 409, and kill -9 at random points followed by a rerun / `restore --resume`.

Each seed is one test; its assertion lists everything that went wrong, with the faults of each
attempt, and how to replay it. See docs/faults.md.
"""

from __future__ import annotations

import json
import random

import pytest

from tests.faults.harness import FaultRun
from tests.faults.schedule import FaultSchedule

pytestmark = pytest.mark.integration
RATE = 0.12  # share of requests that get a fault
KILL_RATE = 0.04  # lighter faults around a kill
FAULTY_ATTEMPTS = 3  # attempts under faults before a clean one
MULTIPART = ["--segments", "1", "--workers", "1", "--compression", "none", "--object-size", "64MiB",
             "--part-size", "5MiB"]  # one ~6 MB object in two parts; the manifest is the only PutObject
SMALL_OBJECTS = ["--segments", "1", "--workers", "1", "--compression", "none", "--object-size", "1MiB"]
KILL_OPTIONS = ["--segments", "3", "--workers", "2", "--compression", "none", "--object-size", "1MiB"]


def backup_options(rng: random.Random) -> list[str]:
    """Options that reach every write path: PutObject (small objects), multipart (one big
    object), several segments and workers."""
    return ["--segments", str(rng.choice([1, 1, 2, 3])), "--workers", str(rng.choice([1, 2])),
            "--compression", rng.choice(["none", "none", "gzip"]),
            "--object-size", rng.choice(["1MiB", "64MiB", "64MiB"]), "--part-size", "5MiB"]


def _run(name: str, seed: int, world, tmp_path) -> FaultRun:
    return FaultRun(name, seed, moto_url=world["moto_url"], proxy=world["proxy"], s3=world["s3"], ddb=world["ddb"],
                    bucket=world["bucket"], source_table=world["source_table"],
                    source_items=world["source_items"], workdir=tmp_path)


def _until_done(run: FaultRun, step, name: str, rate: float) -> str | None:
    """Attempts under faults, then one clean attempt; the stdout of the first that exits 0."""
    for i in range(FAULTY_ATTEMPTS):
        attempt = step(f"{name}-{i}", FaultSchedule(run.seed, f"{name}-{i}", rate=rate))
        if attempt.returncode == 0:
            return attempt.stdout
    attempt = step(f"{name}-clean", FaultSchedule(run.seed, f"{name}-clean", rate=0.0))
    if attempt.returncode == 0:
        return attempt.stdout
    run.problems.append(f"{name} failed even without faults — {attempt.describe()}")
    return None


def _verdict(run: FaultRun, replay: str = "") -> None:
    run.check_backups()
    run.finish()
    replay = "replay: " + (replay or f"DDBVAULT_FAULT_SEEDS={run.seed} pytest tests/faults/test_fault_suite.py "
                                     f"-k {run.name}")
    assert not run.problems, (f"{run.name} seed {run.seed} ({run.history()}):\n  " + "\n  ".join(run.problems)
                              + f"\n{replay}")


def _backup_then_restore(run: FaultRun, options: list[str], rate: float) -> None:
    out = _until_done(run, lambda phase, s: run.backup(phase, s, options), "backup", rate)
    if out is None:
        return
    url = json.loads(out)["url"]
    if _until_done(run, lambda phase, s: run.restore(phase, s, url), "restore", rate) is None:
        run.lose_everything()


def test_backup_and_restore_under_faults(seed, world, tmp_path):
    run = _run("under_faults", seed, world, tmp_path)
    _backup_then_restore(run, backup_options(random.Random(seed)), RATE)
    _verdict(run)


@pytest.fixture(scope="module")
def calibration(world, tmp_path_factory):
    """How many requests a clean backup and restore with KILL_OPTIONS make: the range of kill points."""
    run = _run("calibration", 0, world, tmp_path_factory.mktemp("calibration"))
    backup = FaultSchedule(0, "calibrate", rate=0.0)
    url = json.loads(run.backup("calibrate-backup", backup, KILL_OPTIONS).stdout)["url"]
    restore = FaultSchedule(0, "calibrate", rate=0.0)
    assert run.restore("calibrate-restore", restore, url).returncode == 0
    run.finish()
    assert not run.problems, run.problems
    return backup.requests_seen, restore.requests_seen


def test_kill_9_then_rerun_and_resume(seed, world, calibration, tmp_path):
    run, rng = _run("kill_9", seed, world, tmp_path), random.Random(seed)
    backup_requests, restore_requests = calibration
    killed = FaultSchedule(seed, "backup-kill", rate=KILL_RATE, kill_at=rng.randint(1, backup_requests))
    first = run.backup("backup-kill", killed, KILL_OPTIONS)
    out = first.stdout if first.returncode == 0 else _until_done(
        run, lambda phase, s: run.backup(phase, s, KILL_OPTIONS), "backup", KILL_RATE)
    if out is not None:
        url = json.loads(out)["url"]
        killed = FaultSchedule(seed, "restore-kill", rate=KILL_RATE, kill_at=rng.randint(1, restore_requests))
        if run.restore("restore-kill", killed, url).returncode != 0:
            # first as an operator who forgot --resume: refused, pointing at --resume, if the table exists
            plain = run.restore("restore-rerun", FaultSchedule(seed, "restore-rerun", rate=0.0), url, resume=False)
            if plain.returncode != 0 and _until_done(
                    run, lambda phase, s: run.restore(phase, s, url), "restore", KILL_RATE) is None:
                run.lose_everything()
    _verdict(run)


@pytest.mark.parametrize("op, kind, options", [
    *[("CompleteMultipartUpload", kind, MULTIPART) for kind in ("lost", "precondition", "conflict")],
    *[("PutObject", kind, SMALL_OBJECTS) for kind in ("lost", "precondition", "conflict")],
    ("PutObject", "lost", MULTIPART),  # the manifest's response is lost
], ids=lambda v: v if isinstance(v, str) else "multipart" if v is MULTIPART else "small-objects")
def test_one_fault_on_one_s3_write(op, kind, options, world, tmp_path):
    """The S3 write faults that decide exactly-once outcomes, each once whatever the seeds draw:
    a lost response, a 412 meeting the write's own success, a 409 — on a data object's PutObject,
    on a multipart object's CompleteMultipartUpload, and on the manifest. One fault on the first
    request of the operation, then reruns until a backup completes."""
    run = _run(f"single_{op}_{kind}_{'mp' if options is MULTIPART else 'small'}", 0, world, tmp_path)
    first = run.backup("backup-one-fault", FaultSchedule(0, "one-fault", rate=0.0, only=(op, kind)), options)
    assert first.schedule.injected[kind] == 1, f"{op} was never called"
    if first.returncode != 0:
        _until_done(run, lambda phase, s: run.backup(phase, s, options), "backup", 0.0)
    _verdict(run, f"pytest tests/faults/test_fault_suite.py -k 'one_fault and {op} and {kind}'")
