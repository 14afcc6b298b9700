"""Hostile input to every command: one `ddbvault: error:` line, a `Try:` hint, the exit code of
its kind, no traceback, and nothing written (real moto_server; backups on a local directory)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ddbvault.exit_codes import ExitCode
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
ROLE = "arn:aws:iam::123456789012:role/ddbvault-writer"
MISSING_ID = "20261130T000000Z-abcdef"


def run_cli(*args: str, cwd: Path | None = None, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


def assert_one_clear_line(proc: subprocess.CompletedProcess, code: ExitCode, needle: str = "") -> None:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert lines and lines[0].startswith("ddbvault: error: "), proc.stderr
    assert len(lines) == 2 and lines[1].startswith("Try: "), proc.stderr
    assert needle in lines[0], proc.stderr


@pytest.fixture(scope="module")
def table(ddb, s3):
    create_table(ddb, "inputs")
    fill_table(ddb, "inputs", 30, edge_cases=False)
    s3.create_bucket(Bucket="inputs-bk")
    return "inputs"


@pytest.fixture
def backup_url(table, aws_env, tmp_path):
    proc = run_cli("backup", table, "--to", str(tmp_path / "b"), "--json", "--read-rcu", "100000")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["url"]


@pytest.mark.parametrize("dest", ["s3:/inputs-bk/prod", "s3:inputs-bk/prod", "S3://inputs-bk/prod",
                                  "s3:///prod", "gs://inputs-bk/prod", "file:relative", "C:\\backups",
                                  "s3://inputs-bk//prod"])
def test_a_destination_that_is_not_a_known_url_is_refused_and_nothing_written(table, aws_env, tmp_path, s3, dest):
    proc = run_cli("backup", table, "--to", dest, cwd=tmp_path)
    assert_one_clear_line(proc, ExitCode.USAGE, repr(dest))
    assert not list(tmp_path.iterdir())
    assert s3.list_objects_v2(Bucket="inputs-bk").get("KeyCount", 0) == 0
    assert_one_clear_line(run_cli("list", dest, cwd=tmp_path), ExitCode.USAGE)


@pytest.mark.parametrize("args,needle", [
    (["--vault-role", "not-an-arn"], "not an IAM role ARN"),
    (["--table-role", "arn:aws:s3:::inputs-bk"], "not an IAM role ARN"),
    (["--vault-role", ROLE, "--external-id", "x"], "external id"),
    (["--external-id", "acme-prod"], "without a role"),
    (["--table-external-id", "acme-prod"], "without a role"),
    (["--region", "not a region"], "not an AWS region name"),
    (["--profile", "knwon"], "AWS profile 'knwon' not found"),
    (["--read-rcu", "inf"], "--read-rcu"),
    (["--read-rcu", "nan"], "--read-rcu"),
    (["--read-rcu", "0"], "--read-rcu"),
    (["--read-rcu", "-5"], "--read-rcu"),
    (["--read-share", "inf"], "--read-share"),
    (["--object-size", "9" * 400], "--object-size"),
    (["--part-size", "0"], "--part-size"),
    (["--workers", "0"], "--workers"),
    (["--acl", "bucket-owner-full-controll"], "--acl"),
])
def test_bad_backup_options_are_usage_errors(table, aws_env, tmp_path, args, needle):
    proc = run_cli("backup", table, "--to", str(tmp_path / "b"), *args)
    assert_one_clear_line(proc, ExitCode.USAGE, needle)
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("env,needle", [
    ({"AWS_PROFILE": "knwon"}, "AWS profile 'knwon' not found"),
    ({"AWS_ENDPOINT_URL": "not a url"}, "Invalid endpoint"),
])
def test_a_broken_aws_environment_is_a_usage_error_for_every_command(table, aws_env, tmp_path, env, needle):
    for args in (["backup", table, "--to", str(tmp_path / "b")], ["list", "s3://inputs-bk/p"],
                 ["verify", f"s3://inputs-bk/p/{table}/{MISSING_ID}"]):
        assert_one_clear_line(run_cli(*args, **env), ExitCode.USAGE, needle)


def test_no_region_for_dynamodb_is_a_usage_error(table, aws_env, tmp_path):
    # S3 works without a region (its global endpoint); DynamoDB needs one.
    proc = run_cli("backup", table, "--to", str(tmp_path / "b"), AWS_REGION=None, AWS_DEFAULT_REGION=None)
    assert_one_clear_line(proc, ExitCode.USAGE, "no AWS region")


@pytest.mark.parametrize("args,needle", [
    (["--write-wcu", "inf"], "--write-wcu"),
    (["--write-share", "1.5"], "--write-share"),
    (["--table-external-id", "acme-prod"], "without a role"),
    (["--table-role", "arn:aws:iam::1:role/x"], "not an IAM role ARN"),
])
def test_bad_restore_options_are_usage_errors(backup_url, ddb, args, needle):
    proc = run_cli("restore", backup_url, "--table", "inputs-copy", *args)
    assert_one_clear_line(proc, ExitCode.USAGE, needle)
    assert "inputs-copy" not in ddb.list_tables()["TableNames"]


def test_verify_and_list_refuse_an_external_id_without_a_role(table, aws_env, tmp_path):
    proc = run_cli("verify", f"{tmp_path}/{table}/{MISSING_ID}", "--table-external-id", "acme-prod")
    assert_one_clear_line(proc, ExitCode.USAGE, "without a role")
    assert_one_clear_line(run_cli("list", str(tmp_path), "--external-id", "acme-prod"), ExitCode.USAGE, "without a role")


def test_doctor_on_a_local_directory_is_a_usage_error(table, aws_env, tmp_path):
    assert_one_clear_line(run_cli("doctor", "--table", table, "--to", str(tmp_path)), ExitCode.USAGE,
                          "doctor checks S3 destinations")


def test_click_usage_errors_are_one_line_too(table, aws_env):
    assert_one_clear_line(run_cli("backup", table), ExitCode.USAGE, "--to")
    assert_one_clear_line(run_cli("backup", table, "--to", "/x", "--no-such-flag"), ExitCode.USAGE, "--no-such-flag")


@pytest.mark.parametrize("args, needle", [
    (["--to", "/x", "--external-id", "acme-prod"], "without a role"),  # refused while options are built
    (["--to", "/x", "--workers", "0"], "--workers"),  # refused by click
    (["--to", "s3:/bucket/x"], "s3:/bucket/x"),  # refused by the library
])
def test_with_json_every_error_is_one_json_object_on_stdout(table, aws_env, args, needle):
    proc = run_cli("backup", table, *args, "--json")
    assert_one_clear_line(proc, ExitCode.USAGE, needle)
    error = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    assert error["exit_code"] == ExitCode.USAGE and needle in error["message"] and error["hint"]


def test_where_no_backup_exists_is_not_found_not_incomplete(table, aws_env, tmp_path, backup_url, ddb):
    dest = str(Path(backup_url).parent.parent)
    for url in (f"{dest}/{table}/{MISSING_ID}", f"{tmp_path}/nowhere/{table}/{MISSING_ID}",
                f"s3://inputs-bk/p/{table}/{MISSING_ID}"):
        proc = run_cli("restore", url, "--table", "inputs-none")
        assert_one_clear_line(proc, ExitCode.NOT_FOUND, "no backup at")
        assert "incomplete" not in proc.stderr
        assert_one_clear_line(run_cli("verify", url), ExitCode.NOT_FOUND, "no backup at")
    proc = run_cli("restore", f"s3://no-such-bucket-zz/p/{table}/{MISSING_ID}", "--table", "inputs-none")
    assert_one_clear_line(proc, ExitCode.NOT_FOUND, "NoSuchBucket")
    assert "inputs-none" not in ddb.list_tables()["TableNames"]


def test_data_without_a_manifest_is_still_incomplete(backup_url):
    manifest = Path(backup_url) / "manifest.json"
    manifest.chmod(0o644)
    manifest.unlink()
    assert_one_clear_line(run_cli("verify", backup_url), ExitCode.INTEGRITY, "is incomplete")


def _tamper(url: str, change) -> None:
    path = Path(url) / "manifest.json"
    body = json.loads(path.read_text())
    change(body)
    path.chmod(0o644)
    path.write_text(json.dumps(body))


@pytest.mark.parametrize("change,needle", [
    (lambda m: m["objects"][0].update(items=str(m["objects"][0]["items"])), "objects.0.items"),
    (lambda m: m.update(totals=[]), "totals"),
    (lambda m: m["objects"][0].update(key="../../../elsewhere/data/000000-0000.json.gz"), "objects.0.key"),
    (lambda m: m["objects"][0].update(key="/etc/hostname"), "objects.0.key"),
    (lambda m: m["objects"][0].update(sha256="0" * 63), "objects.0.sha256"),
])
def test_a_malformed_manifest_is_refused_on_load_before_any_table_exists(backup_url, ddb, tmp_path, change, needle):
    _tamper(backup_url, change)
    assert_one_clear_line(run_cli("verify", backup_url), ExitCode.INTEGRITY, needle)
    proc = run_cli("restore", backup_url, "--table", "inputs-tampered")
    assert_one_clear_line(proc, ExitCode.INTEGRITY, needle)
    assert "inputs-tampered" not in ddb.list_tables()["TableNames"]


def test_list_shows_a_malformed_manifest_as_invalid_and_the_others(backup_url, table):
    dest = Path(backup_url).parent.parent
    other = run_cli("backup", table, "--to", str(dest), "--json", "--read-rcu", "100000")
    assert other.returncode == 0, other.stderr
    _tamper(backup_url, lambda m: m.update(totals=[]))
    proc = run_cli("list", str(dest), "--json")
    assert proc.returncode == 0, proc.stderr
    status = {e["url"]: e["status"] for e in json.loads(proc.stdout)}
    assert status == {backup_url: "invalid", json.loads(other.stdout)["url"]: "complete"}
    # A key that looks like a backup id but holds an impossible date is not a backup.
    (dest / table / "20261399T999999Z-abcdef").mkdir()
    (dest / table / "20261399T999999Z-abcdef" / "manifest.json").write_text("{}")
    proc = run_cli("list", str(dest))
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "20261399" not in proc.stdout


def test_fields_a_later_minor_version_adds_are_accepted(backup_url):
    def later(body: dict) -> None:
        body["format_version"] = "1.1"
        for obj in body["objects"]:  # (not "md5": format 1.3 knows and checks that one)
            obj["crc64nvme"] = "AAAAAAAAAAA="
    _tamper(backup_url, later)
    proc = run_cli("verify", backup_url)
    assert proc.returncode == 0, proc.stderr


def _write_export(s3, root: str, *, summary: dict | None = None, files: list | None = None) -> str:
    """A native export in DynamoDB's documented shape, one data file, with parts overridden."""
    record = {"Item": {"pk": {"S": "a"}}}
    data = gzip.compress(json.dumps(record).encode() + b"\n")
    key = f"{root}/data/0000000000-abcdefgh.json.gz"
    s3.put_object(Bucket="inputs-bk", Key=key, Body=data)
    entry = {"itemCount": 1, "md5Checksum": base64.b64encode(hashlib.md5(data).digest()).decode(),
             "dataFileS3Key": key}
    lines = [json.dumps(line) if isinstance(line, dict) else line for line in (files or [entry])]
    s3.put_object(Bucket="inputs-bk", Key=f"{root}/manifest-files.json", Body="\n".join(lines).encode())
    body = {"itemCount": 1, "outputFormat": "DYNAMODB_JSON", "exportType": "FULL_EXPORT",
            "manifestFilesS3Key": f"{root}/manifest-files.json", **(summary or {})}
    s3.put_object(Bucket="inputs-bk", Key=f"{root}/manifest-summary.json",
                  Body=body if isinstance(body, bytes) else json.dumps(body).encode())
    return f"s3://inputs-bk/{root}"


