"""Jobs with `tables:`, from plain values: the worst table a job shows, the status page's row,
the RPO series relabelled when the worst table changes, and the one notification of a run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from prometheus_client import generate_latest

from ddbvault.errors import AccessDeniedError
from ddbvault.notify.event import RunEvent
from ddbvault.notify.render import render
from ddbvault.runtime.each_table import run_each
from ddbvault.service.config import ServiceConfig
from ddbvault.service.metrics import Metrics
from ddbvault.service.protection import worst
from ddbvault.service.rpo import Protection
from ddbvault.service.status_page import render_jobs

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def _p(table: str, age_h: float | None, error: str | None = None) -> Protection:
    good = None if age_h is None else NOW - timedelta(hours=age_h)
    return Protection("many", table, 26 * 3600, NOW, good, good and f"/v/{table}/x", error)


def test_worst_is_unknown_then_no_backup_then_out_then_oldest():
    assert worst([_p("a", 1), _p("b", 5), _p("c", 2)]).table == "b"
    assert worst([_p("a", 1), _p("b", 30), _p("c", 27)]).table == "b"
    assert worst([_p("a", 1), _p("b", 30), _p("c", None)]).table == "c"
    assert worst([_p("a", None), _p("b", 1, error="denied")]).table == "b"


def test_the_status_row_names_the_selectors_and_the_worst_table():
    config = ServiceConfig.model_validate({
        "defaults": {"destination": "/nonexistent/vault"},
        "jobs": [{"name": "many", "tables": ["orders-*", "tag:backup=daily"], "interval_seconds": 60}]})
    service = SimpleNamespace(config=config, runner=SimpleNamespace(records={}, runs=lambda name: []),
                              scheduler=SimpleNamespace(running=True, next_runs=lambda: {"many": NOW}),
                              protection=SimpleNamespace(latest=lambda: {"many": _p("orders-us", None)}))
    row = re.search(r'<tr data-job="many">.*?</tr>', render_jobs(service, now=NOW)).group(0)
    assert "orders-*, tag:backup=daily; worst: orders-us" in row and 'data-rpo="out"' in row


def test_the_rpo_series_follow_the_worst_table():
    metrics = Metrics()
    metrics.protected({"many": _p("a", 1)})
    metrics.protected({"many": _p("b", 30)})
    text = generate_latest(metrics.registry).decode()
    assert 'ddbvault_within_rpo{job="many",table="b"} 0.0' in text
    assert 'table="a"' not in text


@dataclass
class _Result:
    table: str
    items: int
    bytes: int = 100
    objects: int = 1
    consumed_rcu: float = 2.0
    url: str = ""
    seconds: float = 1.0

    def to_dict(self) -> dict:
        return {"table": self.table, "items": self.items}


def _run(fail: set[str]):
    def fn(table, cancelled):
        if table in fail:
            raise AccessDeniedError(f"Scan on {table} denied", hint="grant dynamodb:Scan")
        return _Result(table, len(table), url=f"/v/{table}/1")
    return run_each(["orders-eu", "orders-us", "billing"], fn)


def test_one_event_for_a_run_that_succeeded():
    event = RunEvent.from_tables("many", _run(set()), started_at=NOW, finished_at=NOW + timedelta(seconds=5))
    assert (event.outcome, event.items, event.bytes, event.table) == \
           ("success", 25, 300, "orders-eu, orders-us, billing")
    body = render(event).body
    assert "orders-us:" in body and "ok, 9 items: /v/orders-us/1" in body
    assert event.to_dict()["tables"][2] == {"table": "billing", "ok": True, "items": 7, "url": "/v/billing/1"}


def test_one_event_for_a_run_where_a_table_failed():
    event = RunEvent.from_tables("many", _run({"orders-us"}), started_at=NOW)
    assert (event.outcome, event.exit_code, event.items, event.error_type) == ("failure", 4, 16, "TablesFailed")
    assert event.error == ("1 of 3 tables failed: orders-us: Scan on orders-us denied. "
                           "Backed up: orders-eu, billing")
    assert event.hint == "grant dynamodb:Scan"
    rendered = render(event)
    assert "FAILED: Scan on orders-us denied" in rendered.body and "orders-us" in rendered.slack
