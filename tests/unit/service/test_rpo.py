"""RPO logic (service/rpo.py, service/protection.rpo_seconds): durations, the default of twice
the schedule's period, and which backup counts as the newest good one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ddbvault.service.config import ServiceConfig
from ddbvault.service.protection import rpo_seconds
from ddbvault.service.rpo import Protection, assess, default_rpo, format_duration, parse_duration
from ddbvault.vault.listing import COMPLETE, INCOMPLETE, INVALID, BackupEntry

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, seconds", [("26h", 93600), ("90m", 5400), ("7d", 604800), ("1w", 604800),
                                           ("45s", 45), ("3600", 3600), (120, 120), (1.5, 1.5), (" 2 h ", 7200)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "26x", "-1h", "0", 0, "1e3h", "inf", float("nan"), True, "400d", "2h30m"])
def test_bad_durations_are_refused_naming_the_value(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def _config(**job) -> ServiceConfig:
    return ServiceConfig.model_validate({"defaults": {"destination": "/tmp/vault"},
                                         "jobs": [{"name": "j", "table": "orders", **job}]})


def test_the_default_rpo_is_twice_the_schedules_period():
    assert rpo_seconds(_config(interval_seconds=600).jobs[0], _config(interval_seconds=600), NOW) == 1200
    daily = _config(cron="0 3 * * *")
    assert rpo_seconds(daily.jobs[0], daily, NOW) == 2 * 86400
    # weekdays only (Monday to Friday, test_cron.py): the longest gap (Friday to Monday) sets it
    weekdays = _config(cron="0 3 * * 1-5")
    assert rpo_seconds(weekdays.jobs[0], weekdays, NOW) == 2 * 3 * 86400
    given = _config(cron="0 3 * * *", rpo="26h")
    assert rpo_seconds(given.jobs[0], given, NOW) == 26 * 3600
    assert default_rpo(None, [NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=3)]) == 4 * 3600


def test_a_bad_rpo_in_the_config_is_refused():
    with pytest.raises(ValueError, match="rpo"):
        _config(cron="0 3 * * *", rpo="soon")


def _entry(hours_ago: float, status=COMPLETE, table="orders", n=0) -> BackupEntry:
    start = NOW - timedelta(hours=hours_ago)
    return BackupEntry(table=table, backup_id=f"id{n}", url=f"/v/{table}/id{n}",
                       time=start.isoformat().replace("+00:00", "Z"), status=status)


def test_good_means_the_status_list_backups_gives():
    from ddbvault.service import rpo

    assert rpo.COMPLETE == COMPLETE  # rpo.py stays pure, so it cannot import listing's constant


def test_the_newest_complete_backup_of_the_table_sets_the_age():
    entries = [_entry(30, n=1), _entry(5, n=2), _entry(1, status=INCOMPLETE, n=3), _entry(0.5, table="other", n=4),
               _entry(2, status=INVALID, n=5)]
    p = assess("j", "orders", 26 * 3600, entries, NOW)
    assert p.last_good_url == "/v/orders/id2" and p.age_seconds == 5 * 3600 and p.within
    assert "within RPO 26h: newest good backup 5h old" == p.summary()


def test_an_incremental_export_is_not_good_on_its_own():
    incremental = _entry(1, n=1)
    incremental.window = {"from": "2026-11-30T09:00:00Z", "to": "2026-11-30T10:00:00Z"}
    p = assess("j", "orders", 26 * 3600, [_entry(30, n=2), incremental], NOW)
    assert p.last_good_url == "/v/orders/id2"


def test_a_backup_that_failed_verification_is_not_good():
    p = assess("j", "orders", 26 * 3600, [_entry(30, n=1), _entry(5, n=2)], NOW, frozenset({"/v/orders/id2"}))
    assert p.last_good_url == "/v/orders/id1" and not p.within and p.summary().startswith("out of RPO 26h")


def test_a_backup_from_the_future_is_not_good_beyond_the_clock_skew():
    from ddbvault.service.rpo import CLOCK_SKEW_S

    far = _entry(-24 * 365 * 70, n=9)  # 20991231-like: would read "0s old" for ever
    assert assess("j", "orders", 3600, [far], NOW).summary() == "out of RPO 60m: no backup yet"
    p = assess("j", "orders", 26 * 3600, [far, _entry(5, n=2)], NOW)
    assert p.last_good_url == "/v/orders/id2" and p.age_seconds == 5 * 3600
    skewed = _entry(-(CLOCK_SKEW_S - 1) / 3600, n=3)  # a writer's clock a little ahead of ours
    assert assess("j", "orders", 3600, [skewed], NOW).last_good_url == "/v/orders/id3"
    beyond = _entry(-(CLOCK_SKEW_S + 1) / 3600, n=4)
    assert assess("j", "orders", 3600, [beyond], NOW).last_good_url is None


def test_no_backup_or_no_listing_is_out_of_rpo_not_blank():
    none = assess("j", "orders", 3600, [], NOW)
    assert not none.within and none.age_seconds is None and none.summary() == "out of RPO 60m: no backup yet"
    unknown = Protection("j", "orders", 3600, NOW, NOW, "/v/x", error="access denied")
    assert not unknown.within and "unknown" in unknown.summary()
    assert none.to_dict()["within_rpo"] is False and none.to_dict()["last_good_at"] is None


def test_the_age_grows_without_listing_again():
    p = assess("j", "orders", 3 * 3600, [_entry(2)], NOW)
    assert p.within and not p.at(NOW + timedelta(hours=1, seconds=1)).within


def test_format_duration():
    assert [format_duration(s) for s in (None, 5, 600, 5400, 93600, 4 * 86400 + 7200)] == \
        ["never", "5s", "10m", "90m", "26h", "4d 2h"]


def test_one_job_whose_check_raises_is_unknown_and_the_others_are_still_checked(tmp_path, caplog):
    from ddbvault.service.protection import ProtectionCheck

    config = ServiceConfig.model_validate({"defaults": {"destination": str(tmp_path)}, "jobs": [
        {"name": "bad", "table": "orders", "cron": "0 3 * * *"}, {"name": "good", "table": "users", "cron": "0 3 * * *"}]})
    # A cron that never fires, as configs held before load refused it: computing its RPO raises
    # ValueError, a bug-shaped exception that is not a DdbvaultError (model_copy skips validation).
    broken = config.model_copy(update={"jobs": [config.jobs[0].model_copy(update={"cron": "0 0 31 2 *"}),
                                                config.jobs[1]]})
    flips = []
    check = ProtectionCheck(broken, on_change=lambda before, now: flips.append(now.job), clock=lambda: NOW)
    results = check.check_all()
    assert results["good"].state == "out" and results["good"].summary() == "out of RPO 48h: no backup yet"
    assert results["bad"].state == "unknown" and not results["bad"].within
    assert results["bad"].error == "the check failed (ValueError); the service log has the traceback"
    assert set(check.latest()) == {"bad", "good"} and flips == ["bad", "good"]
    logged = [r for r in caplog.records if r.name == "ddbvault.service.protection"]
    assert logged and "RPO check of job bad failed" in logged[0].getMessage() and logged[0].exc_info


def test_a_check_of_named_jobs_lists_only_their_destinations_and_keeps_the_others(tmp_path, monkeypatch):
    import ddbvault.service.protection as protection

    config = ServiceConfig.model_validate({"defaults": {"destination": str(tmp_path)}, "jobs": [
        {"name": "a", "table": "orders", "cron": "0 3 * * *"}, {"name": "b", "table": "users", "cron": "0 3 * * *"}]})
    listed, real = [], protection.assess_job
    monkeypatch.setattr(protection, "assess_job", lambda job, *args: listed.append(job.name) or real(job, *args))
    clock = [NOW]
    check = protection.ProtectionCheck(config, clock=lambda: clock[0])
    assert set(check.check_all()) == {"a", "b"} and listed == ["a", "b"]
    clock[0] = NOW + timedelta(minutes=5)
    assert set(check.check_all({"a"})) == {"a"} and listed == ["a", "b", "a"]  # after a run of job a
    latest = check.latest()
    assert set(latest) == {"a", "b"} and latest["b"].checked_at == NOW + timedelta(minutes=5)  # aged, not lost