def test_an_incremental_native_export_is_refused_before_any_write(table, aws_env, s3, ddb):
    url = _write_export(s3, "nightly/AWSDynamoDB/01764460900000-abcdef12",
                        summary={"exportType": "INCREMENTAL_EXPORT", "outputView": "NEW_AND_OLD_IMAGES"})
    create_table(ddb, "inputs-incr")
    proc = run_cli("restore", url, "--table", "inputs-incr", "--no-create")
    assert_one_clear_line(proc, ExitCode.USAGE, "INCREMENTAL_EXPORT")
    assert ddb.scan(TableName="inputs-incr")["Count"] == 0


@pytest.fixture(scope="module")
def export_target(table, ddb):
    create_table(ddb, "inputs-export")
    return "inputs-export"


@pytest.mark.parametrize("files", [
    ['{"itemCount": 1, "md5Checksum": "x"'],                                          # not JSON
    [{"itemCount": "1", "md5Checksum": "x", "dataFileS3Key": "r/data/a.json.gz"}],  # count as a string
    [{"itemCount": -1, "md5Checksum": "x", "dataFileS3Key": "r/data/a.json.gz"}],
    [{"itemCount": 1, "md5Checksum": "x"}],                                           # no key
    [{"itemCount": 1, "md5Checksum": "x", "dataFileS3Key": "/etc/hostname"}],
    [{"itemCount": 1, "md5Checksum": "x", "dataFileS3Key": "../../elsewhere/data/a.json.gz"}],
    ["[1, 2]"],
])
def test_malformed_native_export_manifests_are_integrity_errors(export_target, aws_env, s3, ddb, files):
    root = f"bad/AWSDynamoDB/0176446090{len(str(files)):04d}-abcdef12"
    url = _write_export(s3, root, files=files)
    proc = run_cli("restore", url, "--table", "inputs-export", "--no-create")
    assert_one_clear_line(proc, ExitCode.INTEGRITY, "manifest-files.json line 1 is malformed")
    assert ddb.scan(TableName="inputs-export")["Count"] == 0


