"""The status page's rendering, from plain values (status_cells.py, history_chart.py) and from a
fake service (status_page.py): badges, ages, sizes with exact bytes, times in the job's zone,
lines without dangling separators, one chart mark per run, escaping, the CSP's hashes."""

from __future__ import annotations

import base64
import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from ddbvault.service.config import ServiceConfig
from ddbvault.service.history_chart import history_svg
from ddbvault.service.jobs import RunRecord
from ddbvault.service.rpo import Protection
from ddbvault.service.status_cells import (badge_html, joined, last_run_html, newest_good_html, read_text, size_html,
                                          time_html)
from ddbvault.service.status_page import CONTENT_SECURITY_POLICY, render_jobs, render_status

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
SVG = "{http://www.w3.org/2000/svg}"


def _ok(n: int, items=30, size=1234, seconds=0.244) -> RunRecord:
    return RunRecord("j", "orders", "success", f"2026-11-30T0{n}:00:00Z", seconds=seconds, items=items, bytes=size,
                     url=f"/v/orders/{n}", consumed_rcu=12.2, read_rate_rcu=100.0)


def _failed(n: int) -> RunRecord:
    return RunRecord("j", "orders", "failure", f"2026-11-30T0{n}:00:00Z", seconds=0.244,
                     error="table orders <not found>", hint="check the name, the account and the region")


def test_a_line_is_built_from_the_parts_that_exist():
    assert joined(["a", "", None, "b"]) == "a · b"
    assert joined([None, ""]) == ""


def test_a_failed_run_shows_its_error_and_hint_without_dangling_separators():
    line = last_run_html(_failed(1), "UTC")
    assert "· ·" not in line and "items" not in line and not re.search(r"·\s*<br>", line)
    assert "table orders &lt;not found&gt;" in line
    assert "Try: check the name, the account and the region" in line
    assert 'data-outcome="failure"' in line


def test_a_job_without_runs_says_so():
    assert "no runs yet" in last_run_html(None, "UTC")
    assert history_svg("j", [], "UTC") == ""


def test_sizes_are_human_with_the_exact_bytes_on_hover():
    assert size_html(1536) == '<span class="size" title="1,536 bytes">1.5 KiB</span>'
    assert size_html(None) == ""


def test_times_are_in_the_jobs_zone_with_utc_on_hover():
    html = time_html("2026-11-30T13:03:00Z", "Europe/Paris")
    assert html == ('<time datetime="2026-11-30T13:03:00Z" title="2026-11-30 13:03:00 UTC">'
                    "2026-11-30 14:03:00 CET</time>")


@pytest.mark.parametrize("protection, state, text", [
    (None, "unchecked", "not checked yet"),
    (Protection("j", "t", 3600, NOW, NOW - timedelta(minutes=30), "/v/t/1"), "within", "30m old"),
    (Protection("j", "t", 3600, NOW, NOW - timedelta(hours=3.2), "/v/t/1"), "out", "3.2h old"),
    (Protection("j", "t", 3600, NOW), "out", "no backup yet"),
    (Protection("j", "t", 3600, NOW, error="access <denied>"), "unknown", "access &lt;denied&gt;"),
])
def test_the_badge_and_the_newest_good_backup(protection, state, text):
    assert f'data-rpo="{state}"' in badge_html(protection)
    assert text in newest_good_html(protection, "UTC")
    if protection is not None:
        assert "RPO 60m" in newest_good_html(protection, "UTC")


def test_the_read_rate_is_shown_against_the_cap():
    assert read_text(50, 2, 100) == "25.0 RCU/s of a 100 RCU/s cap (25%)"
    assert read_text(50, 2, None) == "25.0 RCU/s (no cap)"
    assert read_text(None, 2, 100) == "" and read_text(5, 0, 100) == ""


