"""The role options name the account they act on: --table-role/--table-external-id reach the
principal that calls DynamoDB, --vault-role/--vault-external-id (alias --external-id) the one that
calls the backup bucket, in every command. The old spellings are hidden, print one deprecation line
on stderr, map to the side they meant in each command, and conflict with the new one (exit 2).

The real command line is parsed (cli.main); the library call each command ends in is replaced by a
fake that records what it was given. tests/integration/test_role_sides.py proves the sides on moto.
"""

from __future__ import annotations

import json
import sys

import pytest

import ddbvault.doctor
import ddbvault.restore
import ddbvault.vault.listing
import ddbvault.verify
from ddbvault import cli
from ddbvault.errors import DdbvaultError
from ddbvault.exit_codes import ExitCode

T, V = "arn:aws:iam::111122223333:role/table-side", "arn:aws:iam::444455556666:role/vault-side"
URL = "s3://vault/prod/orders/20261130T000000Z-abcdef"
COMMANDS = {  # the command line before the role options
    "backup": ["backup", "orders", "--to", "s3://vault/prod"],
    "restore": ["restore", URL, "--table", "orders-copy"],
    "doctor": ["doctor", "--table", "orders", "--to", "s3://vault/prod"],
    "verify": ["verify", URL, "--against-table", "orders"],
    "list": ["list", "s3://vault/prod"],
}
OLD = {  # command -> old spelling -> (side, field of the Principal) it stands for
    "backup": {"--source-role": ("table", "role_arn"), "--source-external-id": ("table", "external_id"),
               "--dest-role": ("vault", "role_arn")},
    "doctor": {"--source-role": ("table", "role_arn"), "--source-external-id": ("table", "external_id"),
               "--dest-role": ("vault", "role_arn")},
    "restore": {"--source-role": ("vault", "role_arn"), "--source-external-id": ("vault", "external_id"),
                "--target-role": ("table", "role_arn"), "--target-external-id": ("table", "external_id")},
    "verify": {"--source-role": ("vault", "role_arn"), "--source-external-id": ("vault", "external_id")},
    "list": {"--source-role": ("vault", "role_arn"), "--source-external-id": ("vault", "external_id")},
}
NEW = {("table", "role_arn"): "--table-role", ("table", "external_id"): "--table-external-id",
       ("vault", "role_arn"): "--vault-role", ("vault", "external_id"): "--vault-external-id"}


class Reached(DdbvaultError):
    """Raised by the fakes: the command got as far as the library call."""


@pytest.fixture
def principals(monkeypatch):
    """The Principals each command hands to the library, by side ("table", "vault")."""
    seen: dict = {}

    def record(**sides):
        seen.update(sides)
        raise Reached("reached the library")

    monkeypatch.setattr(cli, "backup_table", lambda table, dest, options, progress:
                        record(table=options.table_principal, vault=options.vault_principal))
    monkeypatch.setattr(ddbvault.restore, "restore_backup", lambda url, table, options, progress:
                        record(vault=options.vault_principal, table=options.table_principal))
    monkeypatch.setattr(ddbvault.doctor, "run_doctor", lambda table, dest, options:
                        record(table=options.table_principal, vault=options.vault_principal))
    monkeypatch.setattr(ddbvault.verify, "verify_backup", lambda url, vault_principal, table_principal, **_:
                        record(vault=vault_principal, table=table_principal))
    monkeypatch.setattr(ddbvault.vault.listing, "list_backups", lambda dest, table, vault_principal:
                        record(vault=vault_principal))
    return seen


