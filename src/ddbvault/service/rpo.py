"""Recovery point objectives: is each job's table protected, and since when? Pure (no I/O).

A job's RPO is how old its newest good backup may be. It is the job's `rpo` (a duration such
as "26h"), or, when none is given, twice its schedule's period: twice `interval_seconds`, or
twice the longest gap between the cron expression's next fire times (DEFAULT_RPO_FIRES of them),
so a daily 03:00 backup gets 48 h and one run may fail without an alert; never more than
MAX_RPO_S (366 days), the most an explicit `rpo` may be.

The newest good backup is the newest COMPLETE backup of the job's table in its destination
(its manifest is written last, so COMPLETE proves every object is there, invariant 3), leaving
out any that this service saw fail `verify_after`. Its recovery point is the backup's start
time (from its id): a scan reads the table over its whole duration, so the start is the age a
restore can promise. A backup whose id is more than CLOCK_SKEW_S in the future is not good: no
clock may say a backup began later than now, and one that did would count as 0s old for ever
(a copied or hand-named backup). A job with no good backup is out of its RPO, never blank.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

COMPLETE = "complete"  # vault/listing.py's status of a backup whose manifest exists and parses
CLOCK_SKEW_S = 300  # how far in the future a backup's start may be (the writer's clock ahead of ours)
DEFAULT_RPO_FIRES = 20  # next cron fire times looked at for the default RPO
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.ASCII)
_UNIT_S = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_RPO_S = 366 * 86400  # the most an `rpo` may be, and the cap of the default one


def parse_duration(value) -> float:
    """Seconds in `value`: a number of seconds, or a string like "90m", "26h", "7d", "1w".
    Raises ValueError (naming the value) for anything else, zero, or more than a year."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 26h, 90m or 7d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 26h, 90m or 7d")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_RPO_S):
        raise ValueError(f"duration {value!r} must be more than 0 and at most 366 days")
    return seconds


def default_rpo(interval_seconds: float | None, fire_times: list[datetime]) -> float:
    """Twice the schedule's period: `interval_seconds`, else the longest gap between
    consecutive `fire_times` (the cron trigger's next fire times, at least two); at most
    MAX_RPO_S, the most an explicit `rpo` may be, so a yearly schedule gets 366 days."""
    if interval_seconds:
        return min(2 * interval_seconds, MAX_RPO_S)
    gaps = [(b - a).total_seconds() for a, b in zip(fire_times, fire_times[1:])]
    if not gaps:
        raise ValueError("a cron schedule with fewer than two upcoming runs has no period")
    return min(2 * max(gaps), MAX_RPO_S)


def format_duration(seconds: float | None) -> str:
    """A short human form: "45s", "12m", "26h", "3d 4h"."""
    if seconds is None:
        return "never"
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f}h".replace(".0h", "h")
    days, rest = divmod(seconds, 86400)
    return f"{days:.0f}d {rest / 3600:.0f}h"


