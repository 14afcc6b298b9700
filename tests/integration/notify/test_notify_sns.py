"""SNS notifications on moto_server: published to a topic, received from a subscribed SQS queue."""

from __future__ import annotations

import json

import pytest

from ddbvault.notify import Dispatcher, SnsConfig, build_notifier
from ddbvault.notify.sns import sns_subject
from tests.support.events import FAKE_SECRET, failure_event, leaky_error, success_event
from tests.support.receivers import receive_all, sns_topic_with_queue

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def topic_and_queue(aws_env):
    return sns_topic_with_queue("ddbvault-alerts")


def test_failure_reaches_the_subscribed_queue(topic_and_queue):
    topic_arn, queue_url = topic_and_queue
    notifier = build_notifier(SnsConfig(type="sns", topic_arn=topic_arn))
    report = Dispatcher().dispatch(failure_event(), [notifier])
    assert report.sent == 1
    [envelope] = receive_all(queue_url)
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"].startswith("ddbvault FAILED: backup of orders")
    assert len(envelope["Subject"]) <= 100
    assert "AccessDeniedError" in envelope["Message"] and "grant s3:PutObject" in envelope["Message"]
    attributes = {name: value["Value"] for name, value in envelope["MessageAttributes"].items()}
    assert attributes == {"job": "nightly-orders", "table": "orders", "outcome": "failure"}


def test_on_failure_skips_success_and_on_all_sends_it(topic_and_queue):
    topic_arn, queue_url = topic_and_queue
    failures_only = build_notifier(SnsConfig(type="sns", topic_arn=topic_arn))
    everything = build_notifier(SnsConfig(type="sns", topic_arn=topic_arn, on="all"))
    report = Dispatcher().dispatch(success_event(), [failures_only, everything])
    assert (report.sent, report.skipped) == (1, 1)
    [envelope] = receive_all(queue_url)
    assert envelope["Subject"].startswith("ddbvault OK: backup of orders")
    assert "12,345" in envelope["Message"]


def test_publish_through_an_assumed_role(topic_and_queue):
    topic_arn, queue_url = topic_and_queue
    config = SnsConfig(type="sns", topic_arn=topic_arn,
                       role_arn="arn:aws:iam::123456789012:role/ddbvault-notify",
                       external_id="acme")
    build_notifier(config).send(failure_event(table="invoices"))
    [envelope] = receive_all(queue_url)
    assert "invoices" in envelope["Subject"]


def test_a_leaky_error_is_redacted_in_the_published_message(topic_and_queue):
    from ddbvault.notify import RunEvent

    topic_arn, queue_url = topic_and_queue
    event = RunEvent.from_error("nightly", "orders", leaky_error())
    build_notifier(SnsConfig(type="sns", topic_arn=topic_arn)).send(event)
    [envelope] = receive_all(queue_url)
    assert FAKE_SECRET not in json.dumps(envelope) and "hunter2" not in json.dumps(envelope)
    assert "RuntimeError" in envelope["Message"]


def test_missing_topic_is_logged_and_counted(topic_and_queue, caplog):
    topic_arn, _ = topic_and_queue
    missing = topic_arn.rsplit(":", 1)[0] + ":no-such-topic"
    dispatcher = Dispatcher()
    report = dispatcher.dispatch(failure_event(), [build_notifier(SnsConfig(type="sns",
                                                                            topic_arn=missing))])
    assert report.failed == 1 and dispatcher.failures == {"sns": 1}
    assert "no-such-topic" in caplog.text and "Publish" in caplog.text


def test_sns_subject_rules():
    assert sns_subject("é\nline two " + "x" * 200).startswith("? line two")
    assert len(sns_subject("x" * 300)) == 100 and sns_subject("   ") == "ddbvault notification"
