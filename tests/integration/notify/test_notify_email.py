"""Email notifications delivered to a real aiosmtpd server on a free loopback port.

- plain SMTP, STARTTLS and SMTPS: `python -m aiosmtpd … -c aiosmtpd.handlers.Mailbox DIR` as a
  subprocess (STARTTLS with aiosmtpd's default require_starttls, so mail is refused unless the
  client really upgraded), messages read back from the Maildir;
- AUTH after STARTTLS: aiosmtpd's command line has no authenticator option, so that server runs
  in-process (aiosmtpd.controller.Controller) with auth_require_tls, which only offers AUTH
  once the connection is encrypted;
- a closed port: the failure is logged and counted, and dispatch does not raise.
"""

from __future__ import annotations

import smtplib

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

from ddbvault.devtools.local_servers import free_port
from ddbvault.notify import Dispatcher, EmailConfig, build_notifier
from tests.support.certs import CertPair, self_signed
from tests.support.events import FAKE_SECRET, failure_event, success_event
from tests.support.receivers import aiosmtpd_server, received, subject

pytestmark = pytest.mark.integration
SENDER, RECIPIENTS = "ddbvault@backups.example.com", ["oncall@example.com", "dba@example.com"]


@pytest.fixture
def certs(tmp_path) -> CertPair:
    directory = tmp_path / "tls"
    directory.mkdir()
    return self_signed(directory)


def config(port: int, **overrides) -> EmailConfig:
    values = dict(type="email", host="127.0.0.1", port=port, security="none", sender=SENDER,
                  recipients=RECIPIENTS, on="all", timeout=10)
    return EmailConfig(**{**values, **overrides})


def test_plain_smtp_delivers_a_complete_message(tmp_path):
    maildir = tmp_path / "mail"
    with aiosmtpd_server(maildir) as server:
        report = Dispatcher().dispatch(failure_event(), [build_notifier(config(server.port))])
    assert report.sent == 1
    [message] = received(maildir)
    assert message["From"] == SENDER
    assert message["To"] == ", ".join(RECIPIENTS)
    assert subject(message) == "[ddbvault] FAILED: backup of orders (job nightly-orders): AccessDeniedError"
    assert message["Date"] and message["Message-ID"].endswith("@backups.example.com>")
    assert message["X-Ddbvault-Outcome"] == "failure" and message["X-Ddbvault-Table"] == "orders"
    assert set(message["X-RcptTo"].split(", ")) == set(RECIPIENTS)  # the envelope, per aiosmtpd
    body = message.get_content()
    assert "table orders" in body and "missing permission: s3:PutObject" in body
    assert "Try:" in body and "grant s3:PutObject" in body


def test_starttls_is_used_when_configured(tmp_path, certs):
    maildir = tmp_path / "mail"
    tls = ("--tlscert", str(certs.cert), "--tlskey", str(certs.key))  # the server requires STARTTLS
    with aiosmtpd_server(maildir, *tls) as server:
        notifier = build_notifier(config(server.port, security="starttls", ca_file=certs.cert))
        notifier.send(success_event())
        with pytest.raises(smtplib.SMTPException):  # proof the server refuses plain mail
            build_notifier(config(server.port)).send(success_event())
    [message] = received(maildir)
    assert subject(message).startswith("[ddbvault] OK: backup of orders")
    assert "12,345" in message.get_content()


def test_starttls_rejects_an_untrusted_certificate(tmp_path, certs):
    tls = ("--tlscert", str(certs.cert), "--tlskey", str(certs.key))
    with aiosmtpd_server(tmp_path / "mail", *tls) as server:
        dispatcher = Dispatcher()
        report = dispatcher.dispatch(failure_event(), [build_notifier(config(server.port,
                                                                             security="starttls"))])
    assert report.failed == 1 and dispatcher.failures == {"email": 1}
    assert received(tmp_path / "mail") == []


def test_smtps_implicit_tls(tmp_path, certs):
    maildir = tmp_path / "mail"
    tls = ("--smtpscert", str(certs.cert), "--smtpskey", str(certs.key))
    with aiosmtpd_server(maildir, *tls) as server:
        build_notifier(config(server.port, security="ssl", ca_file=certs.cert)).send(failure_event())
    [message] = received(maildir)
    assert "AccessDeniedError" in subject(message)


class _Authenticator:
    """Accepts one login; records what was tried and whether the session was encrypted."""

    def __init__(self, login: str, password: str):
        self.expected = LoginPassword(login.encode(), password.encode())
        self.attempts: list[tuple[bytes, bool]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        self.attempts.append((auth_data.login, session.ssl is not None))
        # handled=False: aiosmtpd then answers 535 itself (True means "I already replied").
        return AuthResult(success=auth_data == self.expected, handled=False)


@pytest.fixture
def auth_server(tmp_path, certs):
    authenticator = _Authenticator("ddbvault", FAKE_SECRET)
    controller = Controller(Mailbox(tmp_path / "mail"), hostname="127.0.0.1", port=free_port(),
                            tls_context=certs.server_context(), require_starttls=True,
                            authenticator=authenticator, auth_required=True,
                            auth_require_tls=True)
    controller.start()
    yield controller, authenticator, tmp_path / "mail"
    controller.stop()


def test_auth_over_starttls(auth_server, certs):
    controller, authenticator, maildir = auth_server
    good = config(controller.port, security="starttls", ca_file=certs.cert, username="ddbvault",
                  password=FAKE_SECRET)
    build_notifier(good).send(failure_event())
    assert authenticator.attempts == [(b"ddbvault", True)]  # logged in, after STARTTLS
    [message] = received(maildir)
    assert FAKE_SECRET not in message.as_string()


def test_wrong_password_is_a_counted_failure(auth_server, certs, caplog):
    controller, authenticator, maildir = auth_server
    bad = config(controller.port, security="starttls", ca_file=certs.cert, username="ddbvault",
                 password="wrong-password-123")
    dispatcher = Dispatcher()
    report = dispatcher.dispatch(failure_event(), [build_notifier(bad)])
    assert report.failed == 1 and dispatcher.failures == {"email": 1}
    assert "SMTPAuthenticationError" in caplog.text and "wrong-password-123" not in caplog.text
    assert received(maildir) == []


def test_closed_port_is_logged_and_counted(caplog):
    counted = []
    dispatcher = Dispatcher(on_failure=counted.append)
    report = dispatcher.dispatch(failure_event(), [build_notifier(config(free_port()))])
    assert report.failed == 1 and counted == ["email"] and dispatcher.failures == {"email": 1}
    assert "ConnectionRefusedError" in caplog.text and "smtp://127.0.0.1" in caplog.text