@dataclass(frozen=True)
class Protection:
    """Whether one job's table is within its RPO at `checked_at` (UTC).

    `last_good_at` is the recovery point of the newest good backup (its start), None if there
    is none; `last_good_url` its URL. `rpo_seconds` and `age_seconds` are seconds. `error` is
    set when the destination could not be listed: then nothing is proven, and the job counts
    as out of its RPO."""

    job: str
    table: str
    rpo_seconds: float
    checked_at: datetime
    last_good_at: datetime | None = None
    last_good_url: str | None = None
    error: str | None = None

    @property
    def age_seconds(self) -> float | None:
        if self.last_good_at is None:
            return None
        return max((self.checked_at - self.last_good_at).total_seconds(), 0.0)

    @property
    def within(self) -> bool:
        age = self.age_seconds
        return self.error is None and age is not None and age <= self.rpo_seconds

    @property
    def state(self) -> str:
        """"within", "out" (too old, or no backup yet) or "unknown" (nothing could be listed:
        counted out, as `within` is False)."""
        return "unknown" if self.error else "within" if self.within else "out"

    def at(self, now: datetime) -> "Protection":
        """The same evidence seen at `now` (the age grows; nothing is listed again)."""
        return Protection(self.job, self.table, self.rpo_seconds, now, self.last_good_at,
                          self.last_good_url, self.error)

    def summary(self) -> str:
        """One line: "within RPO 26h: newest good backup 3.2h old" or why not."""
        rpo = format_duration(self.rpo_seconds)
        if self.error:
            return f"unknown (counted out of RPO {rpo}): {self.error}"
        if self.last_good_at is None:
            return f"out of RPO {rpo}: no backup yet"
        age = format_duration(self.age_seconds)
        return f"{'within' if self.within else 'out of'} RPO {rpo}: newest good backup {age} old"

    def to_dict(self) -> dict:
        return {"job": self.job, "table": self.table, "within_rpo": self.within,
                "rpo_seconds": self.rpo_seconds, "age_seconds": self.age_seconds,
                "last_good_at": utc_iso(self.last_good_at), "last_good_url": self.last_good_url,
                "checked_at": utc_iso(self.checked_at), "error": self.error, "summary": self.summary()}


def assess(job: str, table: str, rpo_seconds: float, entries, now: datetime,
           failed_verification: frozenset[str] = frozenset()) -> Protection:
    """The Protection of `job` from `entries` (vault/listing.BackupEntry of its destination, any
    tables, any order) at `now`. Backups whose URL is in `failed_verification`, or that start
    more than CLOCK_SKEW_S after `now`, do not count; nor do incremental exports (an entry with a
    `window`), which restore nothing without a full backup under them."""
    latest = now.timestamp() + CLOCK_SKEW_S
    good = [e for e in entries if e.table == table and e.status == COMPLETE and e.url not in failed_verification
            and not getattr(e, "window", None) and parse_time(e.time).timestamp() <= latest]
    newest = max(good, key=lambda e: e.time, default=None)
    if newest is None:
        return Protection(job, table, rpo_seconds, now)
    return Protection(job, table, rpo_seconds, now, parse_time(newest.time), newest.url)


def rpo_marks(entries, rpo_seconds: float, now: datetime) -> dict[str, Protection]:
    """`ddbvault list --rpo`: each table in `entries` (vault/listing.BackupEntry, any order) held
    to one RPO, keyed by the URL of the entry that carries the verdict: the table's newest good
    backup, or, for a table with none, its newest entry (then out: "no backup yet"). The
    Protection's job is the table's name. One pass over `entries`."""
    by_table: dict[str, list] = {}
    for entry in entries:
        by_table.setdefault(entry.table, []).append(entry)
    marks = {}
    for table, group in by_table.items():
        protection = assess(table, table, rpo_seconds, group, now)
        marks[protection.last_good_url or max(group, key=lambda e: e.backup_id).url] = protection
    return marks


def rpo_fields(protection: Protection | None) -> dict:
    """The fields `list --rpo --json` adds to an entry: its table's verdict on the entry that
    carries it (see rpo_marks), nulls on every other entry."""
    if protection is None:
        return {"within_rpo": None, "age_seconds": None}
    return {"within_rpo": protection.within, "age_seconds": protection.age_seconds}


def rpo_mark(protection: Protection) -> str:
    """The cell `list --rpo` shows: "within (5h old)", "OUT (30h old)", "OUT (no backup yet)"."""
    age = "no backup yet" if protection.last_good_at is None else f"{format_duration(protection.age_seconds)} old"
    return f"{'within' if protection.within else 'OUT'} ({age})"


def parse_time(stamp: str) -> datetime:
    """An ISO 8601 UTC time as written by ddbvault ("...Z") as an aware datetime."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc)


def utc_iso(moment: datetime | None) -> str | None:
    """`moment` as ISO 8601 UTC to the second ("2026-11-30T14:03:00Z"); None stays None."""
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
