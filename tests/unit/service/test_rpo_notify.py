"""JobRunner.notify_rpo: one RpoEvent per change of a job's RPO state, to the job's notifiers,
and never an exception (ProtectionCheck calls it while it holds its lock)."""

from __future__ import annotations

import logging

from ddbvault.devtools.local_servers import free_port
from ddbvault.notify import Dispatcher
from ddbvault.service.config import ServiceConfig
from ddbvault.service.jobs import JobRunner
from ddbvault.service.metrics import Metrics
from tests.support.events import protection


def _runner(on: str = "failure") -> tuple[JobRunner, Dispatcher]:
    """A runner whose one job, nightly-orders, has a webhook on a closed port: each send fails
    at once, and the dispatcher's failure count says how many were sent."""
    config = ServiceConfig.model_validate({
        "defaults": {"destination": "/tmp/vault"},
        "jobs": [{"name": "nightly-orders", "table": "orders", "cron": "0 3 * * *", "notifications": [
            {"type": "webhook", "on": on, "url": f"http://127.0.0.1:{free_port()}/hook", "timeout": 5}]}]})
    dispatcher = Dispatcher()
    return JobRunner(config, Metrics(), dispatcher), dispatcher


def test_a_breach_and_a_recovery_each_send_one_event(caplog):
    runner, dispatcher = _runner()
    with caplog.at_level(logging.INFO, logger="ddbvault"):
        runner.notify_rpo(None, protection(hours_old=None))  # first check: no backup yet
        assert dispatcher.failures == {"webhook": 1}
        runner.notify_rpo(protection(hours_old=None), protection(hours_old=1))
    assert dispatcher.failures == {"webhook": 2}
    assert "(job nightly-orders, table orders, rpo_breach)" in caplog.text
    assert "(job nightly-orders, table orders, rpo_recovered)" in caplog.text
    assert "out of RPO 26h: no backup yet" in caplog.text  # the service's own log line


def test_a_job_that_starts_within_its_rpo_sends_nothing():
    runner, dispatcher = _runner(on="all")
    runner.notify_rpo(None, protection(hours_old=1))
    assert dispatcher.failures == {} and dispatcher.sent == {}


def test_it_never_raises(caplog):
    runner, dispatcher = _runner()
    runner.notify_rpo(None, protection(hours_old=None, job="not-in-the-config"))
    assert dispatcher.failures == {} and "RPO notification not sent: UsageError" in caplog.text
