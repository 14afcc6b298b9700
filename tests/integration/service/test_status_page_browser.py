"""The status page in a real headless Chromium (Debian's chromium, driven by Playwright), with a
service of three jobs against moto: a healthy one (alpha), one whose table does not exist
(broken) and one with an RPO of one second (stale). Before any run each says it has no backup;
"Run now" needs the token; the page refreshes itself without a reload; then it shows each
state, one chart mark per run, and no request has left the page's origin.

Screenshots go to $DDBVAULT_TEST_LOGS/status-page (else pytest's tmp dir): artifacts, not
committed."""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ddbvault.service import Service, load_config
from ddbvault.service.status_cells import utc_iso
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
JOBS = ("alpha", "broken", "stale")
REFRESH_WAIT_MS = 45_000  # the page refreshes every 15 s; a run takes about a second


@pytest.fixture(scope="module")
def service(ddb, aws_env, tmp_path_factory):
    for name in ("web-a", "web-b"):
        create_table(ddb, name)
        fill_table(ddb, name, 30, edge_cases=False, payload_bytes=20)
    root = tmp_path_factory.mktemp("web")
    (root / "backups").mkdir()  # listable, and empty: "no backup yet" (a missing one is "unknown")
    (root / "c.yaml").write_text(f"""
defaults: {{destination: "{root / 'backups'}", read_rcu: 100000}}
jobs:
  - {{name: alpha, table: web-a, cron: "30 4 * * *", timezone: Europe/Paris}}
  - {{name: broken, table: web-missing, interval_seconds: 86400}}
  - {{name: stale, table: web-b, interval_seconds: 86400, rpo: 1s}}
http: {{host: 127.0.0.1, port: 0, token: open-sesame}}
""")
    svc = Service(load_config(root / "c.yaml"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def base(service):
    return f"http://127.0.0.1:{service.http.port}"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    logs = os.environ.get("DDBVAULT_TEST_LOGS")
    where = Path(logs) / "status-page" if logs else tmp_path_factory.mktemp("status-page")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser_log():
    return {"requests": [], "console_errors": []}


@pytest.fixture(scope="module")
def page(service, browser_log):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.on("request", lambda request: browser_log["requests"].append(request.url))
        tab.on("console", lambda msg: msg.type == "error" and browser_log["console_errors"].append(msg.text))
        yield tab
        browser.close()


def _row(page, job):
    return page.locator(f'tr[data-job="{job}"]')


def _run_now(base: str, job: str) -> None:
    request = urllib.request.Request(f"{base}/run/{job}", method="POST", headers={"X-Ddbvault-Token": "open-sesame"})
    assert urllib.request.urlopen(request, timeout=30).status == 200  # the 303 to / is followed


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_before_any_run_each_job_says_it_has_no_backup_yet(service, base, page, shots):
    deadline = time.monotonic() + 30
    while True:  # the first RPO check runs as the scheduler starts
        page.goto(base + "/")
        if page.locator('[data-rpo="unchecked"]').count() == 0:
            break
        assert time.monotonic() < deadline, "the first RPO check never showed"
        time.sleep(0.3)
    page.screenshot(path=str(shots / "1-before-any-run.png"), full_page=True)
    next_runs = service.scheduler.next_runs()
    for job in JOBS:
        row = _row(page, job)
        assert row.locator('[data-rpo="out"]').count() == 1
        assert "no backup yet" in row.locator("td.newest").inner_text()
        assert "no runs yet" in row.locator("td.last-run").inner_text()
        assert row.locator("td.next-run time").get_attribute("datetime") == utc_iso(next_runs[job])
        assert "no runs yet" in page.locator(f'figure[data-job="{job}"]').inner_text()
    next_alpha = _row(page, "alpha").locator("td.next-run time")
    assert next_alpha.inner_text().endswith(("CET", "CEST")) and next_alpha.get_attribute("title").endswith("UTC")
    assert page.locator("p.empty", has_text="no backup yet").count() == 3  # recent backups, per destination


def test_run_now_without_token_is_refused(service, base, page):
    page.goto(base + "/")
    _row(page, "alpha").locator("button").click()
    assert "needs the service token" in page.content()
    assert "alpha" not in service.runner.records


def test_run_now_with_token_runs_and_shows_success(service, base, page):
    page.goto(base + "/")
    _row(page, "alpha").locator('input[name="token"]').fill("open-sesame")
    _row(page, "alpha").locator("button").click()
    page.wait_for_selector('tr[data-job="alpha"] td.last-run [data-outcome="success"]', timeout=REFRESH_WAIT_MS)
    assert "30 items" in _row(page, "alpha").locator("td.last-run").inner_text()


def test_the_page_refreshes_itself_without_a_reload(service, base, page, shots):
    page.goto(base + "/")
    page.evaluate("window.notReloaded = true")
    _run_now(base, "broken")
    _run_now(base, "stale")
    _wait(lambda: not service.runner.is_running("alpha"), "alpha's first run to end")
    _run_now(base, "alpha")  # its second run
    page.wait_for_function("""() => {
        const marks = (job, outcome) => document.querySelectorAll(
            `figure[data-job="${job}"] g.run[data-outcome="${outcome}"]`).length;
        return marks("alpha", "success") === 2 && marks("broken", "failure") === 1 && marks("stale", "success") === 1;
    }""", timeout=REFRESH_WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    page.screenshot(path=str(shots / "2-refreshed.png"), full_page=True)


def test_the_page_shows_each_state_and_one_chart_mark_per_run(service, base, page, shots):
    _wait(lambda: len(service.runner.runs("alpha")) == 2 and not any(map(service.runner.is_running, JOBS)),
          "every run to end")
    time.sleep(1.1)  # stale's backup is now older than its RPO of 1 s
    page.goto(base + "/")
    page.screenshot(path=str(shots / "3-three-states.png"), full_page=True)

    alpha = _row(page, "alpha")
    assert alpha.locator('[data-rpo="within"]').count() == 1
    assert " old" in alpha.locator("td.newest").inner_text() and "RPO 48h" in alpha.locator("td.newest").inner_text()
    record = service.runner.records["alpha"]
    assert alpha.locator("td.last-run .size").get_attribute("title") == f"{record.bytes:,} bytes"

    broken = _row(page, "broken")
    assert broken.locator('[data-rpo="out"]').count() == 1 and "no backup yet" in broken.inner_text()
    failed = broken.locator("td.last-run").inner_text()
    assert "web-missing" in failed and "Try: " in failed
    assert "items" not in failed and "· ·" not in failed and not failed.rstrip().endswith("·")

    stale = _row(page, "stale")
    assert stale.locator('[data-rpo="out"]').count() == 1
    assert " old" in stale.locator("td.newest").inner_text() and "RPO 1s" in stale.locator("td.newest").inner_text()

    for job in JOBS:
        marks = page.locator(f'figure[data-job="{job}"] svg g.run')
        runs = service.runner.runs(job)
        assert marks.count() == len(runs)
        assert [marks.nth(i).get_attribute("data-outcome") for i in range(len(runs))] == [r.outcome for r in runs]
    assert page.locator('figure[data-job="broken"] rect.failed-mark').count() == 1
    assert page.locator('figure[data-job="alpha"] rect.failed-mark').count() == 0
    assert page.locator("h3", has_text="web-a in").count() == 1 and "complete" in page.locator("body").inner_text()


def test_no_request_left_the_pages_origin(base, browser_log):
    assert browser_log["requests"], "the browser made no request at all"
    assert [url for url in browser_log["requests"] if not url.startswith(base + "/")] == []
    assert any(url.endswith("/jobs.html") for url in browser_log["requests"]), "the page never refreshed itself"
    # a CSP violation is logged as "Refused to ... because it violates ... Content Security Policy"
    assert [text for text in browser_log["console_errors"] if "Content Security Policy" in text] == []