def test_the_chart_has_one_mark_per_run_and_marks_failures():
    runs = [_ok(1), _failed(2), _ok(3, items=60, size=4096, seconds=1.5), _ok(4, items=0, size=20)]
    svg = ET.fromstring(history_svg("j<1>", runs, "Europe/Paris"))
    marks = svg.findall(f"{SVG}g")
    assert [(g.get("data-run"), g.get("data-outcome")) for g in marks] == [
        ("0", "success"), ("1", "failure"), ("2", "success"), ("3", "success")]
    assert [len(g.findall(f"{SVG}rect[@class='failed-mark']")) for g in marks] == [0, 1, 0, 0]
    assert "last 4 runs of j<1>, 1 failed" == svg.get("aria-label")
    title = marks[2].find(f"{SVG}title").text
    assert "2026-11-30 04:00:00 CET (2026-11-30 03:00:00 UTC)" in title
    assert "60 items" in title and "4.0 KiB (4,096 bytes)" in title and "1.5s" in title
    assert "RCU/s of a 100 RCU/s cap" in title
    assert "table orders <not found>" in marks[1].find(f"{SVG}title").text


def test_bars_scale_to_the_largest_run():
    svg = ET.fromstring(history_svg("j", [_ok(1, items=10), _ok(2, items=40)], "UTC"))
    heights = [int(g.findall(f"{SVG}rect")[0].get("height")) for g in svg.findall(f"{SVG}g")]
    assert heights == [6, 24]


def _service(runs: dict, records: dict, latest: dict, next_runs: dict) -> SimpleNamespace:
    config = ServiceConfig.model_validate({
        "defaults": {"destination": "/nonexistent/vault"},
        "scheduler": {"timezone": "Europe/Paris"},
        "jobs": [{"name": "ok", "table": "orders", "interval_seconds": 60},
                 {"name": "bad", "table": "users", "cron": "0 3 * * *", "timezone": "UTC"},
                 {"name": "new", "table": "items", "interval_seconds": 60}]})
    return SimpleNamespace(
        config=config,
        runner=SimpleNamespace(records=records, runs=lambda name: runs.get(name, [])),
        scheduler=SimpleNamespace(running=True, next_runs=lambda: next_runs),
        protection=SimpleNamespace(latest=lambda: latest))


def test_the_jobs_section_shows_each_state():
    service = _service(
        runs={"ok": [_ok(1), _ok(2)], "bad": [_failed(1)]}, records={"ok": _ok(2), "bad": _failed(1)},
        latest={"ok": Protection("ok", "orders", 120, NOW, NOW - timedelta(seconds=30), "/v"),
                "bad": Protection("bad", "users", 86400, NOW)},
        next_runs={"ok": NOW, "bad": NOW + timedelta(hours=1), "new": None})
    html = render_jobs(service, now=NOW)
    row = {name: re.search(rf'<tr data-job="{re.escape(name)}">.*?</tr>', html).group(0)
           for name in ("ok", "bad", "new")}
    assert 'data-rpo="within"' in row["ok"] and "30s old" in row["ok"]
    assert "2026-11-30 13:00:00 CET" in row["ok"]  # scheduler.timezone
    assert 'data-rpo="out"' in row["bad"] and "no backup yet" in row["bad"] and "Try: check the name" in row["bad"]
    assert "2026-11-30 13:00:00 UTC" in row["bad"]  # the job's own timezone
    assert 'data-rpo="unchecked"' in row["new"] and "paused" in row["new"]
    assert html.count('class="run ') == 3 and "no runs yet since the service started" in html
    assert "<not found>" not in html and "table orders &lt;not found&gt;" in row["bad"]


def test_the_page_says_when_a_destination_has_no_backup_and_its_csp_matches_its_inline_code(tmp_path):
    service = _service({}, {}, {}, {})
    service.config = service.config.model_copy(
        update={"defaults": service.config.defaults.model_copy(update={"destination": str(tmp_path)})})
    html = render_status(service)
    assert html.count('<p class="empty">no backup yet</p>') == 3 and "<th>backup id</th>" not in html
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        source = re.search(rf"<{tag}>(.*?)</{tag}>", html, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"{directive} 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "connect-src 'self'" in CONTENT_SECURITY_POLICY and "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert 'fetch("/jobs.html"' in html
