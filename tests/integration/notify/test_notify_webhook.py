"""Webhook notifications POSTed to a real local http.server on a free loopback port.

The server answers by path: /hook 200, /accepted 204, /broken 500, /moved 302 (to /hook).
"""

from __future__ import annotations

import json

import pytest

from ddbvault.devtools.local_servers import free_port
from ddbvault.notify import Dispatcher, RunEvent, WebhookConfig, build_notifier
from ddbvault.notify.webhook import WebhookError
from tests.support.events import FAKE_SECRET, failure_event, leaky_error, success_event
from tests.support.receivers import webhook_server

pytestmark = pytest.mark.integration
STATUS_BY_PATH = {"/hook": 200, "/accepted": 204, "/broken": 500, "/moved": 302}


@pytest.fixture
def server():
    with webhook_server(STATUS_BY_PATH) as (base, requests):
        yield base, requests


def webhook(url: str, **overrides) -> WebhookConfig:
    return WebhookConfig(**{"type": "webhook", "url": url, "on": "all", "timeout": 5, **overrides})


def test_failure_posts_slack_text_and_event(server):
    base, requests = server
    notifier = build_notifier(webhook(f"{base}/hook?token=abc",
                                      headers={"Authorization": "Bearer not-a-real-token"}))
    assert Dispatcher().dispatch(failure_event(), [notifier]).sent == 1
    [request] = requests
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["Authorization"] == "Bearer not-a-real-token"
    text = request["body"]["text"]
    assert "orders" in text and "FAILED" in text and "AccessDeniedError" in text
    assert "grant s3:PutObject" in text
    event = request["body"]["event"]
    assert (event["table"], event["outcome"], event["exit_code"]) == ("orders", "failure", 4)
    assert event["hint"].startswith("grant s3:PutObject") and event["started_at"].endswith("Z")


def test_success_posts_text_naming_table_and_outcome(server):
    base, requests = server
    build_notifier(webhook(f"{base}/accepted")).send(success_event(table="invoices"))
    [request] = requests
    assert "invoices" in request["body"]["text"] and "backed up" in request["body"]["text"]
    assert request["body"]["event"]["outcome"] == "success"
    assert request["body"]["event"]["items"] == 12345


def test_on_failure_skips_success_events(server):
    base, requests = server
    report = Dispatcher().dispatch(success_event(), [build_notifier(webhook(f"{base}/hook",
                                                                            on="failure"))])
    assert (report.sent, report.skipped) == (0, 1) and requests == []


def test_leaky_error_is_redacted_in_the_payload(server):
    base, requests = server
    build_notifier(webhook(f"{base}/hook")).send(RunEvent.from_error("j", "orders", leaky_error()))
    raw = json.dumps(requests[0]["body"])
    assert FAKE_SECRET not in raw and "hunter2" not in raw and "s3cr3t-pw" not in raw


@pytest.mark.parametrize("path, status", [("/broken", 500), ("/moved", 302), ("/nowhere", 404)])
def test_non_2xx_is_a_failure(server, path, status):
    base, requests = server
    with pytest.raises(WebhookError) as info:
        build_notifier(webhook(f"{base}{path}")).send(failure_event())
    assert info.value.status == status
    assert len(requests) == 1  # the redirect was not followed


def test_a_500_is_logged_and_counted_without_the_url_token(server, caplog):
    base, _ = server
    counted = []
    dispatcher = Dispatcher(on_failure=counted.append)
    report = dispatcher.dispatch(failure_event(),
                                 [build_notifier(webhook(f"{base}/broken?token=SECRETPATH"))])
    assert report.failed == 1
    assert dispatcher.failures == {"webhook": 1} and counted == ["webhook"]
    assert "WebhookError: webhook answered HTTP 500" in caplog.text and "SECRETPATH" not in caplog.text


def test_unreachable_webhook_is_logged_and_counted(caplog):
    dispatcher = Dispatcher()
    dispatcher.dispatch(failure_event(), [build_notifier(webhook(f"http://127.0.0.1:{free_port()}/x"))])
    assert dispatcher.failures == {"webhook": 1} and "URLError" in caplog.text