def run(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """cli.main() on `argv`: (exit code, stdout, stderr). main() returns normally on success."""
    monkeypatch.setattr(sys, "argv", ["ddbvault", *argv])
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def reached(code: int, err: str) -> None:
    assert code == ExitCode.FAILURE and "ddbvault: error: reached the library" in err, err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_new_options_reach_their_side(monkeypatch, capsys, principals, command):
    args = ["--vault-role", V, "--vault-external-id", "vault-id"]
    if command != "list":
        args += ["--table-role", T, "--table-external-id", "table-id"]
    code, _, err = run(monkeypatch, capsys, *COMMANDS[command], *args)
    reached(code, err)
    assert "deprecated" not in err
    assert (principals["vault"].role_arn, principals["vault"].external_id) == (V, "vault-id")
    if command != "list":
        assert (principals["table"].role_arn, principals["table"].external_id) == (T, "table-id")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_external_id_is_the_vault_roles_everywhere(monkeypatch, capsys, principals, command):
    code, _, err = run(monkeypatch, capsys, *COMMANDS[command], "--vault-role", V, "--external-id", "acme-prod")
    reached(code, err)
    assert principals["vault"].external_id == "acme-prod"
    assert "table" not in principals or principals["table"].external_id is None


@pytest.mark.parametrize("command, old, side, field", [
    (command, old, side, field) for command, olds in OLD.items() for old, (side, field) in olds.items()])
def test_each_old_spelling_maps_to_the_side_it_meant_and_says_so_on_stderr(monkeypatch, capsys, principals,
                                                                           command, old, side, field):
    value = T if field == "role_arn" else "old-id"
    role = [NEW[side, "role_arn"], T] if field == "external_id" else []  # an external id needs its role
    code, out, err = run(monkeypatch, capsys, *COMMANDS[command], *role, old, value, "--json")
    reached(code, err)
    assert getattr(principals[side], field) == value
    other = "vault" if side == "table" else "table"
    assert other not in principals or getattr(principals[other], field) is None
    warnings = [line for line in err.splitlines() if "deprecated" in line]
    assert warnings == [f"ddbvault: warning: {old} is deprecated and goes away in the next release; "
                        f"use {NEW[side, field]}"]
    assert "deprecated" not in out and out.startswith("{") and len(out.splitlines()) == 1  # --json stays clean


@pytest.mark.parametrize("command, old, side, field", [
    ("backup", "--source-role", "table", "role_arn"), ("backup", "--dest-role", "vault", "role_arn"),
    ("restore", "--source-role", "vault", "role_arn"), ("restore", "--target-external-id", "table", "external_id"),
    ("verify", "--source-external-id", "vault", "external_id"), ("list", "--source-role", "vault", "role_arn"),
])
def test_both_spellings_with_different_values_are_a_usage_error(monkeypatch, capsys, principals,
                                                               command, old, side, field):
    new = NEW[side, field]
    first, second = (T, V) if field == "role_arn" else ("id-one", "id-two")
    role = [NEW[side, "role_arn"], T] if field == "external_id" else []
    for order in ([old, first, new, second], [new, second, old, first]):
        code, out, err = run(monkeypatch, capsys, *COMMANDS[command], *role, *order)
        assert code == ExitCode.USAGE and not principals, err
        lines = err.strip().splitlines()
        assert lines[-2] == (f"ddbvault: error: {old} (the old spelling of {new}) and {new} give different "
                             f"values; give only {new}")
        assert lines[-1] == f"Try: ddbvault {command} --help"
    # the same value twice is no conflict
    code, _, err = run(monkeypatch, capsys, *COMMANDS[command], *role, old, first, new, first)
    reached(code, err)
    assert getattr(principals[side], field) == first


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_shows_the_new_options_and_hides_the_old(monkeypatch, capsys, command):
    code, out, _ = run(monkeypatch, capsys, COMMANDS[command][0], "--help")
    assert code == 0
    assert "--vault-role ARN" in out and "--vault-external-id, --external-id ID" in out
    assert ("--table-role ARN" in out) == (command != "list")
    for old in ("--source-role", "--source-external-id", "--dest-role", "--target-role", "--target-external-id"):
        assert old not in out


def test_iam_takes_the_vault_external_id_under_both_names(monkeypatch, capsys):
    base = ["iam", "--table", "orders", "--prod-account", "111122223333", "--data-account", "444455556666",
            "--bucket", "vault", "--writer-role", "ddbvault-writer", "--part", "data"]
    for name in ("--vault-external-id", "--external-id"):
        code, out, err = run(monkeypatch, capsys, *base, name, "acme-prod")
        assert code == 0, err
        assert '"sts:ExternalId": "acme-prod"' in out, out


VAULT_ID_ALONE = "--vault-external-id (or --external-id) needs --vault-role"
PAIRS = [(command, given, named) for command in COMMANDS
         for given, named in ((["--external-id", "acme-prod"], VAULT_ID_ALONE),
                              (["--vault-external-id", "acme-prod"], VAULT_ID_ALONE),
                              (["--table-external-id", "acme-prod"], "--table-external-id needs --table-role"))
         if not (command == "list" and given[0] == "--table-external-id")]  # list has no table side


@pytest.mark.parametrize("command, given, named", PAIRS)
def test_an_external_id_without_its_role_names_the_options(monkeypatch, capsys, principals, command, given, named):
    code, out, err = run(monkeypatch, capsys, *COMMANDS[command], *given, "--json")
    assert code == ExitCode.USAGE and named in err and "ddbvault-" not in err
    assert json.loads(out)["error"] == "UsageError" and not principals


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_malformed_role_arn_names_its_option(monkeypatch, capsys, principals, command):
    code, _, err = run(monkeypatch, capsys, *COMMANDS[command], "--vault-role", "arn:aws:iam::123:role/x")
    assert code == ExitCode.USAGE and "Invalid value for '--vault-role'" in err and "not an IAM role ARN" in err
