"""Which times of a table are restorable from its backups and its change log: pure arithmetic on
whole seconds since the epoch (docs/continuous-restore.md, "Which times are restorable").

A base (a complete full backup) spans [start, end]: a scan's started_at floored to end rounded
up, a full export's export_time for both. T is restorable from base B when B.end <= T,
B.start >= covered_from, no gap's open interval (from, to) meets [B.start, T], and
T <= known_until. `Coverage.window` is the union over bases; `Coverage.base_for` picks the
newest base for T or raises the one-line refusal naming what stops it (the gap, the log's end,
no base) and the nearest restorable times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..errors import NotFoundError, UsageError
from ..format.change_log import utc_text


def seconds_of(value) -> int:
    """Whole seconds since the epoch (floored) of a UTC time: an aware datetime, an int, or a
    string `...Z` / `...+00:00` (fractions allowed). Raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("not a time")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.endswith(("Z", "+00:00")):
            raise ValueError("not a UTC time")
        value = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return int(value.timestamp() // 1)
    raise ValueError("not a UTC time")


@dataclass(frozen=True)
class Gap:
    """A stretch where the log may miss changes: the open interval (start, end), whole seconds;
    start None: from the beginning. `key`: the gap object's key, or for reason "missing" (a hole
    in a shard's chain of segments, found by vault/chain.py, never written) the shard's URL."""

    start: int | None
    end: int
    reason: str
    key: str

    def blocks(self, since: int, until: int) -> bool:
        """True when a change in [since, until] may be missing."""
        return (self.start is None or self.start < until) and self.end > since

    def to_dict(self) -> dict:
        return {"from": None if self.start is None else utc_text(self.start), "to": utc_text(self.end),
                "reason": self.reason}

    def describe(self) -> str:
        start = "the beginning" if self.start is None else utc_text(self.start)
        where = f": segments of {self.key} are absent, their chain broken" if self.reason == "missing" else ""
        return f"a gap from {start} to {utc_text(self.end)} ({self.reason}{where})"


@dataclass(frozen=True)
class Base:
    """A complete full backup as a starting point: its URL, start and end (whole seconds; start
    floored, end rounded up)."""

    url: str
    start: int
    end: int


@dataclass(frozen=True)
class Coverage:
    """What the change log of `table` covers: from `covered_from` (None: no start.json) to
    `known_until` (None: no segment and no poll record), except its `gaps`."""

    table: str
    covered_from: int | None
    known_until: int | None
    gaps: list[Gap] = field(default_factory=list)

    def base_interval(self, base: Base) -> tuple[int, int] | None:
        """The times [from, to] restorable from `base`, or None."""
        covered, known = self.covered_from, self.known_until
        if covered is None or known is None or base.start < covered:
            return None
        end = known
        for gap in self.gaps:
            if gap.end > base.start:  # a gap from before the base blocks every T
                end = min(end, base.start - 1 if gap.start is None else gap.start)
        return (base.end, end) if base.end <= end else None

    def window(self, bases: list[Base]) -> list[tuple[int, int]]:
        """The restorable times: sorted, merged closed intervals [from, to] of whole seconds."""
        spans = sorted(filter(None, (self.base_interval(b) for b in bases)))
        merged: list[list[int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [(a, b) for a, b in merged]

    def base_for(self, at: int, bases: list[Base]) -> Base:
        """The newest base from which `at` is restorable. Raises NotFoundError (no base, no
        log) or UsageError naming the gap or the log's end, and the nearest restorable times."""
        known = self.known_until
        usable = [b for b in bases if (span := self.base_interval(b)) and span[0] <= at <= span[1]]
        if usable:
            return max(usable, key=lambda b: (b.end, b.start))
        nearest = self._nearest(at, bases)
        ended = [b for b in bases if b.end <= at]
        if not ended:
            raise NotFoundError(f"no complete full backup of {self.table} ends at or before {utc_text(at)}",
                                hint=nearest or "take a backup (scan or --engine export) while the follower runs")
        newest = max(ended, key=lambda b: (b.end, b.start))
        covered = self.covered_from
        if covered is None or newest.start < covered:
            reason = ("the table has no change log in the vault" if covered is None else
                      f"the change log covers only from {utc_text(covered)}, after the newest such backup "
                      f"started ({utc_text(newest.start)})")
            raise NotFoundError(f"cannot restore {self.table} to {utc_text(at)}: {reason}",
                                hint=nearest or "run `ddbvault follow`, then take a backup")
        blocking = [g for g in self.gaps if g.blocks(newest.start, at)]
        if blocking:
            gap = min(blocking, key=lambda g: g.end)
            raise UsageError(f"cannot restore {self.table} to {utc_text(at)}: the change log has "
                             f"{gap.describe()} between the newest backup before it ({utc_text(newest.start)}) "
                             f"and {utc_text(at)}", hint=nearest or "no time around it is restorable")
        if known is None:
            reason = "the change log has no segment yet, so it is known complete up to no time"
        else:
            reason = (f"the change log is known complete only up to {utc_text(known)} (what its newest "
                      f"segment or poll record vouches for), before that time")
        raise UsageError(f"cannot restore {self.table} to {utc_text(at)}: {reason}",
                         hint=nearest or "let the follower run, then try again")

    def _nearest(self, at: int, bases: list[Base]) -> str:
        window = self.window(bases)
        before = [b for _, b in window if b < at]
        after = [a for a, _ in window if a > at]
        parts = ([f"{utc_text(max(before))} (the nearest restorable time before)"] if before else []) + \
                ([f"{utc_text(min(after))} (the nearest after)"] if after else [])
        return "--at " + " or --at ".join(parts) if parts else ""


def bases_of(entries) -> list[Base]:
    """The full backups of `list_backups()` entries that a restore --at can start from: complete,
    holding items, not an incremental export, not expired (their objects may be gone). Scan:
    started_at (floored) .. finished_at (rounded up); export: export_time for both."""
    bases = []
    for entry in entries:
        if entry.status != "complete" or entry.schema_only or entry.window or entry.expired:
            continue
        try:
            if entry.export_time is not None:
                start = end = seconds_of(entry.export_time)
            else:
                start, end = seconds_of(entry.started_at), _ceiled(entry.finished_at)
        except (TypeError, ValueError):
            continue  # a manifest whose times are no UTC times starts no restore --at
        bases.append(Base(entry.url, start, end))
    return bases


def _ceiled(text: str) -> int:
    floor = seconds_of(text)
    whole = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return floor + (1 if whole.timestamp() > floor else 0)
