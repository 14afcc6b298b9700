"""RpoEvent: a job out of its RPO, or back within it, as every notifier renders and sends it."""

from __future__ import annotations

import json

import pytest

from ddbvault.notify import Dispatcher, EmailConfig, RpoEvent, render, should_send
from ddbvault.notify.email import build_message
from ddbvault.notify.redact import ITEM_DATA_WITHHELD
from ddbvault.notify.sns import sns_subject
from ddbvault.notify.webhook import payload
from tests.support.events import (CHECKED, FAKE_KEY_ID, FAKE_SECRET, ITEM_VALUE, FakeNotifier,
                                  failure_event, protection, rpo_event, success_event)

UNKNOWN = "ListObjectsV2 on s3://acme-backups/prod failed: AccessDenied; missing permission: s3:ListBucket"

# ---------------------------------------------------------------- the event


def test_a_stale_backup_is_a_breach_with_its_age_and_recovery_point():
    event = rpo_event(hours_old=27)
    assert (event.outcome, event.breached, event.job, event.table) == ("rpo_breach", True, "nightly-orders", "orders")
    assert event.rpo_seconds == 26 * 3600 and event.age_seconds == 27 * 3600
    assert event.last_good_url == "s3://acme-backups/prod/orders/20261127T090000Z-3f9a1c"
    assert event.summary == "out of RPO 26h: newest good backup 27h old" and event.error is None
    data = event.to_dict()
    assert data["checked_at"] == "2026-11-28T12:00:00Z" and data["last_good_at"] == "2026-11-27T09:00:00Z"
    assert (data["within_rpo"], data["age_seconds"], data["outcome"]) == (False, 97200.0, "rpo_breach")
    json.dumps(data)  # JSON-ready


def test_within_the_rpo_is_a_recovery():
    event = rpo_event(hours_old=0.25)
    assert event.outcome == "rpo_recovered" and not event.breached and event.to_dict()["within_rpo"]
    assert event.summary == "within RPO 26h: newest good backup 15m old"


def test_no_backup_yet_is_a_breach_without_an_age():
    event = rpo_event(hours_old=None)
    assert event.breached and event.age_seconds is None and event.last_good_at is None
    assert event.to_dict()["last_good_at"] is None and event.summary == "out of RPO 26h: no backup yet"


def test_an_unknown_state_is_a_breach_that_says_why():
    event = rpo_event(error=UNKNOWN)
    assert event.breached and event.error == UNKNOWN
    assert event.summary.startswith("unknown (counted out of RPO 26h)") and "s3:ListBucket" in event.summary


def test_an_error_that_quotes_credentials_or_items_is_redacted_everywhere():
    leaky = f"connect failed: aws_secret_access_key={FAKE_SECRET} key {FAKE_KEY_ID} password=hunter2"
    for error in (leaky, f"bad key {{'pk': {{'S': '{ITEM_VALUE}'}}}}", "x" * 50_000):
        event = rpo_event(error=error)
        rendered = render(event)
        everything = " ".join((json.dumps(event.to_dict()), rendered.subject, rendered.body, rendered.slack))
        for secret in (FAKE_SECRET, FAKE_KEY_ID, "hunter2", ITEM_VALUE):
            assert secret not in everything
        assert len(event.error) <= 1000 and len(event.summary) <= 1000
    assert rpo_event(error=f"{{'pk': {{'S': '{ITEM_VALUE}'}}}}").error == ITEM_DATA_WITHHELD


# ---------------------------------------------------------------- rendering


def test_breach_rendering():
    rendered = render(rpo_event(hours_old=27))
    assert rendered.subject == "RPO ALERT: orders (job nightly-orders) out of RPO 26h: newest good backup 27h old"
    assert rendered.body.startswith("ddbvault: table orders (job nightly-orders) is out of its RPO.\n\n")
    lines = rendered.body.splitlines()
    assert "Outcome:            rpo_breach" in lines and "RPO:                1 day, 2:00:00 (93,600 s)" in lines
    assert "Age:                1 day, 3:00:00 (97,200 s)" in lines
    assert "Recovery point:     2026-11-27T09:00:00Z" in lines and "Checked:            2026-11-28T12:00:00Z" in lines
    assert "Newest good backup: s3://acme-backups/prod/orders/20261127T090000Z-3f9a1c" in lines
    assert rendered.slack.startswith(":rotating_light: ddbvault job `nightly-orders`: `orders` out of RPO 26h")
    assert rendered.slack.endswith("Newest good backup: s3://acme-backups/prod/orders/20261127T090000Z-3f9a1c")


