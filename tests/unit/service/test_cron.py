"""Cron schedules (service/cron.py) run on the days crontab(5) runs them, not APScheduler 3.x's
weekday numbering (0 = Monday); what cron would run differently, or never, is refused on load.
The dates below are from December 2026: Thursday the 3rd, Friday 4, Saturday 5, Sunday 6,
Monday 7, Tuesday 8, Wednesday 9."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ddbvault.errors import UsageError
from ddbvault.service.config import ServiceConfig, load_config
from ddbvault.service.cron import aps_day_of_week, cron_trigger, next_fire_times
from ddbvault.service.protection import rpo_seconds
from ddbvault.service.scheduler import trigger_for

THURSDAY = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)

# cron expression -> its next three fire times (UTC) after Thursday 2026-12-03 12:00
FIRES = [
    ("0 3 * * 1-5", ["2026-12-04 03:00", "2026-12-07 03:00", "2026-12-08 03:00"]),  # Fri, Mon, Tue
    ("0 3 * * mon-fri", ["2026-12-04 03:00", "2026-12-07 03:00", "2026-12-08 03:00"]),
    ("0 0 * * 0", ["2026-12-06 00:00", "2026-12-13 00:00", "2026-12-20 00:00"]),  # Sundays
    ("0 0 * * 7", ["2026-12-06 00:00", "2026-12-13 00:00", "2026-12-20 00:00"]),
    ("0 0 * * SUN", ["2026-12-06 00:00", "2026-12-13 00:00", "2026-12-20 00:00"]),
    ("0 0 * * 1", ["2026-12-07 00:00", "2026-12-14 00:00", "2026-12-21 00:00"]),  # Mondays
    ("0 0 * * 6", ["2026-12-05 00:00", "2026-12-12 00:00", "2026-12-19 00:00"]),  # Saturdays
    ("0 0 * * 6,0", ["2026-12-05 00:00", "2026-12-06 00:00", "2026-12-12 00:00"]),
    ("0 0 * * sat-sun", ["2026-12-05 00:00", "2026-12-06 00:00", "2026-12-12 00:00"]),
    ("0 0 * * 5-7", ["2026-12-04 00:00", "2026-12-05 00:00", "2026-12-06 00:00"]),  # Fri, Sat, Sun
    ("0 0 * * */2", ["2026-12-05 00:00", "2026-12-06 00:00", "2026-12-08 00:00"]),  # Sun, Tue, Thu, Sat
    ("0 0 * * 1-5/2", ["2026-12-04 00:00", "2026-12-07 00:00", "2026-12-09 00:00"]),  # Mon, Wed, Fri
    ("0 0 * * 0-7", ["2026-12-04 00:00", "2026-12-05 00:00", "2026-12-06 00:00"]),  # every day
    ("30 2 1 * *", ["2027-01-01 02:30", "2027-02-01 02:30", "2027-03-01 02:30"]),
    ("0 0 */2 * 1", ["2026-12-07 00:00", "2026-12-21 00:00", "2027-01-11 00:00"]),  # odd days that are Mondays
    ("0 0 29 2 *", ["2028-02-29 00:00", "2032-02-29 00:00", "2036-02-29 00:00"]),
]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _config(scheduler: dict | None = None, **job) -> ServiceConfig:
    return ServiceConfig.model_validate({"defaults": {"destination": "/tmp/vault"}, "scheduler": scheduler or {},
                                         "jobs": [{"name": "j", "table": "orders", **job}]})


@pytest.mark.parametrize("expr, fires", FIRES)
def test_cron_runs_on_crons_days(expr, fires):
    expected = [_utc(f) for f in fires]
    assert next_fire_times(cron_trigger(expr), THURSDAY, 3) == expected
    config = _config(cron=expr)  # the config accepts it, and the scheduler's trigger is the same
    assert next_fire_times(trigger_for(config.jobs[0], config), THURSDAY, 3) == expected


def test_with_jitter_the_scheduler_keeps_crons_days():
    config = _config(cron="0 3 * * 1-5", scheduler={"jitter_s": 60})
    fires = next_fire_times(trigger_for(config.jobs[0], config), THURSDAY, 3)
    expected = [_utc(f) for f in FIRES[0][1]]
    assert all(timedelta(0) <= got - want <= timedelta(seconds=60) for got, want in zip(fires, expected, strict=True))


def test_a_cron_runs_in_the_jobs_time_zone():
    config = _config(cron="0 3 * * 1", timezone="Europe/Paris")
    fire = next_fire_times(trigger_for(config.jobs[0], config), THURSDAY, 1)[0]
    assert fire == datetime(2026, 12, 7, 3, 0, tzinfo=ZoneInfo("Europe/Paris"))  # Monday 03:00 in Paris


@pytest.mark.parametrize("field, aps", [("*", "*"), ("1-5", "mon,tue,wed,thu,fri"), ("0", "sun"), ("7", "sun"),
                                        ("sun", "sun"), ("0,6", "sat,sun"), ("*/2", "tue,thu,sat,sun"),
                                        ("1-5/2", "mon,wed,fri"), ("mon-sun", "*"), ("1-7", "*"), ("Tue", "tue")])
def test_the_day_of_week_is_translated_to_apschedulers_names(field, aps):
    assert aps_day_of_week(field) == aps


def test_the_default_rpo_counts_crons_days():
    # Sunday as 7, and a weekend run: Friday, Saturday, Sunday, then 5 days to Friday
    weekly = _config(cron="0 3 * * 7")
    assert rpo_seconds(weekly.jobs[0], weekly, THURSDAY) == 2 * 7 * 86400
    weekend = _config(cron="0 3 * * 5-7")
    assert rpo_seconds(weekend.jobs[0], weekend, THURSDAY) == 2 * 5 * 86400


def _load(tmp_path, job: str):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: {destination: /tmp/vault}\njobs:\n  - {name: j, table: orders, " + job + "}\n")
    return load_config(path)


@pytest.mark.parametrize("cron", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 31 6,9,11 *"])
def test_a_cron_that_never_fires_is_refused(tmp_path, cron):
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"cron: '{cron}'")
    assert caught.value.exit_code == 2
    assert f"jobs.0.cron: '{cron}' never fires" in caught.value.message
    assert "February has 28 or 29 days" in caught.value.hint


@pytest.mark.parametrize("cron, day, weekday", [("0 0 29 2 1", "29", "1"), ("0 0 1,15 * mon-fri", "1,15", "mon-fri"),
                                                ("0 0 1-31 * 0", "1-31", "0")])
def test_a_restricted_day_of_month_and_day_of_week_are_refused(tmp_path, cron, day, weekday):
    # cron would run on either day; APScheduler only on days that are both
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"cron: '{cron}'")
    assert caught.value.exit_code == 2
    assert f"jobs.0.cron: '{cron}' restricts both the day of month ({day}) and the day of week ({weekday})" \
        in caught.value.message
    assert caught.value.hint == "use two jobs, or restrict only one (write * in the other)"


@pytest.mark.parametrize("cron, says", [("0 0 * * 8", "day of week '8': 8 is not a weekday"),
                                        ("0 0 * * 5-1", "the range '5-1' goes backwards"),
                                        ("0 0 * * 1/2", "'1/2' has a step but no range"),
                                        ("0 0 * * */0", "a step of 0"),
                                        ("0 0 * * funday", "'funday' is not a weekday"),
                                        ("0 0 * *", "has 4 fields, not 5"),
                                        ("61 0 * * *", "bad cron expression '61 0 * * *'")])
def test_a_bad_cron_is_refused_naming_what_is_wrong(tmp_path, cron, says):
    with pytest.raises(UsageError, match="jobs.0.cron: .*" + re.escape(says)):
        _load(tmp_path, f"cron: '{cron}'")


@pytest.mark.parametrize("interval", ["0.001", "0.5", "1e12", "31622401"])
def test_interval_seconds_is_1_second_to_366_days(tmp_path, interval):
    with pytest.raises(UsageError, match="jobs.0.interval_seconds: .* is not between 1 second and 366 days"):
        _load(tmp_path, f"interval_seconds: {interval}")
    assert _load(tmp_path, "interval_seconds: 1").jobs[0].interval_seconds == 1
    assert _load(tmp_path, "interval_seconds: 31622400").jobs[0].interval_seconds == 366 * 86400


def test_the_default_rpo_is_at_most_366_days(tmp_path):
    # twice the period, capped at the most an explicit rpo may be
    for job in ["interval_seconds: 31622400", "interval_seconds: 20000000", "cron: '0 0 1 1 *'"]:
        config = _load(tmp_path, job)
        assert rpo_seconds(config.jobs[0], config, THURSDAY) == 366 * 86400
    quarterly = _load(tmp_path, "interval_seconds: 7776000")  # 90 days: not capped
    assert rpo_seconds(quarterly.jobs[0], quarterly, THURSDAY) == 180 * 86400