def test_a_native_export_manifest_over_the_cap_is_refused_unread(export_target, aws_env, s3, ddb):
    from ddbvault.format.manifest import MANIFEST_MAX_BYTES

    root = "huge/AWSDynamoDB/01764460900000-abcdef12"
    url = _write_export(s3, root, files=["\n" * (MANIFEST_MAX_BYTES + 1)])  # blank lines
    proc = run_cli("restore", url, "--table", "inputs-export", "--no-create")
    assert_one_clear_line(proc, ExitCode.INTEGRITY,
                          f"s3://inputs-bk/{root}/manifest-files.json is over {MANIFEST_MAX_BYTES:,} bytes")
    assert ddb.scan(TableName="inputs-export")["Count"] == 0


@pytest.mark.parametrize("yaml_text,needle", [
    ("scheduler: {timezone: Europe/Pariss}\n", "scheduler.timezone: unknown timezone"),
    ("defaults: {read_rcu: .inf}\n", "defaults.read_rcu"),
    ("defaults: {external_id: acme-prod}\n", "external_id without dest_role"),
])
def test_run_serve_and_status_refuse_a_bad_service_config(table, aws_env, tmp_path, yaml_text, needle):
    config = tmp_path / "svc.yaml"
    config.write_text(f"jobs: [{{name: j, table: {table}, interval_seconds: 3600, destination: {tmp_path}/b}}]\n"
                      + yaml_text)
    for command in ("run", "serve", "status"):
        proc = run_cli(command, "--config", str(config))
        assert_one_clear_line(proc, ExitCode.USAGE, needle)
    assert not (tmp_path / "b").exists()