def test_recovery_rendering():
    rendered = render(rpo_event(hours_old=0.25))
    assert rendered.subject == "RPO RECOVERED: orders (job nightly-orders) within RPO 26h: newest good backup 15m old"
    assert "is back within its RPO." in rendered.body and "Age:                0:15:00 (900 s)" in rendered.body
    assert rendered.slack.startswith(":white_check_mark:") and "within RPO 26h" in rendered.slack


def test_no_backup_and_unknown_say_none_and_unknown():
    none = render(rpo_event(hours_old=None)).body.splitlines()
    assert "Newest good backup: none" in none and "Age:                none" in none
    unknown = render(rpo_event(error=UNKNOWN))
    assert "could not be checked against its RPO, and counts as out of it." in unknown.body
    assert "Newest good backup: unknown" in unknown.body.splitlines() and "s3:ListBucket" in unknown.subject
    assert unknown.body.count("s3:ListBucket") == 1  # in the Status line, not repeated


def test_rpo_rendering_is_one_line_where_it_must_be_and_escapes_slack():
    event = rpo_event(error="a\nb <c> & d", job="job.x", table="t" * 250)
    rendered = render(event)
    assert "\n" not in rendered.subject and "\n" not in rendered.slack and len(rendered.subject) <= 200
    assert "&lt;c&gt; &amp; d" in rendered.slack and "<c>" not in rendered.slack


# ---------------------------------------------------------------- who gets it, and how


@pytest.mark.parametrize("outcome", ["rpo_breach", "rpo_recovered"])
def test_on_failure_and_on_all_both_get_breaches_and_recoveries(outcome):
    assert should_send("failure", outcome) and should_send("all", outcome)
    assert not should_send("failure", "success")


def test_dispatch_sends_the_breach_and_the_recovery_to_every_notifier():
    failures_only, everything = FakeNotifier(on="failure"), FakeNotifier(kind="email", on="all")
    dispatcher = Dispatcher()
    for event in (success_event(), rpo_event(hours_old=27), failure_event(), rpo_event(hours_old=1)):
        dispatcher.dispatch(event, [failures_only, everything])
    assert [e.outcome for e in failures_only.events] == ["rpo_breach", "failure", "rpo_recovered"]
    assert [e.outcome for e in everything.events] == ["success", "rpo_breach", "failure", "rpo_recovered"]


def test_email_message_of_a_breach():
    config = EmailConfig(type="email", host="smtp.example.com", sender="ddbvault@example.com",
                         recipients=["oncall@example.com"])
    message = build_message(config, rpo_event(hours_old=27))
    assert message["Subject"].startswith("[ddbvault] RPO ALERT: orders (job nightly-orders)")
    assert (message["X-Ddbvault-Outcome"], message["X-Ddbvault-Table"]) == ("rpo_breach", "orders")
    assert "out of RPO 26h" in message.get_content()


def test_webhook_payload_and_sns_subject_of_a_recovery():
    body = json.loads(payload(rpo_event(hours_old=1)))
    assert body["event"]["outcome"] == "rpo_recovered" and body["event"]["within_rpo"] is True
    assert body["event"]["rpo_seconds"] == 93600 and body["event"]["age_seconds"] == 3600
    assert body["text"].startswith(":white_check_mark:")
    subject = sns_subject(f"ddbvault {render(rpo_event(hours_old=1)).subject}")
    assert subject == "ddbvault RPO RECOVERED: orders (job nightly-orders) within RPO 26h: newest good backup 60m old"


def test_from_protection_reads_nothing_but_the_protection():
    p = protection(hours_old=3)
    event = RpoEvent.from_protection(p)
    assert (event.checked_at, event.last_good_at, event.rpo_seconds) == (CHECKED, p.last_good_at, p.rpo_seconds)
