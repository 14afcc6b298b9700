"""A hostile plan.json or segments/S.json in a real backup prefix (a local directory, and S3 on
moto_server) stops `backup work`, `backup commit` and `backup --resume` with exit 6
(INTEGRITY): one error line and a `Try:` line, no traceback, no value of the document, and no
manifest. The parsers themselves: tests/unit/format/test_plan.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ddbvault.exit_codes import ExitCode
from tests.support.cli import run_cli
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
TABLE = "hostile-docs"
BUCKET = "hostile-docs"
SECRET = "SECRET-7f3a-value"


@pytest.fixture(scope="module")
def table(ddb, s3):
    create_table(ddb, TABLE)
    fill_table(ddb, TABLE, 30, edge_cases=False)
    s3.create_bucket(Bucket=BUCKET)
    return TABLE


class Prefix:
    """Reads and writes a backup's documents behind the tool's back, as an attacker would."""

    def __init__(self, url: str, s3=None):
        self.url, self.s3 = url, s3

    def _where(self, name: str) -> tuple[str, str]:
        bucket, _, root = self.url.removeprefix("s3://").partition("/")
        return bucket, f"{root}/{name}"

    def read(self, name: str) -> dict:
        if self.s3 is None:
            return json.loads((Path(self.url) / name).read_bytes())
        bucket, key = self._where(name)
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def write(self, name: str, body: dict) -> None:
        data = json.dumps(body).encode()
        if self.s3 is None:
            path = Path(self.url) / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            path.write_bytes(data)
            return
        bucket, key = self._where(name)
        self.s3.put_object(Bucket=bucket, Key=key, Body=data)

    def has_manifest(self) -> bool:
        if self.s3 is None:
            return (Path(self.url) / "manifest.json").exists()
        bucket, key = self._where("manifest.json")
        return self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0


@pytest.fixture(params=["local", "s3"])
def planned(request, table, s3, tmp_path) -> Prefix:
    """A planned backup of 2 segments whose segment 0 has its (genuine) result."""
    dest = str(tmp_path) if request.param == "local" else f"s3://{BUCKET}/{request.node.name}"
    proc = run_cli("backup", "plan", table, "--to", dest, "--segments", "2", "--read-rcu", "1000", "--json")
    assert proc.returncode == 0, proc.stderr
    prefix = Prefix(json.loads(proc.stdout)["url"], s3 if request.param == "s3" else None)
    proc = run_cli("backup", "work", "--backup", prefix.url, "--segment", "0")
    assert proc.returncode == 0, proc.stderr
    return prefix


def _refused_with_integrity(proc, *named: str) -> None:
    assert proc.returncode == int(ExitCode.INTEGRITY), proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("ddbvault: error: ") and lines[1].startswith("Try: "), proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout
    for name in named:
        assert name in lines[0], lines[0]


def _commands(url: str) -> list[tuple[str, ...]]:
    return [("backup", "work", "--backup", url), ("backup", "commit", "--backup", url),
            ("backup", "--resume", url, "--no-progress")]


@pytest.mark.parametrize("change, named", [
    # each worker at the whole cap: two workers would read twice what the plan claims
    (lambda plan: plan.update(parallelism=2, worker_read_rate_rcu_per_s=plan["read_rate_rcu_per_s"]),
     "worker_read_rate_rcu_per_s"),
    (lambda plan: plan.update(segments=SECRET), "segments"),
    (lambda plan: plan.update(retention={"tier": SECRET, "expires_at": "2030-01-01T00:00:00Z"}), "retention.tier"),
])
def test_a_hostile_plan_stops_work_commit_and_resume(planned, change, named):
    plan = planned.read("plan.json")
    change(plan)
    planned.write("plan.json", plan)
    for command in _commands(planned.url):
        _refused_with_integrity(run_cli(*command), "plan.json", named)
    assert not planned.has_manifest()


def test_a_plan_of_another_backup_is_refused(planned):
    plan = planned.read("plan.json")
    plan["backup_id"] = "20200101T000000Z-000000"
    planned.write("plan.json", plan)
    for command in _commands(planned.url):
        _refused_with_integrity(run_cli(*command), "plan.json", "another backup")
    assert not planned.has_manifest()


def _as_segment_1(result: dict) -> dict:
    """Segment 0's result renamed, key by key, as segment 1's."""
    for obj in result["objects"]:
        obj["key"] = obj["key"].replace("/000000-", "/000001-")
        if "staged" in obj["completion"]:
            obj["completion"]["staged"] = obj["completion"]["staged"].replace("/000000-", "/000001-")
    result["segment"] = 1
    return result


@pytest.mark.parametrize("change, named", [
    # segment 0's genuine result, put down as segment 1's: it names another segment
    (lambda result: None, "another backup or segment"),
    # ... claimed for segment 1, with its objects pointing out of the backup
    (lambda result: result.update(segment=1, objects=[
        {**o, "key": f"../{SECRET}/{n}"} for n, o in enumerate(result["objects"])]), "objects.0.key"),
    # ... as segment 1's own in every name, but claiming one item more than its objects hold
    (lambda result: _as_segment_1(result).update(items=result["items"] + 1), "items"),
])
def test_a_hostile_segment_result_stops_commit_and_resume(planned, change, named):
    result = planned.read("segments/000000.json")
    assert result["objects"], "segment 0 wrote no object: the table is too small for the test"
    change(result)
    planned.write("segments/000001.json", result)
    for command in _commands(planned.url)[1:]:  # work skips a segment that has a result: it never reads it
        _refused_with_integrity(run_cli(*command), "segments/000001.json", named)
    assert not planned.has_manifest()
