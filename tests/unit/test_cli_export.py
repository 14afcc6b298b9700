"""The CLI of the export engine: its times, the two meanings of backup's --to, restore --then."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest

from ddbvault import cli
from ddbvault.backup.via_export import parse_time
from ddbvault.cli import _dest_and_end, _export_times
from ddbvault.errors import UsageError

T1 = datetime(2026, 11, 30, 10, tzinfo=timezone.utc)


def test_cli_times_and_the_two_meanings_of_to():
    assert parse_time("2026-11-30T10:00:00Z", "--from") == T1
    assert parse_time("2026-11-30T11:00:00+01:00", "--from") == T1
    with pytest.raises(UsageError, match="is not a UTC time"):
        parse_time("2026-11-30T10:00:00", "--from")  # no zone: ambiguous
    assert _dest_and_end(("s3://v/p",), None, parse_time) == ("s3://v/p", None)
    assert _dest_and_end(("2026-11-30T11:00:00Z", "s3://v/p"), None, parse_time) == ("s3://v/p", "2026-11-30T11:00:00Z")
    with pytest.raises(UsageError, match="given once"):
        _dest_and_end(("s3://v/p", "s3://v/q"), None, parse_time)
    times = _export_times("export", None, True, "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", parse_time)
    assert times == {"export_time": None, "export_from": T1, "export_to": T1 + timedelta(hours=1)}
    with pytest.raises(UsageError, match="need --engine export"):
        _export_times("scan", "2026-11-30T10:00:00Z", False, None, None, parse_time)
    with pytest.raises(UsageError, match="--incremental takes --from and --to"):
        _export_times("export", None, False, "2026-11-30T10:00:00Z", None, parse_time)


def _exit_code_of(argv: list[str]) -> int:
    """cli.main() run with `argv`; its exit code."""
    old, sys.argv = sys.argv, argv
    try:
        with pytest.raises(SystemExit) as exited:
            cli.main()
    finally:
        sys.argv = old
    return exited.value.code


def test_restore_then_is_refused_with_from(capsys):
    argv = ["ddbvault", "restore", "--from", "s3://v/p", "--tables", "t*", "--rename", "t*=u*", "--then", "s3://v/p/t/x"]
    assert _exit_code_of(argv) == 2
    assert "--then applies incremental exports on top of one BACKUP_URL" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_utc_calendar_is_a_usage_error(text):
    # it raised OverflowError (exit 1, "unexpected OverflowError") converting to UTC
    with pytest.raises(UsageError, match="is not a UTC time"):
        parse_time(text, "--export-time")


@pytest.mark.parametrize("deadline", ["nan", "inf"])
def test_a_deadline_that_never_passes_is_refused(capsys, deadline):
    # click's FloatRange(min=1) lets nan and inf through; a NaN deadline never passes
    argv = ["ddbvault", "backup", "orders", "--to", "s3://vault/p", "--engine", "export", "--export-deadline", deadline]
    assert _exit_code_of(argv) == 2
    assert "--export-deadline" in capsys.readouterr().err
