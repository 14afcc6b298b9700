"""S3's multipart limits are checked before a backup starts, and the part size fits the object size."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.exit_codes import ExitCode
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
GIB = 1024 ** 3


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


@pytest.fixture(scope="module")
def bucket(s3):
    s3.create_bucket(Bucket="limits-bucket")
    return "limits-bucket"


@pytest.mark.parametrize("args, needle", [
    (["--object-size", "6000GiB"], "at most 5 TiB"),
    (["--object-size", "5120GiB"], "at most 5 TiB"),  # no room left for the last write
    (["--part-size", "6GiB"], "5 MiB to 5 GiB"),
])
def test_an_impossible_size_is_refused_before_anything_is_read_or_written(bucket, s3, args, needle):
    proc = run_cli("backup", "no-such-table", "--to", f"s3://{bucket}/p", *args)
    assert proc.returncode == ExitCode.USAGE, proc.stderr  # not 3: the table was never looked up
    assert needle in proc.stderr and "Try:" in proc.stderr and "Traceback" not in proc.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_a_local_directory_has_no_s3_limits(aws_env, ddb, tmp_path):
    create_table(ddb, "limits-local")
    fill_table(ddb, "limits-local", 5, edge_cases=False)
    result = backup_table("limits-local", str(tmp_path), BackupOptions(object_size=6 * 1024 * GIB))
    assert result.items == 5


def test_the_part_size_grows_with_the_object_size(aws_env, ddb, bucket, caplog):
    create_table(ddb, "limits-s3")
    fill_table(ddb, "limits-s3", 5, edge_cases=False)
    with caplog.at_level(logging.INFO, logger="ddbvault.backup"):
        result = backup_table("limits-s3", f"s3://{bucket}/q", replace(BackupOptions(), object_size=100 * GIB))
    assert result.items == 5
    assert "part size raised from 8 MiB to 11 MiB" in caplog.text
