"""The events notifications carry: RunEvent (what one scheduled backup run did), RpoEvent (a
job fell out of its recovery point objective, or came back within it) and GapEvent (a follow job
recorded a gap in a table's change log: changes in that interval may be missing).

A RunEvent is built once per run, from a BackupResult or from the exception that ended the run;
an RpoEvent once per change of a job's RPO state, from a service.rpo.Protection. Each is handed
to every notifier. Both have `job`, `table`, `outcome` and `to_dict()`, which is all a notifier
reads besides render(), so the notifiers handle both alike. They carry counts, names, URLs and
timings only: never item contents, never credentials (invariant 7). Free text (error messages,
hints, the RPO summary) is passed through redact() on the way in, so an event is safe to render,
log or serialize as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from ..errors import DdbvaultError
from ..exit_codes import ExitCode
from ..plural import counted
from .redact import redact, shorten

if TYPE_CHECKING:  # event.py stays pure: ddbvault.backup pulls in boto3
    from ..backup import BackupResult
    from ..runtime.each_table import TablesRun
    from ..service.rpo import Protection

__all__ = ["Event", "GapEvent", "Outcome", "RpoEvent", "RpoOutcome", "RunEvent", "ERROR_MESSAGE_LIMIT"]

Outcome = Literal["success", "failure"]
RpoOutcome = Literal["rpo_breach", "rpo_recovered"]
ERROR_MESSAGE_LIMIT = 1000  # characters of an error message kept in an event


def _utc(moment: datetime | None) -> datetime:
    """`moment` as an aware UTC datetime; now if None; naive datetimes are taken as UTC."""
    if moment is None:
        return datetime.now(timezone.utc)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
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
    # A job with `tables:` (from_tables): one entry per table, {table, ok, items, url} or
    # {table, ok, error}; empty for a job of one table.
    tables: tuple[dict, ...] = ()
    # What ran: "backup", or "follow" (a pass of a `kind: follow` job: only its failures are sent).
    action: Literal["backup", "follow"] = "backup"

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
                   backup_url: str | None = None, action: Literal["backup", "follow"] = "backup") -> RunEvent:
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
                   exit_code=code, action=action)

    @classmethod
    def from_tables(cls, job: str, run: TablesRun, *, started_at: datetime,
                    finished_at: datetime | None = None, verified: bool | None = None) -> RunEvent:
        """The one event of a run of several tables (runtime/each_table.TablesRun): a success
        when every table succeeded, else a failure whose error names each failed table and says
        which succeeded. `table` names every table; counts are sums over the tables backed up."""
        done = [o.result for o in run.succeeded]
        entries = tuple({"table": o.table, "ok": True, "items": o.result.items, "url": o.result.url} if o.ok else
                        {"table": o.table, "ok": False, "error": shorten(redact(o.error["message"]), 300)}
                        for o in run.outcomes)
        common = dict(job=job, table=", ".join(o.table for o in run.outcomes), started_at=_utc(started_at),
                      finished_at=_utc(finished_at), items=sum(r.items for r in done),
                      bytes=sum(r.bytes for r in done), objects=sum(r.objects for r in done),
                      consumed_rcu=sum(r.consumed_rcu for r in done), verified=verified, tables=entries)
        if run.ok:
            return cls(outcome="success", **common)
        failed = run.failed
        error = (f"{len(failed)} of {counted(len(run.outcomes), 'table')} failed: "
                 + "; ".join(f"{o.table}: {o.error['message']}" for o in failed)
                 + (f". Backed up: {', '.join(o.table for o in run.succeeded)}" if run.succeeded else ""))
        hint = failed[0].error.get("hint")
        return cls(outcome="failure", error_type="TablesFailed",
                   error=shorten(redact(error), ERROR_MESSAGE_LIMIT),
                   hint=shorten(redact(hint), ERROR_MESSAGE_LIMIT) if hint else None,
                   exit_code=run.exit_code, **common)

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO-8601 UTC strings, plus `seconds`."""
        data = asdict(self)
        data["tables"] = list(self.tables)
        data["started_at"] = _iso(self.started_at)
        data["finished_at"] = _iso(self.finished_at)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True)
