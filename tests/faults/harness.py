"""The fault suite's runner: the ddbvault CLI under a seeded fault schedule, and its verdicts.

One `FaultRun` drives `ddbvault backup` and `ddbvault restore` as subprocesses (the real CLI,
exactly as a user runs it), with DynamoDB and S3 reached through one fault-injecting proxy in
front of moto_server (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3) and everything else
(STS) direct. After each attempt it judges what a user would see:

- exit code and stderr: one of the documented exit codes (exit_codes.py, never 1), exactly one
  `ddbvault: error: …` line on failure, otherwise only `Try: …` and log lines, no traceback;
- no false integrity failure: transport faults never make a run exit 6 (corrupt backup,
  refusing to overwrite, counts that do not add up): nothing here is corrupt or pre-existing;
- backups: a failed backup leaves no manifest (a false failure otherwise), and every manifest
  under the run's prefix holds exactly the source table's items, bit-exact (else false-complete);
- retries: an exit-0 backup reports at least as many throttle / transient retries as were
  injected into it (every retry counts, botocore's own included);
- multipart uploads: every upload whose UploadId reached a process that then exited (not one
  killed with SIGKILL) is completed or aborted (ListMultipartUploads);
- restores: an exit-0 restore leaves a table equal to the source, every attribute bit-exact; a
  failed one that leaves the table behind says how to carry on (its message names --resume).

`Totals` sums the verdicts of every run in the session; tests/faults/conftest.py prints them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ddbvault.format.codec import item_to_wire
from ddbvault.exit_codes import ExitCode
from ddbvault.devtools.local_servers import local_aws_env
from ddbvault.storage.s3 import S3Store
from ddbvault.verify.table_diff import canonical_bytes
from tests.faults.schedule import FaultSchedule
from tests.support.tables import key_of, read_backup
from tests.support.throttle_proxy import ThrottleProxy

DOCUMENTED_EXITS = {int(code) for code in ExitCode} - {int(ExitCode.FAILURE)}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (WARNING|ERROR|CRITICAL) [\w.]+: ")
ATTEMPT_TIMEOUT_S = 180


@dataclass
class Totals:
    runs: int = 0
    attempts: int = 0
    kills: int = 0
    faults: Counter = field(default_factory=Counter)
    exits: Counter = field(default_factory=Counter)
    items_lost: int = 0
    false_complete: int = 0
    false_failed: int = 0
    false_integrity: int = 0
    unclassified: int = 0
    open_uploads: int = 0
    orphaned_by_fault: int = 0  # uploads whose CreateMultipartUpload response the proxy withheld
    retries_undercounted: int = 0
    hint_without_resume: int = 0
    failed_seeds: list = field(default_factory=list)

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        exits = ", ".join(f"{k}: {v}" for k, v in sorted(self.exits.items(), key=str))
        return (f"fault suite: {self.runs} runs, {self.attempts} CLI runs (exits {exits}), {self.kills} kill -9; "
                f"faults injected: {faults}. items lost = {self.items_lost}, false-complete backups = "
                f"{self.false_complete}, failed backups that left a manifest = {self.false_failed}, "
                f"exit 6 from transport faults = {self.false_integrity}, "
                f"unclassified exits/messages = {self.unclassified}, multipart uploads left open = "
                f"{self.open_uploads} (+{self.orphaned_by_fault} orphaned by withheld responses), "
                f"retry counts below injected = {self.retries_undercounted}, failed restores whose hint "
                f"lacks --resume = {self.hint_without_resume}; failing seeds: "
                f"{', '.join(map(str, self.failed_seeds)) or 'none'}")

    def to_dict(self) -> dict:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}


TOTALS = Totals()


@dataclass
class Attempt:
    phase: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    schedule: FaultSchedule
    killed: bool

    def describe(self) -> str:
        tail = " | ".join(self.stderr.strip().splitlines()[-3:])
        return (f"{self.phase}: exit {self.returncode}; faults {self.schedule.log or 'none'}; "
                f"stderr: {tail[:600]}")


def classify(attempt: Attempt) -> str | None:
    """None if what the user saw is one of the documented outcomes, else what is wrong."""
    if "Traceback" in attempt.stderr or "Traceback" in attempt.stdout:
        return "a traceback"
    if attempt.killed:
        return None if attempt.returncode == -signal.SIGKILL else f"exit {attempt.returncode} after kill -9"
    if attempt.returncode not in DOCUMENTED_EXITS:
        return f"undocumented exit {attempt.returncode}"
    lines = attempt.stderr.splitlines()
    errors = [line for line in lines if line.startswith("ddbvault: error: ")]
    others = [line for line in lines if not (line.startswith(("ddbvault: error: ", "Try: ")) or LOG_LINE.match(line))]
    if others:
        return f"unexpected stderr lines {others[:3]}"
    if attempt.returncode != 0 and len(errors) != 1:
        return f"{len(errors)} error lines on exit {attempt.returncode}"
    if attempt.returncode == 0 and errors:
        return "an error line on exit 0"
    return None


class FaultRun:
    """One seed's run: its own S3 prefix, restore target and checkpoint directory."""

    def __init__(self, name: str, seed: int, *, moto_url: str, proxy: ThrottleProxy, s3, ddb, bucket: str,
                 source_table: str, source_items: dict, workdir: Path):
        self.name, self.seed, self.moto_url, self.proxy, self.s3, self.ddb = name, seed, moto_url, proxy, s3, ddb
        self.bucket, self.source_table, self.source_items = bucket, source_table, source_items
        self.prefix = f"{name}-{seed}"
        self.target = f"restored-{name}-{seed}"
        self.workdir = workdir
        self.attempts: list[Attempt] = []
        self.problems: list[str] = []
        self.env = {k: v for k, v in os.environ.items()
                    if not (k.startswith("AWS_") or k == "XDG_CACHE_HOME")}
        self.env.update(local_aws_env(moto_url), AWS_ENDPOINT_URL_DYNAMODB=proxy.url,
                        AWS_ENDPOINT_URL_S3=proxy.url, XDG_CACHE_HOME=str(workdir / "cache"))
        TOTALS.runs += 1

    # --- running the CLI ---------------------------------------------------------------------

    def cli(self, phase: str, args: list[str], schedule: FaultSchedule) -> Attempt:
        argv = [sys.executable, "-m", "ddbvault", *args]
        uploads_before = set(self.proxy.uploads)
        self.proxy.faults = schedule
        proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.proxy.kill_pid = proc.pid
        try:
            stdout, stderr = proc.communicate(timeout=ATTEMPT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            stderr += f"\n(hung: killed by the fault suite after {ATTEMPT_TIMEOUT_S}s)"
        finally:
            self.proxy.faults, self.proxy.kill_pid = None, None
        attempt = Attempt(phase, argv, proc.returncode, stdout, stderr, schedule,
                          killed=schedule.injected["kill"] > 0)
        self.attempts.append(attempt)
        TOTALS.attempts += 1
        TOTALS.kills += attempt.killed
        TOTALS.faults.update(schedule.injected)
        TOTALS.exits["kill -9" if attempt.killed else attempt.returncode] += 1
        problem = classify(attempt)
        if problem:
            self._problem("unclassified", f"{problem} — {attempt.describe()}")
        if attempt.returncode == ExitCode.INTEGRITY:
            self._problem("false_integrity", f"exit 6 from transport faults alone — {attempt.describe()}")
        if not attempt.killed:
            self._check_uploads(attempt, set(self.proxy.uploads) - uploads_before)
        return attempt

    def backup(self, phase: str, schedule: FaultSchedule, options: list[str]) -> Attempt:
        before = self.manifests()
        attempt = self.cli(phase, ["backup", self.source_table, "--to", f"s3://{self.bucket}/{self.prefix}",
                                   "--json", "--no-progress", "--read-rcu", "100000", *options], schedule)
        new = self.manifests() - before
        if attempt.returncode == 0:
            url = json.loads(attempt.stdout)["url"]
            root = url.removeprefix(f"s3://{self.bucket}/")
            if f"{root}/manifest.json" not in new:
                self._problem("false_complete", f"exit 0 but no new manifest at {url} — {attempt.describe()}")
            else:
                self._check_retry_counts(attempt, f"{root}/manifest.json")
        elif new and not attempt.killed:
            self._problem("false_failed", f"exit {attempt.returncode} but it wrote {sorted(new)} — "
                                          f"{attempt.describe()}")
        return attempt

    def restore(self, phase: str, schedule: FaultSchedule, backup_url: str, *, resume: bool | None = None) -> Attempt:
        """`resume=None`: as an operator does after a failure when the table exists: --resume when
        a checkpoint exists, else --no-create (no item was written before the checkpoint was)."""
        flags = []
        if resume or (resume is None and self.table_exists()):
            flags = ["--resume"] if resume or self.has_checkpoint() else ["--no-create"]
        attempt = self.cli(phase, ["restore", backup_url, "--table", self.target, "--json", "--no-progress",
                                   "--write-wcu", "100000", *flags], schedule)
        if attempt.returncode == 0:
            self.check_restored()
        elif not attempt.killed and self.table_exists() and not (
                "--resume" in attempt.stderr or ("--no-create" in attempt.stderr and not self.has_checkpoint())):
            self._problem("hint_without_resume", f"a failed restore left {self.target} behind and its message "
                                                 f"does not point at --resume (or, with no checkpoint yet, at "
                                                 f"--no-create) — {attempt.describe()}")
        return attempt

    def has_checkpoint(self) -> bool:
        """Whether a restore into the target left a checkpoint (checkpoint.default_path)."""
        return any((Path(self.env["XDG_CACHE_HOME"]) / "ddbvault" / "restore").glob(f"{self.target}--*.jsonl"))

    # --- verdicts ----------------------------------------------------------------------------

    def manifests(self) -> set[str]:
        keys, args = set(), {"Bucket": self.bucket, "Prefix": f"{self.prefix}/"}
        while True:
            page = self.s3.list_objects_v2(**args)
            keys |= {o["Key"] for o in page.get("Contents", []) if o["Key"].endswith("/manifest.json")}
            if not page.get("IsTruncated"):
                return keys
            args["ContinuationToken"] = page["NextContinuationToken"]

    def check_backups(self) -> None:
        """Every manifest under the run's prefix: its data proven (sha256, sizes, counts) and
        equal to the source table, item for item."""
        store = S3Store(self.s3, self.bucket)
        for key in sorted(self.manifests()):
            root = key.removesuffix("/manifest.json")
            try:
                _, items = read_backup(store, root)
            except Exception as exc:  # a manifest whose data does not prove out (AssertionError included)
                self._problem("false_complete", f"{root}: {type(exc).__name__}: {exc}")
                continue
            lost, extra, differ = self._compare({key_of(i): canonical_bytes(i) for i in items})
            if lost or extra or differ or len(items) != len(self.source_items):
                self._problem("false_complete", f"{root}: {lost} items missing, {extra} extra, {differ} "
                                                f"differ, {len(items)} lines for {len(self.source_items)} items")

    def check_restored(self) -> None:
        """After an exit-0 restore: the table holds the source's items, each bit-exact."""
        lost, differ, extra = self._restored_vs_source()
        if lost or differ or extra:
            TOTALS.items_lost += lost + differ
            self._problem(None, f"restore reported success: {lost} items missing, {differ} differ, "
                                f"{extra} extra in {self.target} — {self.attempts[-1].describe()}")

    def lose_everything(self) -> None:
        """No restore succeeded, not even without faults: what the table lacks is lost."""
        lost, differ, _ = self._restored_vs_source() if self.table_exists() else (len(self.source_items), 0, 0)
        TOTALS.items_lost += lost + differ
        self._problem(None, f"no restore succeeded: {lost} items missing, {differ} differ")

    def _restored_vs_source(self) -> tuple[int, int, int]:
        found: dict = {}
        args = {"TableName": self.target, "ConsistentRead": True}
        while True:
            page = self.ddb.scan(**args)
            for item in page["Items"]:
                wire = item_to_wire(item)
                found[key_of(wire)] = canonical_bytes(wire)
            if "LastEvaluatedKey" not in page:
                break
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        lost, extra, differ = self._compare(found)
        return lost, differ, extra

    def _compare(self, found: dict) -> tuple[int, int, int]:
        lost = sum(1 for k in self.source_items if k not in found)
        extra = sum(1 for k in found if k not in self.source_items)
        differ = sum(1 for k, v in found.items() if k in self.source_items and self.source_items[k] != v)
        return lost, extra, differ

    def _awaiting_commit(self) -> set[str]:
        """Upload ids named by the segment results (segments/*.json) in the bucket."""
        ids: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                if "/segments/" in obj["Key"]:
                    result = json.loads(self.s3.get_object(Bucket=self.bucket, Key=obj["Key"])["Body"].read())
                    ids |= {o["completion"]["upload_id"] for o in result["objects"] if "upload_id" in o["completion"]}
        return ids

    def _check_uploads(self, attempt: Attempt, created: set[str]) -> None:
        if not created:
            return
        listed = self.s3.list_multipart_uploads(Bucket=self.bucket)
        # An upload a segment's winning result names is not left open: it is the segment's data,
        # which commit (`backup --resume`) completes (docs/scale.md). Any other is a leak.
        still_open = {u["UploadId"] for u in listed.get("Uploads", [])} & created - self._awaiting_commit()
        orphaned = {u for u in still_open if not self.proxy.uploads.get(u)}
        TOTALS.orphaned_by_fault += len(orphaned)
        if still_open - orphaned:
            self._problem("open_uploads", f"{len(still_open - orphaned)} multipart uploads left open — "
                                          f"{attempt.describe()}", count=len(still_open - orphaned))

    def _check_retry_counts(self, attempt: Attempt, manifest_key: str) -> None:
        """What `--json` reports (every retry of the run, the manifest's own write included), and
        never less than what the manifest recorded before that write."""
        manifest = json.loads(self.s3.get_object(Bucket=self.bucket, Key=manifest_key)["Body"].read())
        capacity = manifest.get("consumed_capacity", {})
        result = json.loads(attempt.stdout)
        reported = {"throttle": result.get("throttle_retries", 0), "transient": result.get("transient_retries", 0)}
        for kind, recorded in (("throttle", capacity.get("throttle_retries", 0)),
                               ("transient", capacity.get("transient_retries", 0))):
            if recorded > reported[kind]:
                self._problem("retries_undercounted", f"--json reports {reported[kind]} {kind} retries, fewer "
                                                      f"than the manifest's {recorded} — {attempt.describe()}")
        expected = attempt.schedule.expected_retries()
        short = {k: (reported[k], n) for k, n in expected.items() if reported[k] < n}
        if short:
            self._problem("retries_undercounted", "retries reported vs injected: " + ", ".join(
                f"{k} {r} < {n}" for k, (r, n) in short.items()) + f" — {attempt.describe()}")

    def table_exists(self) -> bool:
        return self.target in self.ddb.list_tables()["TableNames"]

    def _problem(self, total: str | None, text: str, count: int = 1) -> None:
        if total:
            setattr(TOTALS, total, getattr(TOTALS, total) + count)
        self.problems.append(text)

    def history(self) -> str:
        return ", ".join(f"{a.phase} {'kill -9' if a.killed else f'exit {a.returncode}'}" for a in self.attempts)

    def finish(self) -> None:
        """Record the seed's verdict, then free moto's memory (~40 MB a seed, which a soak of
        hundreds of seeds would pile up): the suite's own clean-up, after every check."""
        if self.table_exists():
            self.ddb.delete_table(TableName=self.target)
        for upload in self.s3.list_multipart_uploads(Bucket=self.bucket, Prefix=f"{self.prefix}/").get("Uploads", []):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/"):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})
        if self.problems:
            TOTALS.failed_seeds.append(f"{self.name}:{self.seed}")
