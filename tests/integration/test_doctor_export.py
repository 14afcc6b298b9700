"""`ddbvault doctor --engine export`: PITR, DescribeExport and ExportTableToPointInTime proved
without starting an export, and the export's write (no If-None-Match) under _doctor/export/.

These run through the export stand-in (tests/support/export_standin.py), which answers
DescribeExport and ExportTableToPointInTime as AWS documents them but needs moto without IAM
enforcement; the denied side is in test_doctor.py, on moto with IAM enforcement on (moto
authorizes before it acts, so a denied call never reaches its own export).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from ddbvault.devtools import local_servers
from ddbvault.exit_codes import ExitCode
from tests.support.export_standin import ExportStandIn
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration


def run_doctor(env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", extra[0], "--to", "s3://vault/prod",
                           "--engine", "export", "--json", *extra[1:]], capture_output=True, text=True, env=env,
                          timeout=120)


def checks(proc) -> dict:
    return {c["name"]: c for c in json.loads(proc.stdout)["checks"]}


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    with local_servers.moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as srv:
        env = {**os.environ, **local_servers.local_aws_env(srv.url)}
        admin = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                              aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1")
        ddb = admin.client("dynamodb", endpoint_url=srv.url)
        for table in ("pitr-on", "pitr-off"):
            create_table(ddb, table)
            fill_table(ddb, table, 3, edge_cases=False)
        ddb.update_continuous_backups(TableName="pitr-on",
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        s3 = admin.client("s3", endpoint_url=srv.url)
        s3.create_bucket(Bucket="vault")
        with ExportStandIn(srv.url) as proxy:
            yield {**env, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url}, s3


def test_everything_an_export_needs_is_proved_without_an_export(standin):
    env, s3 = standin
    proc = run_doctor(env, "pitr-on")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = checks(proc)
    assert found["point-in-time recovery"]["status"] == "ok"
    assert found["DescribeExport"] == {**found["DescribeExport"], "status": "ok",
                                       "detail": "allowed (ExportNotFoundException)"}
    assert found["ExportTableToPointInTime"]["status"] == "ok"
    assert "InvalidExportTimeException" in found["ExportTableToPointInTime"]["detail"]
    assert found["export write"]["status"] == "ok" and "/prod/_doctor/export/" in found["export write"]["detail"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="vault", Prefix="prod/")["Contents"]]
    exports = [k for k in keys if k.startswith("prod/_doctor/export/")]
    assert len(exports) == 1 and "AWSDynamoDB" not in exports[0]  # the probe only: no export ran


def test_pitr_off_fails_with_the_fix(standin):
    env, _ = standin
    proc = run_doctor(env, "pitr-off")
    assert proc.returncode == ExitCode.ACCESS_DENIED, proc.stdout + proc.stderr
    pitr = checks(proc)["point-in-time recovery"]
    assert pitr["status"] == "fail"
    assert ("aws dynamodb update-continuous-backups --table-name pitr-off "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true") in pitr["detail"]
    start = checks(proc)["ExportTableToPointInTime"]  # still authorized: refused for PITR, not access
    assert start["status"] == "ok" and "PointInTimeRecoveryUnavailableException" in start["detail"]


def test_the_human_output_marks_pitr_off(standin):
    env, _ = standin
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "doctor", "--table", "pitr-off", "--to", "s3://vault/prod",
                           "--engine", "export"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == ExitCode.ACCESS_DENIED
    assert "✗ point-in-time recovery: DISABLED: exports need it; fix: aws dynamodb update-continuous-backups" in proc.stdout
