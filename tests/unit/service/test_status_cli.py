"""`ddbvault status`'s rendering (service/status_cli.py): one row per job, times in the job's
time zone, states in words, text shown as it is (never as rich markup), and the JSON object."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from rich.console import Console

from ddbvault.service.config import ServiceConfig
from ddbvault.service.rpo import Protection
from ddbvault.service.status_cli import status_json, status_table, summary_line

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)
CONFIG = ServiceConfig.model_validate({
    "defaults": {"destination": "/v"}, "scheduler": {"timezone": "America/New_York"},
    "jobs": [{"name": "paris", "table": "orders", "cron": "0 3 * * *", "timezone": "Europe/Paris"},
             {"name": "ny", "table": "users", "interval_seconds": 3600},
             {"name": "never", "table": "tab", "interval_seconds": 3600},
             {"name": "unlisted", "table": "tab", "interval_seconds": 3600}]})
PROTECTIONS = [
    Protection("paris", "orders", 26 * 3600, NOW, NOW - timedelta(hours=5), "/v/[bold]orders[/bold]/20260701T070000Z-a"),
    Protection("ny", "users", 7200, NOW, NOW - timedelta(hours=3), "/v/users/20260701T090000Z-b"),
    Protection("never", "tab", 7200, NOW),
    Protection("unlisted", "tab", 7200, NOW, error="ListObjectsV2 on s3://b/t/ failed: AccessDenied [x]"),
]


def _rows() -> dict[str, str]:
    out = io.StringIO()
    Console(file=out, width=300).print(status_table(PROTECTIONS, CONFIG))
    return {line.split()[0]: line for line in out.getvalue().splitlines()[2:]}


def test_each_job_has_a_row_with_its_age_time_state_and_backup():
    rows = _rows()
    assert list(rows) == ["paris", "ny", "never", "unlisted"]
    assert rows["paris"].split()[:8] == ["paris", "orders", "26h", "5h", "2026-07-01", "09:00", "CEST", "within"]
    assert rows["ny"].split()[:8] == ["ny", "users", "2h", "3h", "2026-07-01", "05:00", "EDT", "OUT"]
    assert rows["never"].split()[3:8] == ["no", "backup", "yet", "-", "OUT"]
    assert rows["unlisted"].split()[3:6] == ["-", "-", "unknown"]


def test_urls_and_errors_are_shown_as_written_not_as_markup():
    rows = _rows()
    assert rows["paris"].rstrip().endswith("/v/[bold]orders[/bold]/20260701T070000Z-a")
    assert rows["unlisted"].rstrip().endswith("cannot list the destination: ListObjectsV2 on s3://b/t/ failed: "
                                              "AccessDenied [x]")


def test_the_summary_and_json_say_ok_only_when_every_job_is_within():
    assert summary_line(PROTECTIONS) == "1 of 4 jobs within their RPO (checked 2026-07-01T12:00:00Z)"
    report = status_json(PROTECTIONS)
    assert report["ok"] is False and [j["job"] for j in report["jobs"]] == ["paris", "ny", "never", "unlisted"]
    assert status_json(PROTECTIONS[:1]) == {"ok": True, "jobs": [PROTECTIONS[0].to_dict()]}


def test_a_long_backup_url_is_never_wrapped_or_cut(monkeypatch):
    from ddbvault.service.status_cli import print_status

    monkeypatch.setenv("COLUMNS", "60")
    url = "s3://vault/prod/users/20261130T134706Z-f60af4/" + "deep/" * 60  # wider than any screen
    out = io.StringIO()
    print_status([Protection("ny", "users", 7200, NOW, NOW - timedelta(hours=1), url)], CONFIG, file=out)
    assert url in out.getvalue()
