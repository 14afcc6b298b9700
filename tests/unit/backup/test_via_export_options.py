"""backup --engine export: what is refused before any AWS call, the ClientToken, the CLI's times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ddbvault.backup import BackupOptions
from ddbvault.backup.via_export import check_export_options, client_token, parse_time
from ddbvault.cli import _dest_and_end, _export_times
from ddbvault.errors import UsageError
from ddbvault.format.retention import KeepPolicy
from ddbvault.storage.destination import parse_destination

S3 = parse_destination("s3://vault/p")
T1 = datetime(2026, 11, 30, 10, tzinfo=timezone.utc)


def test_client_token_is_stable_per_backup_and_differs_between_backups():
    token = client_token("arn:t", "20261130T100000Z-abcdef")
    assert token == client_token("arn:t", "20261130T100000Z-abcdef")
    assert token != client_token("arn:t", "20261130T100000Z-abcdee") != client_token("arn:u", "20261130T100000Z-abcdef")
    assert "$" not in token  # ClientToken's pattern: ^[^$]+$


@pytest.mark.parametrize("options,dest,message", [
    (BackupOptions(engine="export"), "/tmp/x", "needs an s3:// destination"),
    (BackupOptions(engine="export", schema_only=True), "s3://vault/p", "--schema-only"),
    (BackupOptions(engine="export", keep=KeepPolicy(daily=7)), "s3://vault/p", "--keep"),
    (BackupOptions(engine="export", backup_id="nope"), "s3://vault/p", "is not a backup id"),
    (BackupOptions(engine="export", export_deadline_s=0), "s3://vault/p", "--export-deadline"),
    (BackupOptions(engine="export", export_from=T1), "s3://vault/p", "--incremental takes --from and --to"),
    (BackupOptions(engine="export", export_from=T1, export_to=T1 + timedelta(minutes=14)), "s3://vault/p",
     "15 minutes to 24 hours"),
    (BackupOptions(engine="export", export_from=T1, export_to=T1 + timedelta(hours=24, seconds=1)), "s3://vault/p",
     "15 minutes to 24 hours"),
    (BackupOptions(engine="export", export_from=T1 + timedelta(hours=1), export_to=T1), "s3://vault/p",
     "15 minutes to 24 hours"),
])
def test_refused_before_any_aws_call(options, dest, message):
    with pytest.raises(UsageError, match=message):
        options.validate()
        check_export_options(options, parse_destination(dest))


def test_scan_refuses_export_times_and_an_unknown_engine():
    with pytest.raises(UsageError, match="need --engine export"):
        BackupOptions(export_time=T1).validate()
    with pytest.raises(UsageError, match="--engine must be"):
        BackupOptions(engine="snapshot").validate()
    check_export_options(BackupOptions(engine="export", export_from=T1, export_to=T1 + timedelta(minutes=15)), S3)


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
