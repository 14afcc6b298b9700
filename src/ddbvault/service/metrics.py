"""Prometheus metrics of the service, per job (prometheus-client, its own registry).

Every per-run series is labelled {job, table}: `job` keeps two jobs of one table apart (say, a
nightly backup to one bucket and an hourly one to another); `table` lets alerts group by table.

    ddbvault_last_success_timestamp_seconds{job,table}   when the last successful backup finished
    ddbvault_last_duration_seconds{job,table}            how long it took
    ddbvault_last_items{job,table} / _last_bytes         what it wrote
    ddbvault_consumed_rcu_total{job,table}               read capacity consumed, all runs
    ddbvault_backups_total{job,table}                    successful runs
    ddbvault_failures_total{job,table}                   failed runs
    ddbvault_notification_failures_total{notifier}       notifications that could not be sent
    ddbvault_rpo_seconds{job,table}                      the job's RPO (service/rpo.py)
    ddbvault_last_success_age_seconds{job,table}         age of the newest good backup, at scrape
                                                         time (absent while there is none)
    ddbvault_within_rpo{job,table}                       1 within the RPO, 0 out (or unknown)
    ddbvault_up                                          1 while the scheduler runs
    ddbvault_follow_records_total{job,table}             stream records a follow job wrote to the change log
    ddbvault_follow_segments_total{job,table}            change log segments it wrote
    ddbvault_follow_gaps_total{job,table}                gaps it recorded (each also notified)
    ddbvault_follow_lag_seconds{job,table}               after its last pass: newest record's change time
                                                         to its segment (absent: nothing pending)
A failed pass of a follow job counts in ddbvault_failures_total like a failed backup.

A job with `tables:` has its per-run series per matched table, and its RPO series under its
worst table only (service/protection.py's `worst()`).
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


RUN_LABELS = ("job", "table")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.last_success = Gauge("ddbvault_last_success_timestamp_seconds", "End of the last successful backup",
                                  RUN_LABELS, registry=r)
        self.duration = Gauge("ddbvault_last_duration_seconds", "Duration of the last successful backup",
                              RUN_LABELS, registry=r)
        self.items = Gauge("ddbvault_last_items", "Items in the last successful backup", RUN_LABELS, registry=r)
        self.bytes = Gauge("ddbvault_last_bytes", "Stored bytes of the last successful backup", RUN_LABELS,
                           registry=r)
        self.rcu = Counter("ddbvault_consumed_rcu", "Read capacity consumed by backups", RUN_LABELS, registry=r)
        self.backups = Counter("ddbvault_backups", "Successful backups", RUN_LABELS, registry=r)
        self.failures = Counter("ddbvault_failures", "Failed backups", RUN_LABELS, registry=r)
        self.notify_failures = Counter("ddbvault_notification_failures", "Notifications not sent",
                                       ["notifier"], registry=r)
        self.up = Gauge("ddbvault_up", "1 while the scheduler is running", registry=r)
        self.rpo = Gauge("ddbvault_rpo_seconds", "The job's recovery point objective", RUN_LABELS, registry=r)
        self.age = Gauge("ddbvault_last_success_age_seconds", "Age of the newest good backup (its start)",
                         RUN_LABELS, registry=r)
        self.within = Gauge("ddbvault_within_rpo", "1 if the newest good backup is within the RPO, else 0",
                            RUN_LABELS, registry=r)
        self.follow_records = Counter("ddbvault_follow_records", "Stream records written to the change log",
                                      RUN_LABELS, registry=r)
        self.follow_segments = Counter("ddbvault_follow_segments", "Change log segments written", RUN_LABELS,
                                       registry=r)
        self.follow_gaps = Counter("ddbvault_follow_gaps", "Gaps recorded in the change log", RUN_LABELS, registry=r)
        self.follow_lag = Gauge("ddbvault_follow_lag_seconds", "Change time of the newest record to its segment, "
                                "after the last pass", RUN_LABELS, registry=r)
        self.protection = None  # set by the service: a callable giving {job: Protection}, aged to now
        self._rpo_table: dict[str, str] = {}  # the table label of each job's RPO series

    def succeeded(self, job: str, table: str, result) -> None:
        self.last_success.labels(job, table).set(time.time())
        self.duration.labels(job, table).set(result.seconds)
        self.items.labels(job, table).set(result.items)
        self.bytes.labels(job, table).set(result.bytes)
        self.rcu.labels(job, table).inc(result.consumed_rcu)
        self.backups.labels(job, table).inc()
        self.failures.labels(job, table)  # present at 0, so alerts can use rate() from the start

    def followed(self, job: str, table: str, result) -> None:
        """One pass of a follow job (a follow.FollowResult)."""
        self.follow_records.labels(job, table).inc(result.records)
        self.follow_segments.labels(job, table).inc(result.segments)
        self.follow_gaps.labels(job, table).inc(len(result.gaps))
        self.failures.labels(job, table)  # present at 0, as for backups
        if result.lag_s is not None:
            self.follow_lag.labels(job, table).set(result.lag_s)
            return
        try:  # nothing pending: no lag at all, rather than a stale one
            self.follow_lag.remove(job, table)
        except KeyError:
            pass

    def failed(self, job: str, table: str) -> None:
        self.failures.labels(job, table).inc()

    def notification_failed(self, notifier: str) -> None:
        self.notify_failures.labels(notifier).inc()

    def protected(self, protections) -> None:
        """Set the RPO gauges from `protections` ({job: service.rpo.Protection})."""
        for p in protections.values():
            self._relabel(p.job, p.table)
            self.rpo.labels(p.job, p.table).set(p.rpo_seconds)
            self.within.labels(p.job, p.table).set(1 if p.within else 0)
            if p.age_seconds is not None:
                self.age.labels(p.job, p.table).set(p.age_seconds)
                continue
            try:  # no good backup: no age at all, rather than a made-up one
                self.age.remove(p.job, p.table)
            except KeyError:
                pass

    def _relabel(self, job: str, table: str) -> None:
        """A job of several tables reports its worst table, which may change between checks: the
        job's RPO series under the previous table label are removed, so each job has one."""
        before = self._rpo_table.get(job)
        self._rpo_table[job] = table
        if before is None or before == table:
            return
        for gauge in (self.rpo, self.within, self.age):
            try:
                gauge.remove(job, before)
            except KeyError:
                pass

    def render(self) -> bytes:
        if self.protection is not None:  # ages grow between checks: set them as of this scrape
            self.protected(self.protection())
        return generate_latest(self.registry)
