"""RunEvent, render() and redact(): what a notification says, and what it never says."""

from __future__ import annotations

import json

import pytest

from ddbvault.errors import IntegrityError
from ddbvault.exit_codes import ExitCode
from ddbvault.notify import RunEvent, redact, render
from ddbvault.notify.redact import ITEM_DATA_WITHHELD, REDACTED
from ddbvault.notify.render import human_bytes, slack_escape
from tests.support.events import (FAKE_KEY_ID, FAKE_SECRET, FINISHED, ITEM_VALUE, STARTED,
                                  backup_result, failure_event, leaky_error, success_event)

# ---------------------------------------------------------------- redact()


@pytest.mark.parametrize("text, secret", [
    (f"key id {FAKE_KEY_ID} was rejected", FAKE_KEY_ID),
    ("temporary ASIAY34FZKBOKMUTVV7A expired", "ASIAY34FZKBOKMUTVV7A"),
    (f"aws_secret_access_key={FAKE_SECRET}", FAKE_SECRET),
    (f"AWS_SECRET_ACCESS_KEY = {FAKE_SECRET}", FAKE_SECRET),
    (f'{{"aws_secret_access_key": "{FAKE_SECRET}"}}', FAKE_SECRET),
    (f"the secret {FAKE_SECRET} alone", FAKE_SECRET),
    ("password=hunter2&user=bob", "hunter2"),
    ("Password: 'correct horse battery'", "correct horse"),
    ("aws_session_token=IQoJb3JpZ2luX2VjEXAMPLETOKEN", "IQoJb3JpZ2luX2VjEXAMPLETOKEN"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ("GET https://bob:s3cr3t@example.com/path failed", "s3cr3t"),
    ("smtp://mailer:pa55word@smtp.example.com:587", "pa55word"),
    ("Invalid type for parameter Item.pk, value: topsecret, type: <class 'set'>", "topsecret"),
])
def test_redact_removes_credentials(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_redact_keeps_what_is_not_a_secret():
    for text in ("PutObject on s3://bucket/key failed: AccessDenied; missing permission: s3:PutObject",
                 "sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709 mismatch",
                 "token bucket refilled at 250 RCU/s",
                 "https://example.com/path?x=1 answered 503"):
        assert redact(text) == text


def test_redact_keeps_the_user_name_of_a_url():
    assert redact("https://bob:pw@host/x") == f"https://bob:{REDACTED}@host/x"


@pytest.mark.parametrize("text", [
    f"cannot encode {{'pk': {{'S': '{ITEM_VALUE}'}}}}",
    f'bad line {{"Item": {{"pk": {{"N": "1"}}, "note": "{ITEM_VALUE}"}}}}',
    f"'Key': {{'pk': '{ITEM_VALUE}'}}",
])
def test_redact_withholds_text_that_quotes_item_data(text):
    assert redact(text) == ITEM_DATA_WITHHELD


def test_redact_is_idempotent_and_total():
    text = str(leaky_error())
    assert redact(redact(text)) == redact(text)
    assert redact(None) == "" and redact("") == ""


# ---------------------------------------------------------------- RunEvent


def test_success_event_from_result():
    event = success_event()
    assert (event.outcome, event.table, event.items, event.objects) == ("success", "orders", 12345, 3)
    assert event.seconds == 150.0 and event.verified is True and event.exit_code == 0
    data = event.to_dict()
    assert data["started_at"] == "2026-11-27T08:19:00Z" and data["seconds"] == 150.0
    json.dumps(data)  # JSON-ready


def test_from_result_derives_the_start_from_the_duration():
    event = RunEvent.from_result("j", backup_result(), finished_at=FINISHED)
    assert event.started_at == STARTED


def test_failure_event_from_ddbvault_error_keeps_message_hint_and_exit_code():
    event = failure_event()
    assert event.outcome == "failure" and event.error_type == "AccessDeniedError"
    assert "missing permission: s3:PutObject" in event.error
    assert event.hint.startswith("grant s3:PutObject")
    assert event.exit_code == ExitCode.ACCESS_DENIED


def test_failure_event_from_unexpected_exception_is_redacted():
    event = RunEvent.from_error("j", "orders", leaky_error(), started_at=STARTED)
    assert event.error_type == "RuntimeError" and event.exit_code == ExitCode.FAILURE
    assert event.hint is None
    for secret in (FAKE_KEY_ID, FAKE_SECRET, "s3cr3t-pw", "hunter2"):
        assert secret not in event.error
    assert "connect failed" in event.error and "proxy.internal" in event.error


def test_failure_event_shortens_huge_messages():
    event = RunEvent.from_error("j", "t", IntegrityError("x" * 50_000))
    assert len(event.error) <= 1000


# ---------------------------------------------------------------- render()


def test_failure_rendering_names_table_error_and_hint():
    rendered = render(failure_event())
    assert "orders" in rendered.subject and "AccessDeniedError" in rendered.subject
    for text in (rendered.body, rendered.slack):
        assert "orders" in text and "nightly-orders" in text
        assert "AccessDeniedError" in text and "missing permission: s3:PutObject" in text
        assert "grant s3:PutObject" in text
    assert "Exit code: 4" in rendered.body


def test_failure_rendering_of_a_leaky_error_contains_no_credentials_or_item_data():
    for error in (leaky_error(), ValueError(f"bad item {{'note': {{'S': '{ITEM_VALUE}'}}}}")):
        rendered = render(RunEvent.from_error("nightly", "orders", error, started_at=STARTED))
        everything = " ".join((rendered.subject, rendered.body, rendered.slack))
        for secret in (FAKE_KEY_ID, FAKE_SECRET, "s3cr3t-pw", "hunter2", ITEM_VALUE):
            assert secret not in everything
        assert "orders" in everything and type(error).__name__ in everything


def test_success_rendering_gives_counts_and_location():
    rendered = render(success_event())
    assert rendered.subject == "OK: backup of orders (job nightly-orders): 12,345 items, 5.0 MiB in 150.0 s"
    assert "Items:" in rendered.body and "12,345" in rendered.body
    assert "s3://acme-backups/prod/orders/20261127T081900Z-3f9a1c" in rendered.body
    assert "Verified:     yes" in rendered.body
    assert rendered.slack.startswith(":white_check_mark:") and "\n" not in rendered.slack


def test_rendering_is_one_line_where_it_must_be_and_escapes_slack():
    event = RunEvent.from_error("job <x> & y", "t", RuntimeError("a\nb <c>"), started_at=STARTED)
    rendered = render(event)
    assert "\n" not in rendered.subject and "\n" not in rendered.slack
    assert "&lt;x&gt; &amp; y" in rendered.slack and "<c>" not in rendered.slack
    assert slack_escape("<&>") == "&lt;&amp;&gt;"


def test_human_bytes():
    assert [human_bytes(n) for n in (None, 0, 1023, 1536, 5 * 1024**3)] == \
        ["unknown", "0 B", "1023 B", "1.5 KiB", "5.0 GiB"]
