"""The commands `ddbvault iam --runner` puts into the AWS Batch stack and the Kubernetes Jobs
really back up a table: taken verbatim from the generated documents, with only what the runner
itself would fill in (Batch's `Ref::NAME` parameters, Kubernetes' `$(BACKUP_ID)`), and run as
local processes against moto (DynamoDB and S3):

plan, then P `work` processes at once, each with AWS_BATCH_JOB_ARRAY_INDEX (resp.
JOB_COMPLETION_INDEX) = 0..P-1, then commit; the backup then verifies (`ddbvault verify`) and
restores into a new table holding exactly the items, every attribute compared.

Also as the runners retry: a commit before every index ran fails with exit 6 naming the missing
segments, and a second attempt of an index that already succeeded, then of the missing index,
completes the backup.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from ddbvault.format.layout import new_backup_id
from ddbvault.iac import make_inputs
from ddbvault.iac.batch import batch_template
from ddbvault.iac.kubernetes import kubernetes_documents
from tests.support.cli import run_cli
from tests.support.tables import canonical_items, create_table, fill_table, scan_all, wire

pytestmark = pytest.mark.integration
BUCKET, TABLE, P = "runner-vault", "runner-src", 3
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"


@pytest.fixture(scope="module")
def source(aws_env, ddb, s3):
    s3.create_bucket(Bucket=BUCKET)
    create_table(ddb, TABLE)
    return wire(fill_table(ddb, TABLE, 240, payload_bytes=300))


def iam_inputs(runner: str):
    extra = {"image": "registry.example/ddbvault:1", "oidc_provider": OIDC} if runner == "kubernetes" else {}
    return make_inputs(tables=[TABLE], prod_account="123456789012", data_account="210987654321",
                       bucket=BUCKET, region="us-east-1", prefix="prod", runner=runner, parallelism=P, **extra)


def batch_steps(backup_id: str) -> tuple[dict, str]:
    """Step -> argv of the Batch job definitions, with the submit sequence's parameters filled in
    as Batch does (a whole-argument Ref::NAME), and the index variable."""
    template = batch_template(iam_inputs("batch"))
    url = f"s3://{BUCKET}/prod/{TABLE}/{backup_id}"
    values = {"table": TABLE, "backup_id": backup_id, "parallelism": str(P), "backup": url}
    steps = {}
    for step in ("plan", "work", "commit"):
        command = template["Resources"][f"{step.capitalize()}JobDefinition"]["Properties"]["ContainerProperties"]["Command"]
        steps[step] = [values[arg[5:]] if isinstance(arg, str) and arg.startswith("Ref::") else arg for arg in command]
    assert f"size=${{Parallelism}}" in template["Outputs"]["SubmitCommands"]["Value"]["Fn::Sub"]
    return steps, "AWS_BATCH_JOB_ARRAY_INDEX"


def kubernetes_steps(backup_id: str) -> tuple[dict, str]:
    """Step -> argv of the Jobs' containers, $(VAR) expanded from the container's env as the
    kubelet does, with BACKUP_ID set as the documented `kubectl set env` sets it."""
    docs = kubernetes_documents(iam_inputs("kubernetes"))
    steps = {}
    for step in ("plan", "work", "commit"):
        (container,) = docs[f"kubernetes-{step}-{TABLE}"]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container["env"]} | {"BACKUP_ID": backup_id}
        expand = lambda arg: re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), arg)
        assert container["command"] == ["ddbvault"]
        steps[step] = [expand(arg) for arg in container["args"]]
    assert docs[f"kubernetes-work-{TABLE}"]["spec"]["completions"] == P
    return steps, "JOB_COMPLETION_INDEX"


def start_worker(argv: list, variable: str, index: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_BATCH_JOB_ARRAY_INDEX", "JOB_COMPLETION_INDEX")}
    return subprocess.Popen([sys.executable, "-m", "ddbvault", *argv], env={**env, variable: str(index)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out


def restored_identical(ddb, url: str, copy: str, source: list[dict]) -> None:
    verified = run_cli("verify", url, timeout=300)
    assert verified.returncode == 0, verified.stderr[-3000:]
    restored = run_cli("restore", url, "--table", copy, timeout=300)
    assert restored.returncode == 0, restored.stderr[-3000:]
    assert canonical_items(wire(scan_all(ddb, copy))) == canonical_items(source)


@pytest.mark.parametrize("steps_of", [batch_steps, kubernetes_steps], ids=["batch", "kubernetes"])
def test_generated_commands_back_up_and_restore_identical(steps_of, source, ddb):
    backup_id = new_backup_id()
    steps, variable = steps_of(backup_id)
    plan = run_cli(*steps["plan"], timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    planned = json.loads(plan.stdout)
    assert planned["parallelism"] == P and planned["backup_id"] == backup_id
    workers = [start_worker(steps["work"], variable, index) for index in range(P)]
    for worker in workers:
        finish(worker)
    commit = run_cli(*steps["commit"], timeout=300)
    assert commit.returncode == 0, commit.stderr[-3000:]
    restored_identical(ddb, planned["url"], f"{TABLE}-{steps_of.__name__[:5]}", source)


def test_retried_and_missing_indexes(source, ddb):
    """As Batch / Kubernetes retry: an index run twice is harmless; commit refuses (exit 6, not
    retried by the runners) until the missing index ran."""
    backup_id = new_backup_id()
    steps, variable = batch_steps(backup_id)
    assert run_cli(*steps["plan"], timeout=300).returncode == 0
    for index in range(P - 1):
        finish(start_worker(steps["work"], variable, index))
    early = run_cli(*steps["commit"], timeout=300)
    assert early.returncode == 6 and "segment" in early.stderr, early.stderr[-2000:]
    finish(start_worker(steps["work"], variable, 0))  # a second attempt of a finished index
    finish(start_worker(steps["work"], variable, P - 1))
    commit = run_cli(*steps["commit"], timeout=300)
    assert commit.returncode == 0, commit.stderr[-3000:]
    restored_identical(ddb, f"s3://{BUCKET}/prod/{TABLE}/{backup_id}", f"{TABLE}-retried", source)
