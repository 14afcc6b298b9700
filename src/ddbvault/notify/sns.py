"""SnsNotifier: publish each event to an SNS topic (Subject + the plain-text body).

Credentials come from the standard AWS chain, optionally through an assumed role
(ddbvault.aws.session). The client is created on first use, not at construction, so building
notifiers from config makes no AWS call; it is then reused (an assumed role's credentials
refresh themselves). Message attributes carry job, table and outcome so subscribers can filter.
"""

from __future__ import annotations

import threading

from ..aws.error_translation import translated
from ..aws.session import Principal, client, make_session
from .config import SnsConfig
from .event import Event
from .render import render

__all__ = ["SnsNotifier", "sns_subject", "SNS_SUBJECT_LIMIT", "SNS_MESSAGE_LIMIT"]

SNS_SUBJECT_LIMIT = 100  # characters: SNS rejects longer subjects
SNS_MESSAGE_LIMIT = 256 * 1024  # bytes


def sns_subject(text: str) -> str:
    """`text` made acceptable as an SNS Subject: printable ASCII, one line, ≤ 100 characters,
    starting with a letter, digit or punctuation (SNS's rules)."""
    ascii_only = "".join(c if " " <= c <= "~" else "?" for c in " ".join(text.split()))
    ascii_only = ascii_only.strip() or "ddbvault notification"
    if len(ascii_only) > SNS_SUBJECT_LIMIT:
        ascii_only = ascii_only[: SNS_SUBJECT_LIMIT - 3] + "..."
    return ascii_only


def _message(body: str) -> str:
    data = body.encode("utf-8")
    if len(data) <= SNS_MESSAGE_LIMIT:
        return body
    return data[: SNS_MESSAGE_LIMIT - 16].decode("utf-8", errors="ignore") + "\n[truncated]\n"


class SnsNotifier:
    """Publishes events to `config.topic_arn`. send() raises DdbvaultError (an AWS error,
    translated with the action, topic and missing permission) when the publish fails."""

    kind = "sns"

    def __init__(self, config: SnsConfig):
        self.config = config
        self.on = config.on
        self.target = config.topic_arn
        self._client = None
        self._lock = threading.Lock()

    def _sns(self):
        with self._lock:
            if self._client is None:
                principal = Principal(region=self.config.effective_region,
                                      role_arn=self.config.role_arn,
                                      external_id=self.config.external_id,
                                      session_name="ddbvault-notify")
                self._client = client(make_session(principal), "sns")
            return self._client

    def send(self, event: Event) -> None:
        """Publish `event` once; returns when SNS has accepted it."""
        rendered = render(event)
        attributes = {name: {"DataType": "String", "StringValue": value} for name, value in
                      (("job", event.job), ("table", event.table), ("outcome", event.outcome))}
        with translated(service="sns", action="Publish", resource=self.config.topic_arn):
            self._sns().publish(TopicArn=self.config.topic_arn,
                                Subject=sns_subject(f"ddbvault {rendered.subject}"),
                                Message=_message(rendered.body), MessageAttributes=attributes)
