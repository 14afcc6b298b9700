"""A job's `cron` read as crontab(5) reads it, run by APScheduler 3.x's CronTrigger.

APScheduler 3.x numbers weekdays from 0 = Monday (its `from_crontab` passes the field through
unchanged; agronholm/apscheduler#286 and #1102: it cannot change in 3.x), so `0 3 * * 1-5`
would run Tuesday to Saturday. Here the day-of-week field keeps cron's meaning: 0 and 7 =
Sunday, 1 = Monday ... 6 = Saturday, or the names sun..sat, in lists, ranges a-b and steps */n
and a-b/n, and is handed to APScheduler as day names. `cron_trigger` is the one place a cron
becomes a trigger: config validation, the scheduler and the default RPO all use it.

Two more differences are refused rather than run differently from cron:
- cron runs on either day when both day of month and day of week are restricted (neither
  starts with `*`, crontab(5)); APScheduler only on days that match both.
- a cron that never fires (`0 0 31 2 *`) has no period, so no default RPO and no next run.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone, tzinfo

from apscheduler.triggers.cron import CronTrigger

CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # cron's 0..6; 7 is Sunday too
_APS_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's 0..6
_ITEM = re.compile(r"^(?:(?P<all>\*)|(?P<first>[0-9]+|[a-z]+)(?:-(?P<last>[0-9]+|[a-z]+))?)(?:/(?P<step>[0-9]+))?$")
# Gregorian dates fall on the same weekdays every 28 years from 1901 to 2099, so a cron that
# fires at all fires at least twice in this window (a 29 February one too); a fixed window, not
# "from now", so a config is valid or not whatever the day it is loaded.
CHECK_FROM = datetime(2001, 1, 1, tzinfo=timezone.utc)
CHECK_UNTIL = datetime(2029, 1, 1, tzinfo=timezone.utc)


class CronError(ValueError):
    """A cron expression ddbvault refuses; `hint` says what to write instead."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _weekday(text: str, field: str, last: bool = False) -> int:
    """Cron's number (0..7) of one weekday: a number, or a name (`sun` ends a range as 7)."""
    if text.isdigit():
        number = int(text)
        if number > 7:
            raise CronError(f"day of week {field!r}: {number} is not a weekday",
                            hint="0 and 7 are Sunday, 1 Monday ... 6 Saturday")
        return number
    if text not in CRON_WEEKDAYS:
        raise CronError(f"day of week {field!r}: {text!r} is not a weekday",
                        hint="write sun, mon ... sat, or 0-7 (0 and 7 are Sunday)")
    number = CRON_WEEKDAYS.index(text)
    return 7 if last and number == 0 else number


def cron_days_of_week(field: str) -> frozenset[int]:
    """The cron weekdays (0 = Sunday ... 6 = Saturday) that cron's day-of-week `field` selects.
    Raises CronError naming the field for anything crontab(5) would not read the same way."""
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _ITEM.match(item)
        if not match:
            raise CronError(f"day of week {field!r}: cannot read {item!r}",
                            hint="write e.g. 1-5, mon-fri, 0,6, */2 or 1-5/2 (0 and 7 are Sunday)")
        step = int(match["step"]) if match["step"] else 1
        if step == 0:
            raise CronError(f"day of week {field!r}: a step of 0 never moves")
        if match["all"]:
            first, last = 0, 6
        else:
            first = _weekday(match["first"], field)
            if match["last"] is None and match["step"]:
                # cron implementations disagree on `a/n` (to 6 or to 7?): ask for the range
                raise CronError(f"day of week {field!r}: {item!r} has a step but no range",
                                hint=f"write {match['first']}-6/{step} or {match['first']}-7/{step}")
            last = first if match["last"] is None else _weekday(match["last"], field, last=True)
            if last < first:
                raise CronError(f"day of week {field!r}: the range {item!r} goes backwards",
                                hint="split it, e.g. 5-6,0-1 (0 and 7 are Sunday)")
        days.update(day % 7 for day in range(first, last + 1, step))
    return frozenset(days)


def aps_day_of_week(field: str) -> str:
    """APScheduler's day_of_week for cron's day-of-week `field`: `*` for every day, else the
    selected days' names, e.g. "1-5" -> "mon,tue,wed,thu,fri", "0" and "7" -> "sun"."""
    days = cron_days_of_week(field)
    if len(days) == 7:
        return "*"
    return ",".join(name for name in _APS_WEEKDAYS if CRON_WEEKDAYS.index(name) in days)


def cron_trigger(expr: str, tz: tzinfo = timezone.utc, jitter: int | None = None) -> CronTrigger:
    """The APScheduler trigger that fires when crontab(5) would run `expr` (5 fields: minute
    hour day-of-month month day-of-week) in `tz`. Raises CronError (a ValueError) naming the
    field; refuses a restricted day of month together with a restricted day of week."""
    fields = expr.split()
    if len(fields) != 5:
        raise CronError(f"{expr!r} has {len(fields)} fields, not 5",
                        hint="write minute hour day-of-month month day-of-week, e.g. '15 2 * * *'")
    minute, hour, day, month, day_of_week = fields
    try:
        trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month,
                              day_of_week=aps_day_of_week(day_of_week), timezone=tz, jitter=jitter)
    except CronError:
        raise
    except ValueError as exc:  # APScheduler's own message names the value, not the field
        raise CronError(f"bad cron expression {expr!r}: {exc}") from None
    if not day.startswith("*") and not day_of_week.startswith("*"):
        raise CronError(f"{expr!r} restricts both the day of month ({day}) and the day of week ({day_of_week}): "
                        "cron runs on a day that matches either, APScheduler only on one that matches both",
                        hint="use two jobs, or restrict only one (write * in the other)")
    return trigger


def next_fire_times(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    """Up to `count` fire times of `trigger` from `after` on (fewer if it stops firing)."""
    fires: list[datetime] = []
    previous, moment = None, after
    while len(fires) < count:
        previous = trigger.get_next_fire_time(previous, moment)
        if previous is None:
            break
        fires.append(previous)
        moment = previous
    return fires


def check_cron(expr: str) -> str:
    """`expr` if it is a cron that ddbvault can run as cron would, and that fires (twice in
    the fixed 28-year window); raises CronError naming what is wrong otherwise."""
    fires = next_fire_times(cron_trigger(expr), CHECK_FROM, 2)
    if len(fires) < 2 or fires[1] >= CHECK_UNTIL:
        raise CronError(f"{expr!r} never fires",
                        hint="pick a day every chosen month has: February has 28 or 29 days; "
                             "April, June, September and November have 30")
    return expr