def test_a_service_destination_with_one_slash_is_refused(table, aws_env, tmp_path):
    config = tmp_path / "svc.yaml"
    config.write_text(f"jobs: [{{name: j, table: {table}, interval_seconds: 3600, destination: 's3:/inputs-bk/p'}}]\n")
    assert_one_clear_line(run_cli("run", "--config", str(config), cwd=tmp_path), ExitCode.USAGE, "jobs.0.destination")
    assert [p.name for p in tmp_path.iterdir()] == ["svc.yaml"]


def test_a_thread_that_cannot_start_is_reported_as_itself_not_as_an_interruption(table, aws_env, tmp_path, monkeypatch):
    import threading

    from ddbvault import BackupOptions, backup_table

    real_start = threading.Thread.start

    def start(thread):
        if thread.name == "ddbvault-segment-1":
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        backup_table(table, str(tmp_path), BackupOptions(segments=4, workers=2, read_rcu=100000))
    assert not list(tmp_path.rglob("manifest.json"))


def test_the_status_page_renders_with_a_malformed_manifest_in_the_destination(backup_url, table):
    import urllib.request

    from ddbvault.service import Service, load_config

    dest = Path(backup_url).parent.parent
    _tamper(backup_url, lambda m: m["objects"][0].update(items="3"))
    config = dest.parent / "svc.yaml"
    config.write_text(f"jobs: [{{name: j, table: {table}, interval_seconds: 86400, destination: '{dest}'}}]\n"
                      "http: {host: 127.0.0.1, port: 0}\n")
    service = Service(load_config(config))
    service.start()
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{service.http.port}/", timeout=30)
        html = page.read().decode()
    finally:
        service.stop()
    assert page.status == 200 and "invalid" in html and Path(backup_url).name in html
