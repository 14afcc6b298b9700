"""The status page in a real headless Chromium (Debian's chromium, driven by Playwright):
both jobs with their next run; "Run now" with the token runs a backup that then shows as
succeeded; without the token it is refused."""

from __future__ import annotations

import shutil
import time

import pytest
from playwright.sync_api import sync_playwright

from ddbvault.service import Service, load_config
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def service(ddb, aws_env, tmp_path_factory):
    for name in ("web-a", "web-b"):
        create_table(ddb, name)
        fill_table(ddb, name, 30, edge_cases=False, payload_bytes=20)
    root = tmp_path_factory.mktemp("web")
    (root / "c.yaml").write_text(f"""
defaults: {{destination: "{root / 'backups'}", read_rcu: 100000}}
jobs:
  - {{name: alpha, table: web-a, cron: "30 4 * * *"}}
  - {{name: beta, table: web-b, interval_seconds: 86400}}
http: {{host: 127.0.0.1, port: 0, token: open-sesame}}
""")
    svc = Service(load_config(root / "c.yaml"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def page(service):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser.new_page()
        browser.close()


def test_page_shows_both_jobs_with_next_runs(service, page):
    page.goto(f"http://127.0.0.1:{service.http.port}/")
    for job, table in (("alpha", "web-a"), ("beta", "web-b")):
        row = page.locator(f'tr[data-job="{job}"]')
        assert table in row.inner_text()
        next_run = row.locator("td.next-run").inner_text()
        expected = service.scheduler.next_runs()[job].isoformat(timespec="seconds")
        assert next_run == expected


def test_run_now_without_token_is_refused(service, page):
    page.goto(f"http://127.0.0.1:{service.http.port}/")
    page.locator('tr[data-job="alpha"] button').click()
    assert "needs the service token" in page.content()
    assert "alpha" not in service.runner.records


def test_run_now_with_token_runs_and_shows_success(service, page):
    base = f"http://127.0.0.1:{service.http.port}/"
    page.goto(base)
    page.locator('tr[data-job="alpha"] input[name="token"]').fill("open-sesame")
    page.locator('tr[data-job="alpha"] button').click()
    deadline = time.monotonic() + 60
    while True:
        page.goto(base)
        outcome = page.locator('tr[data-job="alpha"] td.last-run span')
        if outcome.count() and outcome.get_attribute("data-outcome") == "success":
            break
        assert time.monotonic() < deadline, "the run-now backup never showed as succeeded"
        time.sleep(0.3)
    assert "30 items" in page.locator('tr[data-job="alpha"] td.last-run').inner_text()
    assert "web-a" in page.locator("body").inner_text()
