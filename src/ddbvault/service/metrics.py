"""Prometheus metrics of the service, per table (prometheus-client, its own registry).

    ddbvault_last_success_timestamp_seconds{table}   when the last successful backup finished
    ddbvault_last_duration_seconds{table}            how long it took
    ddbvault_last_items{table} / _last_bytes{table}  what it wrote
    ddbvault_consumed_rcu_total{table}               read capacity consumed, all runs
    ddbvault_backups_total{table}                    successful runs
    ddbvault_failures_total{table}                   failed runs
    ddbvault_notification_failures_total{notifier}   notifications that could not be sent
    ddbvault_up                                      1 while the scheduler runs
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_success = Gauge("ddbvault_last_success_timestamp_seconds", "End of the last successful backup",
                                  ["table"], registry=r)
        self.duration = Gauge("ddbvault_last_duration_seconds", "Duration of the last successful backup",
                              ["table"], registry=r)
        self.items = Gauge("ddbvault_last_items", "Items in the last successful backup", ["table"], registry=r)
        self.bytes = Gauge("ddbvault_last_bytes", "Stored bytes of the last successful backup", ["table"], registry=r)
        self.rcu = Counter("ddbvault_consumed_rcu", "Read capacity consumed by backups", ["table"], registry=r)
        self.backups = Counter("ddbvault_backups", "Successful backups", ["table"], registry=r)
        self.failures = Counter("ddbvault_failures", "Failed backups", ["table"], registry=r)
        self.notify_failures = Counter("ddbvault_notification_failures", "Notifications not sent",
                                       ["notifier"], registry=r)
        self.up = Gauge("ddbvault_up", "1 while the scheduler is running", registry=r)

    def succeeded(self, table: str, result) -> None:
        self.last_success.labels(table).set(time.time())
        self.duration.labels(table).set(result.seconds)
        self.items.labels(table).set(result.items)
        self.bytes.labels(table).set(result.bytes)
        self.rcu.labels(table).inc(result.consumed_rcu)
        self.backups.labels(table).inc()
        self.failures.labels(table)  # present at 0, so alerts can use rate() from the start

    def failed(self, table: str) -> None:
        self.failures.labels(table).inc()

    def notification_failed(self, notifier: str) -> None:
        self.notify_failures.labels(notifier).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
