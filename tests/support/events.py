"""RunEvents for notification tests: one success, one failure whose error quotes fake secrets."""

from __future__ import annotations

from datetime import datetime, timezone

from ddbvault.backup import BackupResult
from ddbvault.errors import AccessDeniedError
from ddbvault.notify import RunEvent

STARTED = datetime(2026, 11, 27, 8, 19, 0, tzinfo=timezone.utc)
FINISHED = datetime(2026, 11, 27, 8, 21, 30, tzinfo=timezone.utc)
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ITEM_VALUE = "alice@example.org-private-note"  # an attribute value that must never leak


def backup_result(table: str = "orders") -> BackupResult:
    return BackupResult(url=f"s3://acme-backups/prod/{table}/20261127T081900Z-3f9a1c",
                        backup_id="20261127T081900Z-3f9a1c", table=table, items=12345,
                        bytes=5_242_880, objects=3, consumed_rcu=1536.5, seconds=150.0,
                        manifest="manifest.json", read_rate_rcu=250.0, segments=4,
                        raw_bytes=9_000_000, throttle_retries=0)


def success_event(job: str = "nightly-orders", table: str = "orders") -> RunEvent:
    return RunEvent.from_result(job, backup_result(table), started_at=STARTED,
                                finished_at=FINISHED, verified=True)


def failure_event(job: str = "nightly-orders", table: str = "orders") -> RunEvent:
    error = AccessDeniedError(
        f"PutObject on s3://acme-backups/prod/{table}/x failed: AccessDenied; "
        "missing permission: s3:PutObject",
        f"grant s3:PutObject on s3://acme-backups/prod/{table}/x to the principal making the call",
        action="PutObject", resource=f"s3://acme-backups/prod/{table}/x", code="AccessDenied",
        permission="s3:PutObject")
    return RunEvent.from_error(job, table, error, started_at=STARTED, finished_at=FINISHED)


def leaky_error() -> RuntimeError:
    """An unexpected exception whose message quotes credentials (as a careless library might)."""
    return RuntimeError(f"connect failed: aws_access_key_id={FAKE_KEY_ID} "
                        f"aws_secret_access_key={FAKE_SECRET} "
                        "proxy https://deploy:s3cr3t-pw@proxy.internal:3128/ password=hunter2")
