"""Notification settings: pydantic models, validated on load, embedded in the service's config.

    NotificationConfig = EmailConfig | SnsConfig | WebhookConfig, chosen by `type`

Every model forbids unknown keys, so a misspelt key is an error that names it, and is frozen.
Each has `on`: "failure" (the default: failed runs and RPO alerts notify) or "all" (successful
runs too); see should_send() in notify/__init__.py.

Secrets: the SMTP password and webhook header values are SecretStr (hidden from repr, str and
model_dump(mode="json")); the webhook URL, which often embeds a token (Slack, Teams), is left
out of repr. Prefer `password_env` (the name of an environment variable) to a password written
in a config file.

YAML 1.1 (PyYAML's safe_load) reads a bare `on` key as the boolean True; a mapping key True is
therefore accepted as `on`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError,
                      field_validator, model_validator)

from ..errors import UsageError

__all__ = ["EmailConfig", "SnsConfig", "WebhookConfig", "NotificationConfig", "SendOn",
           "parse_notifications"]

SendOn = Literal["failure", "all"]
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
_TOPIC_ARN = re.compile(r"^arn:aws[a-z\-]*:sns:([a-z0-9\-]+):(\d{12}):[A-Za-z0-9_\-]{1,256}(\.fifo)?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]{1,512}$")


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    on: SendOn = "failure"

    @model_validator(mode="before")
    @classmethod
    def _yaml11_on_key(cls, data: Any) -> Any:
        """Accept `on` read by a YAML 1.1 parser as the boolean key True."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data


def _no_line_breaks(value: str, what: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"{what} must not contain line breaks")
    return value


def _check_address(value: str) -> str:
    _no_line_breaks(value, "an email address")
    if "@" not in value or value.startswith("@") or value.endswith("@"):
        raise ValueError(f"{value!r} is not an email address")
    return value


class EmailConfig(_Base):
    """Email over SMTP: STARTTLS (port 587), implicit TLS "ssl" (465) or plain "none" (25)."""

    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)  # None: by `security`
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = None  # name of an environment variable holding the password
    sender: str
    recipients: list[str] = Field(min_length=1)
    subject_prefix: str = "[ddbvault]"
    timeout: float = Field(default=30.0, gt=0, le=600)
    ca_file: Path | None = None  # CA bundle to trust instead of the system's (private CA)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _check_address(value)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        return [_check_address(address) for address in value]

    @field_validator("subject_prefix")
    @classmethod
    def _subject_prefix(cls, value: str) -> str:
        return _no_line_breaks(value, "subject_prefix")

    @model_validator(mode="after")
    def _credentials(self) -> EmailConfig:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        has_secret = self.password is not None or self.password_env is not None
        if has_secret != (self.username is not None):
            raise ValueError("username and password (or password_env) go together")
        if self.username is not None and self.security == "none":
            raise ValueError("refusing to send an SMTP password unencrypted: "
                             "use security: starttls or ssl")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    def resolve_password(self) -> str | None:
        """The SMTP password, read from the environment at call time for `password_env`.

        Raises UsageError if the variable is unset; the message names the variable only."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_env is None:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise UsageError(f"the SMTP password variable {self.password_env} is not set",
                             hint=f"set {self.password_env} in the service's environment")
        return value


class SnsConfig(_Base):
    """Publish to an SNS topic, with the standard credential chain or an assumed role."""

    type: Literal["sns"]
    topic_arn: str
    region: str | None = None  # None: the topic ARN's region
    role_arn: str | None = None
    external_id: str | None = None

    @field_validator("topic_arn")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not _TOPIC_ARN.match(value):
            raise ValueError("expected arn:aws:sns:<region>:<account>:<topic name>")
        return value

    @field_validator("role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError("expected arn:aws:iam::<account>:role/<name>")
        return value

    @model_validator(mode="after")
    def _principal(self) -> "SnsConfig":
        # The same checks as every Principal (aws/session.py), on load rather than at first publish.
        from ..aws.session import Principal
        try:
            Principal(region=self.region, role_arn=self.role_arn, external_id=self.external_id,
                      session_name="ddbvault-notify")
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return self

    @property
    def effective_region(self) -> str:
        return self.region or _TOPIC_ARN.match(self.topic_arn).group(1)


class WebhookConfig(_Base):
    """A JSON POST ({"text": …, "event": {…}}), as Slack incoming webhooks and most chat
    tools accept. Any status outside 2xx, redirects included, is a failed notification."""

    type: Literal["webhook"]
    url: str = Field(repr=False)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout: float = Field(default=10.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL with a host")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, secret in value.items():
            if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~\-]+", name):
                raise ValueError(f"{name!r} is not a valid HTTP header name")
            _no_line_breaks(secret.get_secret_value(), f"header {name}")
        return value

    @property
    def endpoint(self) -> str:
        """scheme://host[:port] only: safe to log (the path often holds a token)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


NotificationConfig = Annotated[Union[EmailConfig, SnsConfig, WebhookConfig],
                               Field(discriminator="type")]

_LIST = TypeAdapter(list[NotificationConfig])
_TAGS = frozenset({"email", "sns", "webhook"})


def _where(base: str, loc: tuple) -> str:
    path = base
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif not (part in _TAGS and index and isinstance(loc[index - 1], int)):
            path += f".{part}"
    return path


def parse_notifications(raw: Any, where: str = "notifications") -> list[NotificationConfig]:
    """Validate a list of notification mappings. Raises UsageError naming each bad field as
    `<where>[i].<field>`; the offending values are not quoted (they may be secrets)."""
    try:
        return _LIST.validate_python(raw if raw is not None else [])
    except ValidationError as exc:
        problems = [f"{_where(where, tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]
        raise UsageError("invalid notification settings: " + "; ".join(problems),
                         hint="see docs/notifications.md for each notifier's keys") from None
        # `from None`: pydantic's own message quotes the input, which may hold a password.
