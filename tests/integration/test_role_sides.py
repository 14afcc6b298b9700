"""The role options act on the account they name, on moto: the table lives in the caller's account,
the vault bucket in another account reached through --vault-role. moto gives a role assumed in
another account that account's view, so a role given to the wrong side finds no table (or no
bucket) and the command fails. The old spellings do the same through the real CLI, with one
deprecation line on stderr. (tests/unit/test_cli_roles.py covers every command and spelling.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest

from ddbvault.aws.session import Principal, make_session
from ddbvault.exit_codes import ExitCode
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
VAULT_ACCOUNT = "222233334444"
VAULT_ROLE = f"arn:aws:iam::{VAULT_ACCOUNT}:role/backup-writer"
DEST = "s3://sides-vault/prod"


def ddbvault(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def deprecations(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if "deprecated" in line]


@pytest.fixture(scope="module")
def vault(ddb):
    create_table(ddb, "sides")
    fill_table(ddb, "sides", 25, edge_cases=False)
    session = make_session(Principal(role_arn=f"arn:aws:iam::{VAULT_ACCOUNT}:role/admin", session_name="admin"))
    session.client("s3").create_bucket(Bucket="sides-vault")
    return session


@pytest.fixture(scope="module")
def backup_url(vault, aws_env):
    proc = ddbvault("backup", "sides", "--to", DEST, "--vault-role", VAULT_ROLE, "--read-rcu", "10000", "--json")
    assert proc.returncode == 0 and not deprecations(proc), proc.stderr
    return json.loads(proc.stdout)["url"]


def test_vault_role_writes_the_other_accounts_bucket(vault, backup_url):
    key = backup_url.removeprefix("s3://sides-vault/") + "/manifest.json"
    assert vault.client("s3").head_object(Bucket="sides-vault", Key=key)["ContentLength"] > 0
    assert "sides-vault" not in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]


def test_the_vault_role_given_as_the_table_role_finds_no_table(vault, aws_env):
    proc = ddbvault("backup", "sides", "--to", DEST, "--table-role", VAULT_ROLE, "--read-rcu", "10000")
    assert proc.returncode == ExitCode.NOT_FOUND, proc.stderr


def test_backup_dest_role_is_the_vault_role_and_source_role_the_table_role(vault, aws_env):
    proc = ddbvault("backup", "sides", "--to", DEST, "--dest-role", VAULT_ROLE, "--read-rcu", "10000", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"] == 25  # stdout is the JSON object alone
    assert deprecations(proc) == ["ddbvault: warning: --dest-role is deprecated and goes away in the next "
                                  "release; use --vault-role"]
    proc = ddbvault("backup", "sides", "--to", DEST, "--source-role", VAULT_ROLE, "--read-rcu", "10000")
    assert proc.returncode == ExitCode.NOT_FOUND, proc.stderr  # the table side, where no table is
    assert "use --table-role" in deprecations(proc)[0]


def test_restore_source_role_reads_the_vault_and_the_table_stays_in_the_callers_account(ddb, backup_url):
    proc = ddbvault("restore", backup_url, "--table", "sides-copy", "--source-role", VAULT_ROLE,
                    "--write-wcu", "10000", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"] == 25
    assert "use --vault-role" in deprecations(proc)[0]
    assert ddb.scan(TableName="sides-copy", Select="COUNT")["Count"] == 25  # in the caller's account


def test_restore_table_role_creates_the_table_in_the_roles_account(vault, ddb, backup_url):
    proc = ddbvault("restore", backup_url, "--table", "sides-there", "--vault-role", VAULT_ROLE,
                    "--table-role", VAULT_ROLE, "--write-wcu", "10000")
    assert proc.returncode == 0, proc.stderr
    assert "sides-there" in vault.client("dynamodb").list_tables()["TableNames"]
    assert "sides-there" not in ddb.list_tables()["TableNames"]


@pytest.mark.parametrize("spelling", ["--vault-role", "--source-role"])
def test_verify_and_list_read_the_vault_through_either_spelling(backup_url, spelling):
    proc = ddbvault("verify", backup_url, spelling, VAULT_ROLE, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"], proc.stderr
    listed = ddbvault("list", DEST, "--table", "sides", spelling, VAULT_ROLE, "--json")
    assert listed.returncode == 0, listed.stderr
    assert backup_url in [entry["url"] for entry in json.loads(listed.stdout)]
    assert len(deprecations(proc)) == len(deprecations(listed)) == (spelling == "--source-role")
