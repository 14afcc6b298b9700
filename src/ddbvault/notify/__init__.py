"""Notifications of backup runs: email (SMTP), SNS and webhooks, configured per job.

    config = parse_notifications(raw_list)            # validated pydantic models
    notifiers = [build_notifier(c) for c in config]   # no network I/O here
    dispatcher = Dispatcher(on_failure=metrics_hook)  # one per service, shared by all jobs
    dispatcher.dispatch(RunEvent.from_result(job, result), notifiers)
    dispatcher.dispatch(RunEvent.from_error(job, table, exc, started_at=t0), notifiers)
    dispatcher.dispatch(RpoEvent.from_protection(protection), notifiers)   # RPO breach/recovery
    dispatcher.dispatch(GapEvent.from_gap(job, table, gap), notifiers)     # a change log gap

Who gets what (should_send): `on: all` gets every event; `on: failure` gets failed runs, RPO
breaches, and the recovery that ends a breach, so whoever was paged also hears that it ended,
and every gap a follow job records in a change log.

Contract of dispatch(): it sends to each notifier whose `on` matches the outcome, in order, one
at a time (each bounded by its own timeout); a notifier that fails is logged on the
`ddbvault.notify` logger (type, target, job, table and the redacted error; never the message
body) and counted; dispatch never raises, so a notification can never fail a backup.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Protocol, runtime_checkable

from .config import (EmailConfig, NotificationConfig, SendOn, SnsConfig, WebhookConfig,
                     parse_notifications)
from .event import Event, GapEvent, RpoEvent, RunEvent
from .redact import redact, shorten
from .render import Rendered, render

__all__ = ["Dispatcher", "DispatchReport", "EmailConfig", "Event", "GapEvent", "NotificationConfig", "Notifier",
           "RpoEvent", "RunEvent", "Rendered", "SnsConfig", "WebhookConfig", "build_notifier",
           "parse_notifications", "redact", "render", "should_send"]

log = logging.getLogger(__name__)


@runtime_checkable
class Notifier(Protocol):
    """Something that delivers an event (a RunEvent or an RpoEvent) somewhere.

    kind: "email" | "sns" | "webhook" (the counter and metric label); on: "failure" | "all";
    target: where it sends, safe to log (no credentials, no URL path); send(): delivers once,
    or raises any exception. Implementations must be safe to call from several threads.
    """

    kind: str
    on: SendOn
    target: str

    def send(self, event: Event) -> None: ...


def build_notifier(config: NotificationConfig) -> Notifier:
    """The notifier for one validated config. Makes no network call."""
    if isinstance(config, EmailConfig):
        from .email import EmailNotifier
        return EmailNotifier(config)
    if isinstance(config, SnsConfig):
        from .sns import SnsNotifier  # boto3 only when SNS is configured
        return SnsNotifier(config)
    if isinstance(config, WebhookConfig):
        from .webhook import WebhookNotifier
        return WebhookNotifier(config)
    raise TypeError(f"not a notification config: {type(config).__name__}")


# What `on: failure` receives: failed runs, RPO breaches and the recoveries that end them, and
# gaps in a change log.
ALERT_OUTCOMES = frozenset({"failure", "rpo_breach", "rpo_recovered", "change_log_gap"})


def should_send(on: SendOn, outcome: str) -> bool:
    """'all' sends every event; 'failure' only ALERT_OUTCOMES."""
    return on == "all" or outcome in ALERT_OUTCOMES


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0


class Dispatcher:
    """Sends events to notifiers, counting failures per notifier kind. Thread-safe.

    `on_failure(kind)` is called after each failed send (e.g. to increment a Prometheus
    counter); an exception it raises is logged and ignored.
    """

    def __init__(self, on_failure: Callable[[str], None] | None = None):
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._failures: Counter[str] = Counter()
        self._sent: Counter[str] = Counter()

    @property
    def failures(self) -> dict[str, int]:
        """Failed sends so far, by notifier kind (a snapshot)."""
        with self._lock:
            return dict(self._failures)

    @property
    def sent(self) -> dict[str, int]:
        """Successful sends so far, by notifier kind (a snapshot)."""
        with self._lock:
            return dict(self._sent)

    def dispatch(self, event: Event, notifiers: Iterable[Notifier]) -> DispatchReport:
        """Send `event` to each matching notifier. Never raises (see the module docstring)."""
        sent = failed = skipped = 0
        for notifier in notifiers:
            if not should_send(notifier.on, event.outcome):
                skipped += 1
            elif self._send_one(notifier, event):
                sent += 1
            else:
                failed += 1
        return DispatchReport(sent=sent, failed=failed, skipped=skipped)

    def _send_one(self, notifier: Notifier, event: Event) -> bool:
        kind = getattr(notifier, "kind", type(notifier).__name__)
        try:
            notifier.send(event)
        except Exception as exc:  # any failure of any notifier: never fail the backup
            self._record_failure(kind, notifier, event, exc)
            return False
        with self._lock:
            self._sent[kind] += 1
        log.info("notification sent: %s to %s (job %s, table %s, %s)", kind,
                 getattr(notifier, "target", "?"), event.job, event.table, event.outcome)
        return True

    def _record_failure(self, kind: str, notifier: Notifier, event: Event,
                        exc: Exception) -> None:
        with self._lock:
            self._failures[kind] += 1
        # No exc_info: a traceback would print chained exceptions' messages unredacted.
        log.warning("notification failed: %s to %s (job %s, table %s, %s): %s: %s", kind,
                    getattr(notifier, "target", "?"), event.job, event.table, event.outcome,
                    type(exc).__name__, shorten(redact(str(exc)), 500))
        if self._on_failure is not None:
            try:
                self._on_failure(kind)
            except Exception as hook_exc:
                log.warning("notification failure hook raised %s", type(hook_exc).__name__)
