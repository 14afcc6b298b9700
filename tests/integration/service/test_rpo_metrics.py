"""The RPO gauges in a running service's /metrics, parsed with prometheus-client, before and after
a real backup (moto DynamoDB to a local directory): ddbvault_rpo_seconds, ddbvault_within_rpo,
and ddbvault_last_success_age_seconds, which is absent until there is a good backup and grows at
each scrape between checks."""

from __future__ import annotations

import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ddbvault.service import Service
from ddbvault.service.config import ServiceConfig
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
RPO_GAUGES = ("ddbvault_rpo_seconds", "ddbvault_within_rpo", "ddbvault_last_success_age_seconds")


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "rpo-metrics")
    fill_table(ddb, "rpo-metrics", 20, edge_cases=False, payload_bytes=50)
    return "rpo-metrics"


def rpo_gauges(port: int) -> dict[tuple[str, str], float]:
    """{(gauge, job): value} of the RPO gauges in /metrics; each sample must name the table too."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    gauges = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in RPO_GAUGES:
                assert sample.labels["table"] == "rpo-metrics", sample
                gauges[(sample.name, sample.labels["job"])] = sample.value
    return gauges


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def test_rpo_gauges_before_and_after_a_backup(table, aws_env, tmp_path):
    (tmp_path / "vault").mkdir()
    config = ServiceConfig.model_validate({
        "defaults": {"read_rcu": 100000},
        "jobs": [{"name": "orders", "table": table, "cron": "0 3 * * *", "rpo": "1h",
                  "destination": str(tmp_path / "vault")},
                 # no `rpo`: twice its period; its directory is missing, so its state is unknown
                 {"name": "lost", "table": table, "interval_seconds": 3600, "destination": str(tmp_path / "missing")}],
        "http": {"host": "127.0.0.1", "port": 0, "token": "sesame"}})
    service = Service(config)
    shift = timedelta(0)
    service.protection.clock = lambda: datetime.now(timezone.utc) + shift
    service.start()  # the scheduler runs the first RPO check at once
    try:
        port = service.http.port
        before = wait_for(lambda: rpo_gauges(port), "the first RPO check")
        assert before == {("ddbvault_rpo_seconds", "orders"): 3600, ("ddbvault_within_rpo", "orders"): 0,
                          ("ddbvault_rpo_seconds", "lost"): 7200, ("ddbvault_within_rpo", "lost"): 0}

        request = urllib.request.Request(f"http://127.0.0.1:{port}/run/orders", data=b"", method="POST",
                                         headers={"X-Ddbvault-Token": "sesame"})
        assert urllib.request.urlopen(request).status == 200  # 303 followed to the status page
        after = wait_for(lambda: (g := rpo_gauges(port)).get(("ddbvault_within_rpo", "orders")) == 1 and g,
                         "the check after the run")
        assert after[("ddbvault_rpo_seconds", "orders")] == 3600
        assert 0 <= after[("ddbvault_last_success_age_seconds", "orders")] < 120
        assert ("ddbvault_last_success_age_seconds", "lost") not in after
        assert after[("ddbvault_within_rpo", "lost")] == 0

        shift = timedelta(hours=2)  # no new check: each scrape ages the last one to its own time
        aged = rpo_gauges(port)
        assert 7200 <= aged[("ddbvault_last_success_age_seconds", "orders")] < 7320
        assert aged[("ddbvault_within_rpo", "orders")] == 0
    finally:
        service.stop()
