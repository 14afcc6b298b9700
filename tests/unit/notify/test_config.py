"""Notification config: what validates, and errors that name the field (never its secret value)."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from ddbvault.errors import UsageError
from ddbvault.notify import (EmailConfig, SnsConfig, WebhookConfig, build_notifier,
                             parse_notifications)

SAMPLE = """
- type: email
  on: all
  host: smtp.example.com
  username: ddbvault
  password_env: DDBVAULT_SMTP_PASSWORD
  sender: ddbvault@example.com
  recipients: [oncall@example.com, dba@example.com]
- type: sns
  topic_arn: arn:aws:sns:eu-west-1:123456789012:backup-alerts
  role_arn: arn:aws:iam::123456789012:role/ddbvault-notify
- type: webhook
  url: https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX
  headers: {Authorization: Bearer not-a-real-token}
"""


def test_sample_parses_with_yaml11_on_key_and_defaults():
    email, sns, webhook = parse_notifications(yaml.safe_load(SAMPLE))
    assert isinstance(email, EmailConfig) and email.on == "all"  # `on` arrived as key True
    assert email.security == "starttls" and email.effective_port == 587
    assert isinstance(sns, SnsConfig) and sns.on == "failure" and sns.effective_region == "eu-west-1"
    assert isinstance(webhook, WebhookConfig) and webhook.timeout == 10.0
    assert webhook.endpoint == "https://hooks.slack.com"


def test_secrets_stay_out_of_repr():
    configs = parse_notifications([
        {"type": "email", "host": "h", "username": "u", "password": "hunter2",
         "sender": "a@example.com", "recipients": ["b@example.com"]},
        {"type": "webhook", "url": "https://hooks.example.com/T/SECRETPATH",
         "headers": {"X-Token": "tok-123456"}},
    ])
    text = repr(configs) + str(configs)
    for secret in ("hunter2", "SECRETPATH", "tok-123456"):
        assert secret not in text
    assert configs[0].resolve_password() == "hunter2"


@pytest.mark.parametrize("item, field", [
    ({"type": "email", "hots": "x", "sender": "a@b.c", "recipients": ["d@e.f"]}, "notifications[0].hots"),
    ({"type": "email", "host": "x", "sender": "nobody", "recipients": ["d@e.f"]}, "notifications[0].sender"),
    ({"type": "email", "host": "x", "sender": "a@b.c", "recipients": []}, "notifications[0].recipients"),
    ({"type": "email", "host": "x", "sender": "a@b.c", "recipients": ["d@e.f"], "security": "tls"},
     "notifications[0].security"),
    ({"type": "sns", "topic_arn": "my-topic"}, "notifications[0].topic_arn"),
    ({"type": "sns", "topic_arn": "arn:aws:sns:eu-west-1:123456789012:t", "on": "sometimes"},
     "notifications[0].on"),
    ({"type": "webhook", "url": "ftp://example.com/x"}, "notifications[0].url"),
    ({"type": "webhook", "url": "https://x.example", "header": {}}, "notifications[0].header"),
    ({"type": "sms"}, "notifications[0]"),
])
def test_errors_name_the_field(item, field):
    with pytest.raises(UsageError) as info:
        parse_notifications([item])
    assert field in info.value.message
    assert info.value.hint


def test_password_rules():
    base = {"type": "email", "host": "h", "sender": "a@b.c", "recipients": ["d@e.f"]}
    for extra in ({"username": "u"}, {"password": "p"}, {"username": "u", "password": "p",
                                                         "password_env": "X"},
                  {"username": "u", "password": "secret-pw", "security": "none"}):
        with pytest.raises(UsageError) as info:
            parse_notifications([{**base, **extra}])
        assert "secret-pw" not in info.value.message


def test_password_env_is_read_at_send_time(monkeypatch):
    config = EmailConfig(type="email", host="h", sender="a@b.c", recipients=["d@e.f"],
                         username="u", password_env="DDBVAULT_TEST_SMTP_PW")
    monkeypatch.delenv("DDBVAULT_TEST_SMTP_PW", raising=False)
    with pytest.raises(UsageError, match="DDBVAULT_TEST_SMTP_PW"):
        config.resolve_password()
    monkeypatch.setenv("DDBVAULT_TEST_SMTP_PW", "from-env")
    assert config.resolve_password() == "from-env"


def test_models_are_frozen_and_importable_standalone():
    config = SnsConfig(type="sns", topic_arn="arn:aws:sns:us-east-1:123456789012:t")
    with pytest.raises(ValidationError):
        config.topic_arn = "arn:aws:sns:us-east-1:123456789012:other"


def test_build_notifier_makes_no_network_call():
    email, sns, webhook = (build_notifier(c) for c in parse_notifications(yaml.safe_load(SAMPLE)))
    assert (email.kind, sns.kind, webhook.kind) == ("email", "sns", "webhook")
    assert email.on == "all" and sns.on == "failure"
    assert "XXXXSECRETXXXX" not in webhook.target
    assert email.target == "smtp://smtp.example.com:587 (starttls)"
