"""Test harness: real local servers on free loopback ports, started and stopped here.

- `moto` (session): one moto_server for the run; every test module starts from a reset server,
  which bounds moto's memory and keeps modules independent.
- `dynalite` (session): started on first use (rate-limiter and throttling tests).
- `aws_env` (module): points boto3 at moto with dummy credentials via the standard
  AWS_ENDPOINT_URL / AWS_* variables, exactly as a user would.
- In CI (CI=true), a skipped test fails the run (tests/support/ci_skips.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from ddbvault.devtools import local_servers
from tests.support.ci_skips import (  # noqa: F401 (pytest hooks)
    pytest_collectreport, pytest_runtest_makereport, pytest_sessionfinish, pytest_terminal_summary)

LOG_DIR = Path(os.environ.get("DDBVAULT_TEST_LOGS", "/tmp/ddbvault-test-logs"))


@pytest.fixture(scope="session")
def moto():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with local_servers.moto_server(LOG_DIR / "moto.log") as server:
        yield server


@pytest.fixture(scope="module")
def moto_url(moto):
    """The shared moto_server, reset before each module that uses it."""
    local_servers.reset_moto(moto.url)
    return moto.url


@pytest.fixture(scope="session")
def dynalite():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    with local_servers.dynalite(LOG_DIR / "dynalite.log") as server:
        yield server


@pytest.fixture(scope="module")
def dynalite_aws(dynalite):
    """boto3 pointed at dynalite through the standard AWS_* variables, for one module; yields the
    MonkeyPatch, so a test can point one service elsewhere (a proxy) and back."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in local_servers.local_aws_env(dynalite.url).items():
            patch.setenv(name, value)
        yield patch


@pytest.fixture(scope="module")
def aws_env(moto_url):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in local_servers.local_aws_env(moto_url).items():
            patch.setenv(name, value)
        for name in list(os.environ):
            if name.startswith("AWS_ENDPOINT_URL_") or name == "AWS_PROFILE":
                patch.delenv(name)
        yield moto_url


@pytest.fixture(scope="module")
def ddb(aws_env):
    return boto3.client("dynamodb")


@pytest.fixture(scope="module")
def s3(aws_env):
    return boto3.client("s3")
