"""Fixtures of the fault suite, its seeds, and the totals it prints at the end of the session.

Seeds: DDBVAULT_FAULT_SEEDS, e.g. "7" (replay one), "3,17" or "1-200" (soak); default CI_SEEDS.
The totals line is also written to $DDBVAULT_TEST_LOGS/fault-totals.json for bench/soak.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest

from ddbvault.format.codec import item_to_wire
from ddbvault.verify.table_diff import canonical_bytes
from tests.faults.harness import TOTALS
from tests.support.tables import create_table, fill_table, key_of
from tests.support.throttle_proxy import ThrottleProxy

CI_SEEDS = "1-2"
LOG_DIR = Path(os.environ.get("DDBVAULT_TEST_LOGS", "/tmp/ddbvault-test-logs"))  # as tests/conftest.py
SOURCE = "fault-source"
BUCKET = "fault-suite"
SOURCE_ITEMS = 1500  # edge cases (400 KB items, 38-digit numbers, every type) + ~4 KB items: ~6.2 MB


def seeds() -> list[int]:
    text = os.environ.get("DDBVAULT_FAULT_SEEDS") or CI_SEEDS
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        out += list(range(int(low), int(high or low) + 1))
    return out


def pytest_generate_tests(metafunc):
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", seeds())


@pytest.fixture(scope="module")
def world(aws_env):
    """moto_server with the source table (client and canonical forms) and the bucket; one
    fault-injecting proxy in front of it for DynamoDB and S3."""
    ddb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    create_table(ddb, SOURCE)
    items = fill_table(ddb, SOURCE, SOURCE_ITEMS, payload_bytes=3000)
    s3.create_bucket(Bucket=BUCKET)
    source = {key_of(w): canonical_bytes(w) for w in map(item_to_wire, items)}
    with ThrottleProxy(aws_env) as proxy:
        yield {"moto_url": aws_env, "proxy": proxy, "s3": s3, "ddb": ddb, "bucket": BUCKET,
               "source_table": SOURCE, "source_items": source}


def pytest_terminal_summary(terminalreporter):
    if not TOTALS.runs:
        return
    line = TOTALS.line()
    terminalreporter.write_sep("=", "fault suite totals")
    terminalreporter.write_line(f"seeds {os.environ.get('DDBVAULT_FAULT_SEEDS') or CI_SEEDS} "
                                "(replay one: DDBVAULT_FAULT_SEEDS=N, see docs/faults.md)")
    terminalreporter.write_line(line)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "fault-totals.json").write_text(json.dumps({**TOTALS.to_dict(), "line": line}, indent=1))
