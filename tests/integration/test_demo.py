"""The README's first command: `ddbvault demo` backs up, verifies and restores across accounts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_demo_backs_up_verifies_and_restores_identically():
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "demo", "--items", "300", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["items"] == 300 and report["objects"] >= 1
    assert report["production_account"] != report["data_account"]
    assert report["url"].startswith("s3://ddbvault-demo-backups/prod/demo-orders/")
    assert report["sse"] == "AES256" and report["verified"] is True
    restore = report["restore"]
    assert restore["items"] == 300 and restore["account"] not in (report["production_account"], report["data_account"])
    assert restore["items_identical"] is True and restore["schema_identical"] is True