class RpoEvent:
    """A job's table fell out of its RPO ("rpo_breach") or came back within it ("rpo_recovered"),
    as found by the service's check at `checked_at`. Immutable; safe to share between threads.

    `last_good_at` is the recovery point (start) of the newest good backup, None if there is
    none; `age_seconds` its age at `checked_at`; `error` is set when the destination could not be listed: the state is unknown and
    counts as a breach. `summary` is the one line the status page, `ddbvault status` and the
    logs show for the same state ("out of RPO 26h: newest good backup 27h old")."""

    job: str
    table: str
    outcome: RpoOutcome
    checked_at: datetime
    rpo_seconds: float
    summary: str
    last_good_at: datetime | None = None
    last_good_url: str | None = None
    age_seconds: float | None = None
    error: str | None = None

    @property
    def breached(self) -> bool:
        return self.outcome == "rpo_breach"

    @classmethod
    def from_protection(cls, protection: Protection) -> RpoEvent:
        """The event for a job whose state just became `protection` (its `within` decides)."""
        p = protection
        error = shorten(redact(p.error), ERROR_MESSAGE_LIMIT) if p.error else None
        return cls(job=p.job, table=p.table, outcome="rpo_recovered" if p.within else "rpo_breach",
                   checked_at=_utc(p.checked_at), rpo_seconds=float(p.rpo_seconds),
                   summary=shorten(redact(p.summary()), ERROR_MESSAGE_LIMIT),
                   last_good_at=_utc(p.last_good_at) if p.last_good_at else None,
                   last_good_url=p.last_good_url, age_seconds=p.age_seconds, error=error)

    def to_dict(self) -> dict:
        """JSON-ready: times as ISO-8601 UTC strings (None when unknown), plus `within_rpo`."""
        data = asdict(self)
        data["checked_at"] = _iso(self.checked_at)
        data["last_good_at"] = _iso(self.last_good_at)
        data["within_rpo"] = not self.breached
        return data


GAP_REASONS = ("trimmed", "follower_down", "stream_replaced", "stream_disabled", "shard_lost")
_GAP_FIELD_LIMIT = 300  # characters of one field of a gap record kept in an event


@dataclass(frozen=True)
class GapEvent:
    """A follow job recorded a gap in `table`'s change log (docs/format.md, the change log):
    between `gap_from` (the last time known covered; None: unknown) and `gap_to` (the first time
    covered again) changes may be missing, so no point-in-time restore can cross it. `reason` is
    one of GAP_REASONS ("unknown" for anything else). Built from the gap record the follower
    returned, every field a string cut to _GAP_FIELD_LIMIT and redacted: a gap record read back
    from the vault is hostile input. Immutable; safe to share between threads."""

    job: str
    table: str
    reason: str
    gap_from: str | None
    gap_to: str | None
    detected_at: str | None
    stream_arn: str | None = None
    shard_id: str | None = None
    outcome: Literal["change_log_gap"] = "change_log_gap"

    @property
    def summary(self) -> str:
        return f"change log gap ({self.reason}) from {self.gap_from or 'unknown'} to {self.gap_to or 'unknown'}"

    @classmethod
    def from_gap(cls, job: str, table: str, gap: dict) -> GapEvent:
        """The event for one gap dict ({"from", "to", "reason", "stream_arn", "shard_id",
        "detected_at", ...}); missing or malformed fields become None, an unknown reason "unknown"."""
        gap = gap if isinstance(gap, dict) else {}

        def text(key: str) -> str | None:
            value = gap.get(key)
            return shorten(redact(value), _GAP_FIELD_LIMIT) if isinstance(value, str) and value else None

        reason = gap.get("reason")
        return cls(job=job, table=table, reason=reason if reason in GAP_REASONS else "unknown",
                   gap_from=text("from"), gap_to=text("to"), detected_at=text("detected_at"),
                   stream_arn=text("stream_arn"), shard_id=text("shard_id"))

    def to_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary}


Event = RunEvent | RpoEvent | GapEvent  # what a notifier's send() takes
