"""`--json` on every verb: stdout holds only JSON when it is set, for results and for errors
(the error object: error, message, hint, exit_code), with the exit code scripts rely on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ddbvault.cli import cli
from ddbvault.exit_codes import ExitCode

pytestmark = pytest.mark.integration
ACCOUNTS = ("--prod-account", "111122223333", "--data-account", "444455556666")


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, AWS_DEFAULT_REGION="us-east-1"))


def test_every_verb_has_json():
    assert set(cli.commands) == set(HOSTILE), "a new verb: give it --json and a case below"
    for name, command in cli.commands.items():
        # a group (backup: the one-shot `run` and its plan/work/commit steps): each of its commands
        for sub, each in getattr(command, "commands", {name: command}).items():
            assert any("--json" in p.opts for p in each.params), f"ddbvault {name} {sub} has no --json"


HOSTILE = {  # verb -> (arguments that must be refused, expected exit code)
    "backup": (["no/such table", "--to", "/tmp/x"], ExitCode.USAGE),
    "follow": (["no/such table", "--to", "/tmp/x"], ExitCode.USAGE),
    "restore": (["ftp://vault/x", "--table", "t-1"], ExitCode.USAGE),
    "serve": (["--config", "/nonexistent/ddbvault.yaml"], ExitCode.USAGE),
    "run": (["--config", "/nonexistent/ddbvault.yaml"], ExitCode.USAGE),
    "status": (["--config", "/nonexistent/ddbvault.yaml"], ExitCode.USAGE),
    "doctor": (["orders", "--to", "ftp://vault/x"], ExitCode.USAGE),
    "demo": (["--items", "-5"], ExitCode.USAGE),
    "verify": (["ftp://vault/x"], ExitCode.USAGE),
    "list": (["ftp://vault/x"], ExitCode.USAGE),
    "follow": (["no/such table", "--to", "/tmp/x"], ExitCode.USAGE),
    "history": (["no/such table", "--from", "/tmp/x", "--key", "pk=a"], ExitCode.USAGE),
    "get": (["orders", "--from", "/tmp/x", "--key", "pk=a", "--at", "2026-11-30T10:15:00.5Z"], ExitCode.USAGE),
    "iam": (["--table", "orders", "--prod-account", "12", "--data-account", "444455556666",
             "--bucket", "acme-vault"], ExitCode.USAGE),
}


@pytest.mark.parametrize("verb", sorted(HOSTILE))
def test_a_refused_call_prints_one_json_error_object_and_nothing_else(verb, tmp_path):
    args, code = HOSTILE[verb]
    proc = run_cli(verb, *args, "--json")
    assert proc.returncode == code, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    error = json.loads(lines[0])
    assert set(error) >= {"error", "message", "hint", "exit_code"} and error["exit_code"] == code
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("ddbvault: error: ")


def test_iam_json_holds_every_document_and_matches_the_plain_output(tmp_path):
    base = ["iam", "--table", "orders", *ACCOUNTS, "--bucket", "acme-vault", "--region", "us-east-1"]
    documents = {}
    for fmt in ("json", "cloudformation", "terraform"):
        proc = run_cli(*base, "--format", fmt, "--json")
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["format"] == fmt and out["part"] == "all" and out["files"]
        documents[fmt] = out["files"]
        written = run_cli(*base, "--format", fmt, "--out-dir", str(tmp_path / fmt))
        assert written.returncode == 0, written.stderr
        on_disk = {str(p.relative_to(tmp_path / fmt)): p.read_text() for p in (tmp_path / fmt).rglob("*") if p.is_file()}
        assert on_disk == out["files"]
    assert all(json.loads(text) for text in documents["json"].values())
    proc = run_cli(*base, "--format", "json", "--json", "--out-dir", str(tmp_path / "again"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert sorted(out["written"]) == sorted(str(tmp_path / "again" / name) for name in documents["json"])
    assert all(os.path.isfile(path) for path in out["written"])


def test_iam_out_dir_that_cannot_be_written_is_one_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_cli("iam", "--table", "orders", *ACCOUNTS, "--bucket", "acme-vault", "--out-dir", str(blocker / "x"),
                   "--json")
    assert proc.returncode == ExitCode.USAGE and json.loads(proc.stdout)["error"] == "UsageError"
    assert "cannot write" in proc.stderr and "Traceback" not in proc.stderr


def test_iam_out_dir_writes_all_files_or_none(tmp_path):
    """Terraform's second module blocked (its folder is a file; then its main.tf a folder): the
    first module's main.tf must not be left behind, nor any staging file; an earlier file stays."""
    base = ["iam", "--table", "orders", *ACCOUNTS, "--bucket", "acme-vault", "--format", "terraform"]
    for blocked in ("production-account", "production-account/main.tf"):
        out = tmp_path / blocked.replace("/", "-")
        (out / "data-account").mkdir(parents=True)
        (out / "data-account" / "main.tf").write_text("kept")
        if blocked.endswith(".tf"):
            (out / blocked).mkdir(parents=True)
        else:
            (out / blocked).write_text("")
        proc = run_cli(*base, "--out-dir", str(out))
        assert proc.returncode == ExitCode.USAGE and f"cannot write {out / 'production-account'}" in proc.stderr
        assert (out / "data-account" / "main.tf").read_text() == "kept"
        assert sorted(p.name for p in out.rglob("*") if p.is_file()) in (["main.tf", "production-account"], ["main.tf"])
        assert not any(p.name.startswith(".") for p in out.rglob("*"))


def test_serve_json_with_log_format_text_is_refused_not_one_ignored(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"jobs: [{{name: nightly, table: orders, cron: '0 3 * * *', destination: '{tmp_path / 'b'}'}}]\n"
                      "http: {host: 127.0.0.1, port: 0}\n")
    proc = run_cli("serve", "--config", str(config), "--json", "--log-format", "text", timeout=30)
    assert proc.returncode == ExitCode.USAGE and json.loads(proc.stdout)["error"] == "UsageError"
    assert "--json and --log-format text contradict" in proc.stderr and "Try: " in proc.stderr


def test_serve_json_writes_only_json_lines_on_stdout(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"jobs: [{{name: nightly, table: orders, cron: '0 3 * * *', destination: '{tmp_path / 'b'}'}}]\n"
                      "http: {host: 127.0.0.1, port: 0}\n")
    proc = subprocess.Popen([sys.executable, "-m", "ddbvault", "serve", "--config", str(config), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()          # the service logs its start
        assert first, proc.stderr.read()
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    records = [json.loads(line) for line in (first + out).splitlines()]
    assert records and all(isinstance(r, dict) for r in records)
