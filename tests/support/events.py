"""Events for notification tests: a run's success, a run's failure whose error quotes fake secrets,
RPO breaches and recoveries; and FakeNotifier, which records what it is sent."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ddbvault.backup import BackupResult
from ddbvault.errors import AccessDeniedError
from ddbvault.notify import RpoEvent, RunEvent

STARTED = datetime(2026, 11, 27, 8, 19, 0, tzinfo=timezone.utc)
FINISHED = datetime(2026, 11, 27, 8, 21, 30, tzinfo=timezone.utc)
CHECKED = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)  # when an RPO check ran
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


def protection(hours_old: float | None = 27.0, error: str | None = None, job: str = "nightly-orders",
               table: str = "orders", rpo_hours: float = 26.0):
    """A service.rpo.Protection checked at CHECKED: its newest good backup `hours_old` hours old
    (None: no backup yet), or, with `error`, a destination that could not be listed."""
    from ddbvault.service.rpo import Protection

    if hours_old is None or error is not None:
        return Protection(job, table, rpo_hours * 3600, CHECKED, error=error)
    good_at = CHECKED - timedelta(hours=hours_old)
    url = f"s3://acme-backups/prod/{table}/{good_at:%Y%m%dT%H%M%SZ}-3f9a1c"
    return Protection(job, table, rpo_hours * 3600, CHECKED, good_at, url)


def rpo_event(hours_old: float | None = 27.0, error: str | None = None, **names) -> RpoEvent:
    """A breach (the default: 27 h old, RPO 26 h) or, with hours_old within 26, a recovery."""
    return RpoEvent.from_protection(protection(hours_old, error, **names))


class FakeNotifier:
    """A Notifier that records each event it is sent, then raises `error` if one is given."""

    def __init__(self, kind: str = "webhook", on: str = "failure", error: Exception | None = None):
        self.kind, self.on, self.target, self.error = kind, on, f"fake://{kind}", error
        self.events = []

    def send(self, event):
        self.events.append(event)
        if self.error is not None:
            raise self.error
