"""The status page's pieces, one value each, as HTML: pure functions of their arguments (no I/O).

Every value is HTML-escaped here, once; callers join the returned fragments. Item contents are
never given to these functions. Conventions:
- a line of facts is built from the facts that exist (`joined`): no dangling separators;
- sizes in binary units, the exact bytes on hover (`title`);
- times in the job's time zone, the UTC time on hover and in `<time datetime>`.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..vault.listing import human_size
from .rpo import Protection, format_duration, parse_time, utc_iso

SEP = " · "


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def joined(parts) -> str:
    """The non-empty fragments of `parts`, separated by SEP."""
    return SEP.join(part for part in parts if part)


def size_text(size: int | None) -> str:
    """`1.2 KiB (1,234 bytes)`; "" when unknown. Plain text, for a tooltip."""
    return "" if size is None else f"{human_size(size)} ({size:,} bytes)"


def size_html(size: int | None) -> str:
    """The size in human units, with the exact bytes on hover; "" when unknown."""
    return "" if size is None else f'<span class="size" title="{size:,} bytes">{esc(human_size(size))}</span>'


def as_moment(stamp: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or a ddbvault UTC stamp ("...Z")."""
    if stamp is None or isinstance(stamp, datetime):
        return stamp
    return parse_time(stamp)


def local_text(moment: datetime, tz: str) -> str:
    """`2026-11-30 14:03:00 CET`: the moment in time zone `tz` (an IANA name)."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S %Z")


def utc_text(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def time_html(stamp: datetime | str | None, tz: str) -> str:
    """The moment in the job's time zone, UTC on hover; "" when None."""
    moment = as_moment(stamp)
    if moment is None:
        return ""
    return (f'<time datetime="{utc_iso(moment)}" title="{esc(utc_text(moment))}">'
            f"{esc(local_text(moment, tz))}</time>")


def seconds_text(seconds: float | None) -> str:
    """A run's duration: `0.244s`, `12.5s`, `3m`; "" when unknown."""
    if seconds is None:
        return ""
    return f"{seconds:.3g}s" if seconds < 100 else format_duration(seconds)


def read_rate(consumed_rcu: float | None, seconds: float | None) -> float | None:
    """The run's mean read rate in RCU/s; None when either is unknown or no time passed."""
    if consumed_rcu is None or not seconds:
        return None
    return consumed_rcu / seconds


def read_text(consumed_rcu: float | None, seconds: float | None, cap: float | None) -> str:
    """`12.5 RCU/s of a 100 RCU/s cap (12%)`, `12.5 RCU/s (no cap)`; "" when unknown."""
    rate = read_rate(consumed_rcu, seconds)
    if rate is None:
        return ""
    if not cap:
        return f"{rate:,.1f} RCU/s (no cap)"
    return f"{rate:,.1f} RCU/s of a {cap:,.0f} RCU/s cap ({rate / cap:.0%})"


# badge state (its CSS class and data-rpo) -> its text. "unknown": the destination could not be listed.
BADGES = {"within": "within RPO", "out": "out of RPO", "unknown": "unknown", "unchecked": "not checked yet"}


def badge_state(protection: Protection | None) -> str:
    """Protection.state, or "unchecked" before the first RPO check."""
    return "unchecked" if protection is None else protection.state


def badge_html(protection: Protection | None) -> str:
    """The job's RPO badge; its `data-rpo` is one of BADGES' keys, its title the summary."""
    state = badge_state(protection)
    title = protection.summary() if protection else "the RPO check has not run yet"
    return f'<span class="badge {state}" data-rpo="{state}" title="{esc(title)}">{esc(BADGES[state])}</span>'


def newest_good_html(protection: Protection | None, tz: str) -> str:
    """`3.2h old · RPO 26h` (the backup's time on hover), `no backup yet · RPO 26h`, or why
    nothing is known."""
    if protection is None:
        return '<span class="pending">not checked yet</span>'
    rpo = f"RPO {esc(format_duration(protection.rpo_seconds))}"
    if protection.error:
        return joined([f'<span class="error">cannot list the destination: {esc(protection.error)}</span>', rpo])
    if protection.last_good_at is None:
        return joined(['<span class="empty">no backup yet</span>', rpo])
    at = protection.last_good_at
    age = (f'<span class="age" title="{esc(local_text(at, tz))} ({esc(utc_text(at))})">'
           f"{esc(format_duration(protection.age_seconds))} old</span>")
    return joined([age, rpo])


def last_run_html(record, tz: str) -> str:
    """The job's last run (service/jobs.RunRecord): its outcome and time, then the facts it has
    (items, size, duration), then for a failure its error and `Try:` hint; or "no runs yet"."""
    if record is None:
        return '<span class="empty">no runs yet since the service started</span>'
    outcome = f'<span class="{esc(record.outcome)}" data-outcome="{esc(record.outcome)}">{esc(record.outcome)}</span>'
    items = None if record.items is None else f"{record.items:,} items"
    verified = {True: "verified", False: "failed verification", None: ""}[record.verified]
    line = joined([f"{outcome} {time_html(record.started_at, tz)}", esc(items), size_html(record.bytes),
                   esc(seconds_text(record.seconds)), verified])
    if record.error:
        line += f'<br><small class="error">{esc(record.error)}</small>'
    if record.hint:
        line += f'<br><small class="hint">Try: {esc(record.hint)}</small>'
    return line
