"""Dispatcher with fake notifiers: who is sent what, and how failures are contained."""

from __future__ import annotations

import logging
import threading

from ddbvault.notify import Dispatcher, Notifier, should_send
from tests.support.events import FAKE_SECRET, FakeNotifier, failure_event, success_event


def test_fake_satisfies_the_protocol():
    assert isinstance(FakeNotifier(), Notifier)


def test_on_failure_skips_success_events_and_on_all_sends_both():
    failures_only, everything = FakeNotifier(on="failure"), FakeNotifier(on="all")
    dispatcher = Dispatcher()
    report = dispatcher.dispatch(success_event(), [failures_only, everything])
    assert (report.sent, report.skipped, report.failed) == (1, 1, 0)
    dispatcher.dispatch(failure_event(), [failures_only, everything])
    assert [e.outcome for e in failures_only.events] == ["failure"]
    assert [e.outcome for e in everything.events] == ["success", "failure"]
    assert should_send("failure", "failure") and not should_send("failure", "success")


def test_a_failing_notifier_is_logged_counted_and_does_not_stop_the_others(caplog):
    hook_calls = []
    broken = FakeNotifier(kind="email", error=ConnectionRefusedError(111, "Connection refused"))
    healthy = FakeNotifier(kind="sns")
    dispatcher = Dispatcher(on_failure=hook_calls.append)
    with caplog.at_level(logging.INFO, logger="ddbvault.notify"):
        report = dispatcher.dispatch(failure_event(), [broken, healthy])
    assert (report.sent, report.failed) == (1, 1)
    assert dispatcher.failures == {"email": 1} and dispatcher.sent == {"sns": 1}
    assert hook_calls == ["email"] and len(healthy.events) == 1
    warning = [r for r in caplog.records if r.levelno == logging.WARNING][0]
    assert warning.name == "ddbvault.notify"
    assert "email" in warning.getMessage() and "ConnectionRefusedError" in warning.getMessage()
    assert "orders" in warning.getMessage()


def test_logs_never_carry_the_body_or_secrets_of_an_exception(caplog):
    leaky = FakeNotifier(error=RuntimeError(f"aws_secret_access_key={FAKE_SECRET}"))
    with caplog.at_level(logging.DEBUG, logger="ddbvault.notify"):
        Dispatcher().dispatch(failure_event(), [leaky])
    logged = caplog.text
    assert FAKE_SECRET not in logged
    assert "Try" not in logged and "grant s3:PutObject" not in logged  # body/hint not logged


def test_dispatch_never_raises_even_when_the_hook_does():
    def bad_hook(kind):
        raise RuntimeError("metrics down")

    dispatcher = Dispatcher(on_failure=bad_hook)
    report = dispatcher.dispatch(failure_event(), [FakeNotifier(error=ValueError("x")),
                                                   FakeNotifier(error=KeyError("y"))])
    assert report.failed == 2 and dispatcher.failures == {"webhook": 2}


def test_failure_counter_is_thread_safe():
    dispatcher = Dispatcher()
    notifiers = [FakeNotifier(error=OSError("down"))]
    threads = [threading.Thread(target=lambda: [dispatcher.dispatch(failure_event(), notifiers)
                                                for _ in range(200)]) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert dispatcher.failures == {"webhook": 1600}
