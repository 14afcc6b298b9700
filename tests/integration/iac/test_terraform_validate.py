"""Terraform itself accepts what `ddbvault iam --format terraform` writes.

Every module of every input combination (tests/support/iac_inputs.py VARIANTS: KMS key given or
created, writer role, another restore account) is written by `ddbvault iam --out-dir`, parsed with
python-hcl2 (always), and, where Terraform and the offline AWS provider mirror are present:
- `terraform fmt -check` finds nothing to change;
- `terraform validate` passes with no error and no warning, once for all modules: a root module
  calls each one (one `init` from the mirror, one provider load), passing values for the required
  variables, object lock turned on for some, so the variables' validation rules run too;
- the control: the same run with an invalid cluster ARN fails on the `cluster_arn` rule (which
  also proves the rule's `\\d` survived the escaping);
- `terraform console` evaluates rendered strings to exactly the Python strings.
Without Terraform these checks cannot run; the python-hcl2 ones still do, and the test fails
instead only when DDBVAULT_REQUIRE_TERRAFORM=1 says this machine must have Terraform.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ddbvault.iac.hcl import Block, Expr, render
from ddbvault.iac.render import render_files
from tests.support.iac_inputs import PROD, VARIANTS, inputs
from tests.support.terraform import parse_module, resources, terraform

pytestmark = pytest.mark.integration
MODULES = ("data-account", "production-account", "restore-account")
TRICKY = ['a"b\\c', "${var.secret}", "%{ if true }x%{ endif }", "$${", "$$${x}", "%%{", "$", "{",
          "line\nnext\r\ttab", "\x01\x7f", "é ☃", "ends with $", "ends with %"]


def cli_args(name: str) -> list[str]:
    """The `ddbvault iam` options of one VARIANTS entry."""
    inp = inputs(name)
    args = ["--prod-account", inp.prod_account, "--data-account", inp.data_account, "--bucket", inp.bucket,
            "--region", inp.region, "--prefix", inp.prefix, "--backup-role", inp.backup_role]
    for table in inp.tables:
        args += ["--table", table.arn]
    for option, value in (("--kms-key-arn", inp.kms_key_arn), ("--writer-role", inp.writer_role),
                          ("--external-id", inp.external_id), ("--restore-account", inp.restore_account)):
        args += [option, value] if value else []
    for table in inp.restore_tables:
        args += ["--restore-table", table]
    return args + (["--create-kms-key"] if inp.create_kms_key else [])


def write_modules(root: Path) -> None:
    """<variant>/<module>/main.tf for every variant; the first through the CLI, the others direct."""
    first, *others = VARIANTS
    ddbvault = str(Path(sys.executable).parent / "ddbvault")
    proc = subprocess.run([ddbvault, "iam", "--format", "terraform", "--out-dir", str(root / first),
                           *cli_args(first)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(root / first / m / "main.tf") for m in MODULES]
    for name in others:
        for path, text in render_files(inputs(name), "terraform", "all").items():
            (root / name / path).parent.mkdir(parents=True)
            (root / name / path).write_text(text)


def calls(root: Path, cluster_arn: str, variants=tuple(VARIANTS)) -> None:
    """A root module that calls each generated module, with values for its required variables."""
    blocks = []
    for name in variants:
        inp = inputs(name)
        key = {"kms_key_arn": Expr(f"module.{name}-data.key_arn")} if inp.create_kms_key else {}
        lock = {"object_lock_mode": "COMPLIANCE", "object_lock_retention_days": 7} if inp.create_kms_key else {}
        blocks += [
            Block("module", (f"{name}-data",), {"source": f"./{name}/data-account", **lock}),
            Block("module", (f"{name}-production",), {
                "source": f"./{name}/production-account", "container_image": "registry.example/ddbvault:1",
                "cluster_arn": cluster_arn, "subnets": ["subnet-12345678"], "security_groups": ["sg-12345678"],
                "schedule_expression": "rate(1 day)", **key}),
            Block("module", (f"{name}-restore",), {"source": f"./{name}/restore-account", **key}),
        ]
    (root / "main.tf").write_text(render(blocks))


def test_terraform_validates_every_module(tmp_path):
    write_modules(tmp_path)
    for name in VARIANTS:  # always: every module parses, with the resources of its account
        parsed = {m: parse_module((tmp_path / name / m / "main.tf").read_text()) for m in MODULES}
        assert "aws_s3_bucket.backup" in resources(parsed["data-account"])
        assert "aws_ecs_task_definition.backup_2" in resources(parsed["production-account"])
        assert len(resources(parsed["restore-account"])) == 3
    tf = terraform(tmp_path)
    if tf is None:
        return
    calls(tmp_path, f"arn:aws:ecs:us-east-1:{PROD}:cluster/backups")
    fmt = tf.run(tmp_path, "fmt", "-check", "-recursive", "-diff", "-no-color")
    assert fmt.returncode == 0, fmt.stdout[-3000:] + fmt.stderr[-3000:]
    result = tf.validate(tmp_path)
    assert result["valid"] and result["error_count"] == result["warning_count"] == 0, \
        json.dumps(result["diagnostics"], indent=1)[:4000]
    # The control, on one variant (each module's provider costs seconds): a 5-digit account.
    calls(tmp_path, "arn:aws:ecs:us-east-1:12345:cluster/backups", variants=["created-key-writer"])
    result = tf.run(tmp_path, "validate", "-json", "-no-color")
    [diagnostic] = json.loads(result.stdout)["diagnostics"]
    assert result.returncode == 1 and diagnostic["summary"] == "Invalid value for variable", result.stdout[-3000:]
    assert "cluster_arn must be a string matching ^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:cluster/.+$" \
        in " ".join(diagnostic["detail"].split())


def test_terraform_reads_each_string_as_written(tmp_path):
    # Always: python-hcl2 reads them back (all but "$${" and "%%{" alone, which it cannot read).
    readable = [s for s in TRICKY if s not in ("$${", "%%{")]
    parsed = parse_module(render([Block("locals", (), {f"s{i}": s for i, s in enumerate(readable)})]))
    assert [parsed["locals"][0][f"s{i}"] for i in range(len(readable))] == readable
    text = render([Block("locals", (), {f"s{i}": s for i, s in enumerate(TRICKY)})])
    tf = terraform(tmp_path)
    if tf is None:
        return
    (tmp_path / "main.tf").write_text(text)
    # base64: console prints a string with escapes of its own (\x7f); base64 text needs none.
    expression = "jsonencode([" + ", ".join(f"base64encode(local.s{i})" for i in range(len(TRICKY))) + "])"
    proc = subprocess.run([tf.binary, "console", "-no-color"], cwd=tmp_path, env=tf.env, input=expression,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    encoded = json.loads(json.loads(proc.stdout.strip()))
    assert [base64.b64decode(e).decode() for e in encoded] == TRICKY


@pytest.mark.parametrize("required", ["1", ""])
def test_missing_terraform_fails_only_when_required(tmp_path, monkeypatch, required):
    monkeypatch.setenv("PATH", str(tmp_path))  # no terraform on it
    monkeypatch.setenv("DDBVAULT_REQUIRE_TERRAFORM", required)
    if required:
        with pytest.raises(pytest.fail.Exception, match="DDBVAULT_REQUIRE_TERRAFORM=1 but terraform"):
            terraform(tmp_path)
    else:
        assert terraform(tmp_path) is None
