"""RPO notifications from the service: one alert when a job falls out of its RPO, one when it
recovers, and nothing on the checks in between, through real receivers: aiosmtpd (email), a
local webhook server and moto's SNS (read back from a subscribed SQS queue).

Backups are real (moto DynamoDB to a local directory). The service's RPO check is called directly
(`service._check_rpo()`, what its timer and every run call) and its time is moved with
ProtectionCheck's injectable clock; one test lets the running service's timer do the checking.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from ddbvault.service import Service
from ddbvault.service.config import ServiceConfig
from tests.support.receivers import (aiosmtpd_server, receive_all, received, sns_topic_with_queue, subject,
                                     webhook_server)
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
TABLE = "rpo-orders"


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, TABLE)
    fill_table(ddb, TABLE, 20, edge_cases=False, payload_bytes=50)
    return TABLE


class Clock:
    """The real time moved by `shift`: backups are stamped with the real time, so shifting the
    check's clock ages them."""

    def __init__(self):
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift


def config(vault, notifications: list[dict], rpo: str = "1h", rpo_check_s: float = 60) -> ServiceConfig:
    return ServiceConfig.model_validate({
        "defaults": {"destination": str(vault), "read_rcu": 100000, "notifications": notifications},
        "jobs": [{"name": "orders", "table": TABLE, "cron": "0 3 * * *", "rpo": rpo}],
        "http": {"host": "127.0.0.1", "port": 0},
        "scheduler": {"rpo_check_s": rpo_check_s}})


@contextmanager
def service_with_clock(cfg: ServiceConfig, clock: Clock):
    """A Service, not started (no timer: the test calls its RPO check), on `clock`."""
    service = Service(cfg)
    service.protection.clock = clock
    try:
        yield service
    finally:
        service.http.server.server_close()  # bound by Service(), never served


def checks(service: Service, times: int) -> None:
    """`times` RPO checks, then wait for the alerts they queued (sent on their own thread)."""
    for _ in range(times):
        service._check_rpo()
    service.flush_alerts(60)


def run(service: Service, job: str) -> str:
    """Run `job` (which checks the RPO after it), wait for the alerts; its outcome."""
    outcome = service.runner.run(job).outcome
    service.flush_alerts(60)
    return outcome


def outcomes(posts: list[dict]) -> list[str]:
    return [post["body"]["event"]["outcome"] for post in posts]


def test_one_breach_and_one_recovery_by_email_sns_and_webhook(table, aws_env, tmp_path):
    topic_arn, queue_url = sns_topic_with_queue("ddbvault-rpo")
    vault, maildir, clock = tmp_path / "vault", tmp_path / "mail", Clock()
    vault.mkdir()
    with aiosmtpd_server(maildir) as smtp, webhook_server({"/hook": 200}) as (base, posts):
        notifications = [  # all `on: failure`: they get RPO alerts, not the successful run
            {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
             "sender": "ddbvault@example.com", "recipients": ["oncall@example.com"], "timeout": 10},
            {"type": "sns", "topic_arn": topic_arn},
            {"type": "webhook", "url": f"{base}/hook", "timeout": 5}]
        with service_with_clock(config(vault, notifications), clock) as service:
            def heard() -> dict[str, Counter]:
                mail = Counter(m["X-Ddbvault-Outcome"] for m in received(maildir))
                sns = Counter(e["MessageAttributes"]["outcome"]["Value"] for e in receive_all(queue_url))
                return {"email": mail, "sns": sns, "webhook": Counter(outcomes(posts))}

            checks(service, 3)  # no backup yet: out of RPO from the first check
            assert heard() == {"email": Counter(rpo_breach=1), "sns": Counter(rpo_breach=1),
                               "webhook": Counter(rpo_breach=1)}
            assert posts[0]["body"]["event"]["summary"] == "out of RPO 60m: no backup yet"

            assert run(service, "orders") == "success"  # checks the RPO after it
            checks(service, 2)
            new = heard()  # SNS was drained above: it holds only what came since
            assert new["email"] == Counter(rpo_breach=1, rpo_recovered=1)
            assert new["sns"] == Counter(rpo_recovered=1) and outcomes(posts) == ["rpo_breach", "rpo_recovered"]
            recovery = posts[1]["body"]["event"]
            assert recovery["within_rpo"] and recovery["last_good_url"].startswith(str(vault / TABLE))

            clock.shift = timedelta(hours=2)  # the backup is now 2 h old, the RPO 1 h
            checks(service, 3)
            new = heard()
            assert new["email"] == Counter(rpo_breach=2, rpo_recovered=1) and new["sns"] == Counter(rpo_breach=1)
            assert outcomes(posts) == ["rpo_breach", "rpo_recovered", "rpo_breach"]
            assert posts[2]["body"]["event"]["summary"].startswith("out of RPO 60m: newest good backup 2")
            assert service.runner.dispatcher.sent == {"email": 3, "sns": 3, "webhook": 3}
            assert service.runner.dispatcher.failures == {}
    subjects = sorted(subject(m) for m in received(maildir))
    assert subjects[0] == f"[ddbvault] RPO ALERT: {TABLE} (job orders) out of RPO 60m: newest good backup 2h old"
    assert subjects[1] == f"[ddbvault] RPO ALERT: {TABLE} (job orders) out of RPO 60m: no backup yet"
    assert subjects[2].startswith(f"[ddbvault] RPO RECOVERED: {TABLE} (job orders) within RPO 60m")


