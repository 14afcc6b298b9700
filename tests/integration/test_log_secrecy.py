"""No verbosity logs a credential or an item value (invariant 7): backup and restore at -vv."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.tables import create_table

pytestmark = pytest.mark.integration

ACCESS_KEY = "AKIALOGSECRECYTEST01"
SECRET_KEY = "logSecrecySecretKey0123456789abcdefghijkl"
SESSION_TOKEN = "logSecrecySessionTokenXYZ987"
ITEM_VALUE = "SECRETITEMVALUE-7f3a"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
               AWS_SESSION_TOKEN=SESSION_TOKEN)
    return subprocess.run([sys.executable, "-m", "ddbvault", "-vv", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def assert_secret(stderr: str) -> None:
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, ITEM_VALUE):
        assert secret not in stderr
    assert "Authorization" not in stderr and "X-Amz-Security-Token" not in stderr


def test_backup_and_restore_at_debug_log_no_credential_or_item_value(ddb, aws_env, tmp_path):
    create_table(ddb, "secrets")
    ddb.batch_write_item(RequestItems={"secrets": [
        {"PutRequest": {"Item": {"pk": {"S": f"user#{i}"}, "sk": {"N": str(i)}, "v": {"S": f"{ITEM_VALUE}-{i}"}}}}
        for i in range(20)]})
    backup = run_cli("backup", "secrets", "--to", str(tmp_path), "--json", "--read-rcu", "1000")
    assert backup.returncode == 0, backup.stderr
    assert " INFO " in backup.stderr  # -vv does log: it is the wire content that is kept out
    assert_secret(backup.stderr)
    restore = run_cli("restore", json.loads(backup.stdout)["url"], "--table", "secrets-copy")
    assert restore.returncode == 0, restore.stderr
    assert_secret(restore.stderr)
    assert ddb.scan(TableName="secrets-copy", Select="COUNT")["Count"] == 20
