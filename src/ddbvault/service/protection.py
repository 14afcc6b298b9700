"""The service's RPO check: lists each job's destination, assesses it (service/rpo.py), keeps the
latest assessment for the status page, /metrics and `ddbvault status`, and reports each change
between within and out of RPO to a callback (notifications) once, not on every check.

AWS calls: ListObjectsV2, ListMultipartUploads and GetObject of the manifests
(vault/listing.list_backups), with the job's monitor role (else its vault role). A job with
`tables:` is assessed per matched table and shows its worst table (`worst()`); the tables are
resolved at each check with its source principal (ListTables, and ListTagsOfResource for tag
selectors), so a table that starts to match is out of RPO until its first backup. The scheduler runs `check_all()` every
`scheduler.rpo_check_s` seconds and after every run; nothing else lists the destinations.
Follow jobs have no RPO: their state is their lag and gaps (service/follow_jobs.py).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone
from typing import Callable

from ..aws.session import Principal
from ..errors import DdbvaultError
from ..dynamodb.selectors import parse_selectors
from .config import JobConfig, ServiceConfig
from .cron import cron_trigger, next_fire_times
from .rpo import DEFAULT_RPO_FIRES, Protection, assess, default_rpo

log = logging.getLogger(__name__)


def rpo_seconds(job: JobConfig, config: ServiceConfig, now: datetime | None = None) -> float:
    """The job's RPO in seconds: its `rpo`, or twice its schedule's period (service/rpo.py)."""
    options = config.effective(job)
    if options.rpo is not None:
        return options.rpo
    if job.interval_seconds:
        return default_rpo(job.interval_seconds, [])
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(config.timezone_of(job))
    moment = (now or datetime.now(timezone.utc)).astimezone(tz)
    return default_rpo(None, next_fire_times(cron_trigger(job.cron, tz), moment, DEFAULT_RPO_FIRES))


def vault_principal(options) -> Principal:
    """The principal that reads a job's destination: its `monitor_role` (with
    `monitor_external_id`), else its vault role (`dest_role` with `external_id`). Listing needs
    s3:ListBucket and s3:GetObject on the manifests, which the generated writer policy leaves out."""
    if options.monitor_role:
        return Principal(region=options.region, role_arn=options.monitor_role,
                         external_id=options.monitor_external_id, session_name="ddbvault-monitor")
    return Principal(region=options.region, role_arn=options.dest_role, external_id=options.external_id,
                     session_name="ddbvault-monitor")


def assess_job(job: JobConfig, config: ServiceConfig, now: datetime,
               failed_verification: frozenset[str] = frozenset()) -> Protection:
    """List the job's destination and assess it. A listing that fails gives a Protection with
    `error` set (out of RPO), never an exception."""
    from ..vault.listing import list_backups

    options = config.effective(job)
    rpo = rpo_seconds(job, config, now)
    try:
        tables = [job.table] if job.table else _tables_now(job, options)
        entries = list_backups(options.destination, table=job.table, vault_principal=vault_principal(options))
    except DdbvaultError as exc:
        return Protection(job.name, job.target, rpo, now, error=exc.message)
    return worst(assess(job.name, table, rpo, entries, now, failed_verification) for table in tables)


def _tables_now(job: JobConfig, options) -> list[str]:
    """The tables a `tables:` job's selectors match now, resolved with its source principal, as a
    run would: a table that starts to match is out of RPO until its first backup."""
    from ..dynamodb.table_listing import resolve_tables

    return resolve_tables(parse_selectors(job.tables), Principal(region=options.region, role_arn=options.source_role,
                                                                 session_name="ddbvault-monitor"))


def worst(protections) -> Protection:
    """The Protection that holds a job of several tables back: one that could not be checked,
    else one out of RPO (no backup yet first), else the one with the oldest good backup. Its
    `table` names that table, so the job's row says which table to look at."""
    def rank(p: Protection):
        return (p.error is None, p.within, p.last_good_at is not None,
                p.last_good_at.timestamp() if p.last_good_at else 0.0)
    return min(protections, key=rank)


class ProtectionCheck:
    """The latest Protection of every job, refreshed by `check_all()`.

    `on_change(previous, current)` is called when a job's `within` flips (previous is None on
    the first check, which reports only a job that starts out of its RPO). It must not raise."""

    def __init__(self, config: ServiceConfig, failed_verification: Callable[[], frozenset[str]] = frozenset,
                 on_change: Callable[[Protection | None, Protection], None] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.config, self.failed_verification, self.on_change, self.clock = config, failed_verification, on_change, clock
        self._latest: dict[str, Protection] = {}
        self._lock = threading.Lock()  # one check at a time; readers take a snapshot
        self._snapshot_lock = threading.Lock()

    def latest(self) -> dict[str, Protection]:
        """Each checked job's Protection, aged to now (nothing is listed)."""
        now = self.clock()
        with self._snapshot_lock:
            return {name: p.at(now) for name, p in self._latest.items()}

    def check_all(self, names: set[str] | None = None) -> dict[str, Protection]:
        """Assess every job now (or only the jobs in `names`: after a run, only its job's
        destination is listed again); report flips to `on_change`. Returns the new Protections."""
        with self._lock:
            now, failed = self.clock(), self.failed_verification()
            results = {job.name: self._assess(job, now, failed) for job in self.config.backup_jobs
                       if names is None or job.name in names}
            with self._snapshot_lock:
                previous = self._latest
                self._latest = {**previous, **results}
            for name, current in results.items():
                before = previous.get(name)
                if (before is None and not current.within) or (before is not None and before.within != current.within):
                    if self.on_change:
                        self.on_change(before, current)
            return results

    def _assess(self, job: JobConfig, now: datetime, failed: frozenset[str]) -> Protection:
        """assess_job, except that an unexpected exception (a bug) makes this one job unknown,
        logged with its traceback, rather than leaving every job unchecked. The Protection names
        only the exception's type: its message is for the log, which redacts."""
        try:
            return assess_job(job, self.config, now, failed)
        except Exception as exc:  # noqa: BLE001 - the other jobs must still be checked
            log.exception("RPO check of job %s failed", job.name)
            try:
                rpo = rpo_seconds(job, self.config, now)
            except Exception:  # noqa: BLE001 - the error below says why there is none
                rpo = 0.0
            return Protection(job.name, job.target, rpo, now,
                              error=f"the check failed ({type(exc).__name__}); the service log has the traceback")
