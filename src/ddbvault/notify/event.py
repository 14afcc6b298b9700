"""RunEvent: what one scheduled backup run did, as notifications see it.

A RunEvent is built once per run, from a BackupResult or from the exception that ended the run,
and handed to every notifier. It carries counts, names and timings only: never item contents,
never credentials (invariant 7). Error messages and hints are passed through redact() on the way
in, so a RunEvent is safe to render, log or serialize as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from ..errors import DdbvaultError
from ..exit_codes import ExitCode
from .redact import redact, shorten

if TYPE_CHECKING:  # event.py stays pure: ddbvault.backup pulls in boto3
    from ..backup import BackupResult

__all__ = ["Outcome", "RunEvent", "ERROR_MESSAGE_LIMIT"]

Outcome = Literal["success", "failure"]
ERROR_MESSAGE_LIMIT = 1000  # characters of an error message kept in an event


def _utc(moment: datetime | None) -> datetime:
    """`moment` as an aware UTC datetime; now if None; naive datetimes are taken as UTC."""
    if moment is None:
        return datetime.now(timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class RunEvent:
    """One run of one job on one table. Immutable; safe to share between threads."""

    job: str
    table: str
    outcome: Outcome
    started_at: datetime
    finished_at: datetime
    backup_url: str | None = None
    backup_id: str | None = None
    items: int | None = None
    bytes: int | None = None
    objects: int | None = None
    consumed_rcu: float | None = None
    verified: bool | None = None  # None: no verification was run
    error_type: str | None = None
    error: str | None = None
    hint: str | None = None
    exit_code: int = int(ExitCode.OK)

    @property
    def seconds(self) -> float:
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)

    @property
    def failed(self) -> bool:
        return self.outcome == "failure"

    @classmethod
    def from_result(cls, job: str, result: BackupResult, *, started_at: datetime | None = None,
                    finished_at: datetime | None = None, verified: bool | None = None) -> RunEvent:
        """A success event. Without `started_at`, it is `finished_at` less the run's duration."""
        finished = _utc(finished_at)
        started = _utc(started_at) if started_at else finished - timedelta(seconds=result.seconds)
        return cls(job=job, table=result.table, outcome="success", started_at=started,
                   finished_at=finished, backup_url=result.url, backup_id=result.backup_id,
                   items=result.items, bytes=result.bytes, objects=result.objects,
                   consumed_rcu=result.consumed_rcu, verified=verified)

    @classmethod
    def from_error(cls, job: str, table: str, error: BaseException, *,
                   started_at: datetime | None = None, finished_at: datetime | None = None,
                   backup_url: str | None = None) -> RunEvent:
        """A failure event. A DdbvaultError gives its message, hint and exit code; any other
        exception gives its type name and a redacted, shortened message, and exit code 1."""
        finished = _utc(finished_at)
        started = _utc(started_at) if started_at else finished
        if isinstance(error, DdbvaultError):
            message, hint, code = error.message, error.hint, int(error.exit_code)
        else:
            message, hint, code = str(error), None, int(ExitCode.FAILURE)
        return cls(job=job, table=table, outcome="failure", started_at=started,
                   finished_at=finished, backup_url=backup_url, error_type=type(error).__name__,
                   error=shorten(redact(message) or "(no message)", ERROR_MESSAGE_LIMIT),
                   hint=shorten(redact(hint), ERROR_MESSAGE_LIMIT) if hint else None,
                   exit_code=code)

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO-8601 UTC strings, plus `seconds`."""
        data = asdict(self)
        data["started_at"] = _iso(self.started_at)
        data["finished_at"] = _iso(self.finished_at)
        data["seconds"] = round(self.seconds, 3)
        return data
