"""Keep policies and retention tiers: which tier a new backup gets, and when it expires.

A keep policy (`--keep daily=7,weekly=5,monthly=12,yearly=3`, or a service job's `retention:`)
keeps N backups of each tier. Nothing deletes: every object of a backup is tagged
`ddbvault-tier=<tier>` at write time, and one bucket lifecycle rule per tier expires what carries
that tag after the tier's days (iac/cloudformation.py's lifecycle_rules). So a tier's backups
live for `N × TIER_DAYS[tier]` days, which keeps at least N of them when one is taken per period.

Tier choice (`choose_tier`), at write time, before the first object: the highest tier
(yearly > monthly > weekly > daily) that the policy keeps and whose current period holds no
complete backup of that tier of the same table yet. Periods are calendar periods in UTC: the
year, the month, the ISO week (Monday to Sunday), the day; a backup's period is that of the time
its backup id encodes (its start). A backup that finds every slot taken gets the policy's lowest
tier (daily when the policy keeps dailies): it is never left untagged, so it always expires.

Pure: no I/O; time is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from ..errors import UsageError

TIERS = ("yearly", "monthly", "weekly", "daily")  # highest first
# Days one backup of a tier is kept per count: daily N -> N days, weekly N -> 7N, monthly
# N -> 31N (the longest month), yearly N -> 366N (a leap year). Rounding up keeps at least N.
TIER_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 366}
MAX_COUNT = 1000  # more than any real policy; S3 lifecycle days must stay below 2^31
TAG_KEY = "ddbvault-tier"
KEEP_EXAMPLE = "daily=7,weekly=5,monthly=12"
KEEP_HINT = f"write the policy as TIER=COUNT pairs, e.g. --keep {KEEP_EXAMPLE} (tiers: {', '.join(reversed(TIERS))})"
# ASCII digits only: `\d` alone also takes other scripts' digits (`daily=٣` would be read as 3).
_PAIR = re.compile(r"^\s*([a-z]+)\s*=\s*([0-9]+)\s*$", re.ASCII)
# The one form utc_text writes: a stored time in any other ISO 8601 spelling is refused, not guessed at.
_UTC_TEXT = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", re.ASCII)


@dataclass(frozen=True)
class KeepPolicy:
    """How many backups of each tier to keep; 0 keeps none of that tier."""

    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    def count(self, tier: str) -> int:
        return getattr(self, tier)

    @property
    def tiers(self) -> tuple[str, ...]:
        """The tiers kept (count > 0), highest first."""
        return tuple(t for t in TIERS if self.count(t) > 0)

    def days(self, tier: str) -> int:
        """How long a backup of `tier` lives: count × TIER_DAYS[tier] days."""
        return self.count(tier) * TIER_DAYS[tier]

    def to_text(self) -> str:
        """The policy as `--keep` takes it, lowest tier first: `daily=7,weekly=5`."""
        return ",".join(f"{t}={self.count(t)}" for t in reversed(self.tiers))

    def to_dict(self) -> dict[str, int]:
        return {t: self.count(t) for t in reversed(self.tiers)}


def parse_keep(text: str, where: str = "--keep") -> KeepPolicy:
    """`daily=7,weekly=5,monthly=12` as a KeepPolicy. Raises UsageError naming `where` for an
    unknown tier, a repeated tier, a count that is not a whole number 0..MAX_COUNT, or a policy
    that keeps nothing."""
    counts: dict[str, int] = {}
    for pair in (text or "").split(","):
        match = _PAIR.match(pair)
        if not match:
            raise UsageError(f"invalid {where} {text[:80]!r}: {pair.strip()[:40]!r} is not TIER=COUNT",
                             hint=KEEP_HINT)
        tier, digits = match.group(1), match.group(2).lstrip("0") or "0"
        if len(digits) > len(str(MAX_COUNT)):  # never int() it: Python refuses over 4,300 digits
            raise UsageError(f"invalid {where}: {tier[:20]}={digits[:8]}... ({len(digits)} digits) is out of "
                             f"range 0..{MAX_COUNT}", hint=KEEP_HINT)
        count = int(digits)
        _check_pair(tier, count, counts, where)
        counts[tier] = count
    return _policy(counts, where)


def keep_from_mapping(mapping: Mapping[str, Any], where: str = "retention") -> KeepPolicy:
    """A service config's `retention: {daily: 7, weekly: 5}` as a KeepPolicy (same rules as
    parse_keep; a count must be an integer, not a string or a boolean)."""
    if not isinstance(mapping, Mapping):
        raise UsageError(f"invalid {where}: expected a mapping of tier to count", hint=KEEP_HINT)
    counts: dict[str, int] = {}
    for tier, count in mapping.items():
        if isinstance(count, bool) or not isinstance(count, int):
            raise UsageError(f"invalid {where}.{tier}: the count must be a whole number", hint=KEEP_HINT)
        _check_pair(str(tier), count, counts, where)
        counts[str(tier)] = count
    return _policy(counts, where)


def _check_pair(tier: str, count: int, seen: Mapping[str, int], where: str) -> None:
    if tier not in TIER_DAYS:
        raise UsageError(f"invalid {where}: unknown tier {tier[:20]!r}", hint=KEEP_HINT)
    if tier in seen:
        raise UsageError(f"invalid {where}: tier {tier!r} is given twice", hint=KEEP_HINT)
    if not 0 <= count <= MAX_COUNT:
        raise UsageError(f"invalid {where}: {tier}={count} is out of range 0..{MAX_COUNT}", hint=KEEP_HINT)


def _policy(counts: Mapping[str, int], where: str) -> KeepPolicy:
    policy = KeepPolicy(**counts)
    if not policy.tiers:
        raise UsageError(f"invalid {where}: the policy keeps nothing (every count is 0)", hint=KEEP_HINT)
    return policy


def period_of(tier: str, when: datetime) -> tuple[int, ...]:
    """The calendar period (UTC) of `when` for `tier`: (year,), (year, month), (ISO year, ISO
    week) or (year, month, day)."""
    when = when.astimezone(timezone.utc)
    if tier == "yearly":
        return (when.year,)
    if tier == "monthly":
        return (when.year, when.month)
    if tier == "weekly":
        iso = when.isocalendar()
        return (iso.year, iso.week)
    return (when.year, when.month, when.day)


def choose_tier(policy: KeepPolicy, now: datetime, taken: Iterable[tuple[str, datetime]]) -> str:
    """The tier of a backup started at `now`, given `taken`: (tier, start time) of the table's
    complete backups. See the module docstring. A backup whose id says it started after `now`
    holds no slot: no backup can be complete before it starts, so its id is not to be believed
    (one dated 31 December would otherwise keep the year's yearly slot from every backup)."""
    taken = [(tier, when) for tier, when in taken if when <= now]
    for tier in policy.tiers:
        period = period_of(tier, now)
        if not any(t == tier and period_of(tier, when) == period for t, when in taken):
            return tier
    return policy.tiers[-1]


def period_start(tier: str, when: datetime) -> datetime:
    """The start (UTC) of the calendar period of `when` for `tier`."""
    day = when.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    if tier == "yearly":
        return day.replace(month=1, day=1)
    if tier == "monthly":
        return day.replace(day=1)
    if tier == "weekly":
        return day - timedelta(days=day.weekday())  # Monday: ISO weeks
    return day


def lookback_start(policy: KeepPolicy, now: datetime) -> datetime:
    """The earliest start of the policy's current periods: a backup that started before it
    holds no current slot, so choose_tier never needs its manifest read."""
    return min(period_start(tier, now) for tier in policy.tiers)


def expires_at(policy: KeepPolicy, tier: str, start: datetime) -> datetime:
    """When a backup of `tier` started at `start` expires: start + policy.days(tier)."""
    return start.astimezone(timezone.utc) + timedelta(days=policy.days(tier))


def utc_text(when: datetime) -> str:
    """`2026-11-30T15:40:24Z`: how the manifest stores times of retention (whole seconds, UTC)."""
    return when.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    """A stored time, exactly as utc_text writes it (`2026-11-30T15:40:24Z`), back as an aware
    datetime. Raises ValueError for anything else (a date alone, a week date, another offset)."""
    if not isinstance(text, str) or not _UTC_TEXT.fullmatch(text):
        raise ValueError("expected a UTC time such as 2026-11-30T15:40:24Z")
    value = datetime.fromisoformat(text[:-1] + "+00:00")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class Retention:
    """A backup's retention as its manifest records it (format 1.2, `retention`)."""

    tier: str
    expires_at: str  # UTC, `...Z`
    policy: dict[str, int]  # the keep policy it was chosen under

    def to_stored(self) -> dict:
        return {"tier": self.tier, "expires_at": self.expires_at, "policy": dict(self.policy)}

    def expired(self, now: datetime) -> bool:
        """True once now >= expires_at (lifecycle may remove its objects from then on)."""
        return now >= parse_utc(self.expires_at)


def retention_for(policy: KeepPolicy, tier: str, start: datetime) -> Retention:
    return Retention(tier, utc_text(expires_at(policy, tier, start)), policy.to_dict())


def tag_of(tier: str) -> str:
    """The URL-encoded S3 `Tagging` value of a tier's objects (tier names need no escaping)."""
    return f"{TAG_KEY}={tier}"
