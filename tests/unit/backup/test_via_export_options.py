"""backup --engine export: what is refused before any AWS call, the ClientToken, the polling."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ddbvault.backup import BackupOptions
from ddbvault.backup.via_export import check_export_options, client_token
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
     "ends before it starts"),  # it said the window "is -1 day, 23:00:00"
    (BackupOptions(engine="export", export_from=T1, export_to=T1), "s3://vault/p", "ends before it starts"),
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


class _Exports:
    """DescribeExport answers in turn, the waits asked for, and a clock that moves by them."""

    table = "orders"

    def __init__(self, *answers: dict):
        self.answers, self.waits, self.now = list(answers), [], 0.0

    def call(self, action, fn, resource=None):
        return {"ExportDescription": self.answers.pop(0)}

    def wait(self, seconds):
        self.waits.append(seconds)
        self.now += seconds
        return False  # not cancelled


def _wait_for(exports: _Exports, deadline_s: float = 1000.0):
    from types import SimpleNamespace

    from ddbvault.backup.via_export import _wait
    from ddbvault.format.layout import BackupLayout

    cancelled = SimpleNamespace(wait=exports.wait)
    return _wait(exports, "arn:e", BackupOptions(export_deadline_s=deadline_s),
                 BackupLayout("p", "orders", "20261130T100000Z-abcdef"), "s3://v/p/orders/x", cancelled,
                 clock=lambda: exports.now)


def test_polling_backs_off_doubling_up_to_a_minute():
    running = {"ExportStatus": "IN_PROGRESS"}
    exports = _Exports(*[running] * 9, {"ExportStatus": "COMPLETED", "ItemCount": 3})
    assert _wait_for(exports)["ItemCount"] == 3
    assert exports.waits == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_failed_export_is_one_line_with_its_code_and_message():
    from ddbvault.errors import AwsError

    exports = _Exports({"ExportStatus": "FAILED", "FailureCode": "S3NoSuchBucket",
                        "FailureMessage": "The bucket\n  does not exist"})
    with pytest.raises(AwsError, match="FAILED: S3NoSuchBucket: The bucket does not exist; no manifest") as raised:
        _wait_for(exports)
    assert raised.value.code == "S3NoSuchBucket"


def test_past_the_deadline_the_error_says_how_to_resume():
    from ddbvault.errors import AwsError

    exports = _Exports(*[{"ExportStatus": "IN_PROGRESS"}] * 10)
    with pytest.raises(AwsError, match="still IN_PROGRESS after the 5 s deadline; it continues on AWS's side") as raised:
        _wait_for(exports, deadline_s=5)
    assert exports.waits == [1, 2, 2]  # the last wait is cut at the deadline
    assert "--backup-id 20261130T100000Z-abcdef" in raised.value.hint and raised.value.code == "ExportDeadline"