def test_a_destination_that_cannot_be_listed_alerts_once_and_recovers_once(table, aws_env, tmp_path):
    vault, clock = tmp_path / "vault", Clock()  # not there yet: the listing fails
    with webhook_server({"/hook": 200}) as (base, posts):
        hook = [{"type": "webhook", "url": f"{base}/hook", "timeout": 5}]
        with service_with_clock(config(vault, hook), clock) as service:
            checks(service, 2)
            assert outcomes(posts) == ["rpo_breach"]
            unknown = posts[0]["body"]["event"]
            assert f"destination directory {vault} does not exist" in unknown["error"]
            assert unknown["summary"].startswith("unknown (counted out of RPO 60m)")
            assert run(service, "orders") == "success"  # makes the directory
            assert outcomes(posts) == ["rpo_breach", "rpo_recovered"]

            vault.rename(tmp_path / "elsewhere")  # listing fails again, the backup is still young
            checks(service, 2)
            assert outcomes(posts) == ["rpo_breach", "rpo_recovered", "rpo_breach"]
            assert "does not exist" in posts[2]["body"]["event"]["error"]
            assert posts[2]["body"]["text"].startswith(":rotating_light: ddbvault job `orders`: `rpo-orders` unknown")

            (tmp_path / "elsewhere").rename(vault)
            checks(service, 2)
    assert outcomes(posts) == ["rpo_breach", "rpo_recovered", "rpo_breach", "rpo_recovered"]


def test_a_restarted_check_alerts_again_only_for_a_job_still_out(table, aws_env, tmp_path):
    vault, clock = tmp_path / "vault", Clock()
    vault.mkdir()
    with webhook_server({"/hook": 200}) as (base, posts):
        cfg = config(vault, [{"type": "webhook", "url": f"{base}/hook", "timeout": 5}])
        with service_with_clock(cfg, clock) as first:
            assert run(first, "orders") == "success"  # the first check: within, silent
            checks(first, 2)
        assert posts == []
        with service_with_clock(cfg, clock) as restarted:  # within at its first check: silent
            checks(restarted, 2)
        assert posts == []
        clock.shift = timedelta(hours=2)
        with service_with_clock(cfg, clock) as restarted:  # out at its first check: one alert
            checks(restarted, 3)
    assert outcomes(posts) == ["rpo_breach"]


def test_the_running_services_timer_alerts_once_over_several_checks(table, aws_env, tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    with webhook_server({"/hook": 200}) as (base, posts):
        service = Service(config(vault, [{"type": "webhook", "url": f"{base}/hook", "timeout": 5}],
                                 rpo_check_s=5))
        done, check_all = [], service.protection.check_all

        def counted(*names):  # the scheduler and every run call service._check_rpo, which calls this
            result = check_all(*names)
            done.append(time.monotonic())
            return result

        service.protection.check_all = counted
        service.start()
        try:
            deadline = time.monotonic() + 30
            while len(done) < 2 and time.monotonic() < deadline:  # at the start, then 5 s later
                time.sleep(0.1)
            assert len(done) >= 2, "the RPO check did not run on its timer"
            assert outcomes(posts) == ["rpo_breach"]
            assert run(service, "orders") == "success"
            assert outcomes(posts) == ["rpo_breach", "rpo_recovered"]
        finally:
            service.stop()


@contextmanager
def silent_webhook():
    """A webhook that accepts connections and never answers: a notifier stuck until its timeout."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    finally:
        server.close()


def test_a_notifier_that_hangs_delays_its_alert_never_the_check(table, aws_env, tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    with silent_webhook() as url:
        hooks = [{"type": "webhook", "url": url, "timeout": 5}]
        with service_with_clock(config(vault, hooks), Clock()) as service:
            t0 = time.monotonic()
            service._check_rpo()  # out of RPO: one breach alert queued for the silent webhook
            service._check_rpo()
            assert time.monotonic() - t0 < 4, "the RPO check waited for a notifier"
            service.flush_alerts(60)  # the alert times out (5 s, retried per the dispatcher), counted
            assert service.runner.dispatcher.failures.get("webhook", 0) >= 1
