"""EmailNotifier: one plain-text email per event, over SMTP with STARTTLS, implicit TLS or none.

Certificates are verified against the system's CAs, or `ca_file`, with the host name checked;
there is deliberately no switch to turn verification off. Login happens only when a username is
configured, and only on an encrypted connection (config.py refuses a password with security
"none"). One connection per message: notifications are rare, and a connection held open
between runs would only time out.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .config import EmailConfig
from .event import Event
from .render import render

__all__ = ["EmailNotifier", "build_message"]


def build_message(config: EmailConfig, event: Event) -> EmailMessage:
    """The email for `event`: From, To, Subject, Date, Message-ID, X-Ddbvault-* and the body."""
    rendered = render(event)
    message = EmailMessage()
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    prefix = f"{config.subject_prefix} " if config.subject_prefix else ""
    message["Subject"] = prefix + rendered.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring="ddbvault", domain=config.sender.rsplit("@", 1)[1])
    message["X-Ddbvault-Job"] = " ".join(event.job.split())
    message["X-Ddbvault-Table"] = event.table
    message["X-Ddbvault-Outcome"] = event.outcome
    message.set_content(rendered.body)
    return message


class EmailNotifier:
    """Sends events by email. send() raises smtplib.SMTPException, OSError or ssl.SSLError
    (or UsageError for an unset password variable) when the message was not accepted."""

    kind = "email"

    def __init__(self, config: EmailConfig):
        self.config = config
        self.on = config.on
        self.target = f"smtp://{config.host}:{config.effective_port} ({config.security})"

    def _tls_context(self) -> ssl.SSLContext:
        cafile = str(self.config.ca_file) if self.config.ca_file else None
        return ssl.create_default_context(cafile=cafile)

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.config.host, self.config.effective_port, self.config.timeout
        if self.config.security == "ssl":
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self._tls_context())
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if self.config.security == "starttls":
            try:
                smtp.starttls(context=self._tls_context())  # raises if the server lacks STARTTLS
            except BaseException:
                smtp.close()
                raise
        return smtp

    def send(self, event: Event) -> None:
        """Deliver the email for `event` to every recipient, or raise."""
        message = build_message(self.config, event)
        password = self.config.resolve_password()
        with self._connect() as smtp:
            if self.config.username is not None:
                smtp.login(self.config.username, password)
            refused = smtp.send_message(message)
        if refused:  # some recipients accepted, some not: still a failed notification
            raise smtplib.SMTPRecipientsRefused(refused)
