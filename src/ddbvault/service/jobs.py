"""Running one scheduled backup job: options from config, backup, optional verify, metrics,
notifications, and a record of the outcome for the status page. A `kind: follow` job runs one
pass of the follower instead (service/follow_jobs.py), and `follow_forever` loops its passes.

`JobRunner.run(name)` is what APScheduler calls (and "run now", and `ddbvault run`). It never
raises: a failed backup is recorded, counted and notified, and the scheduler carries on.
Each run gets a cancel event; `cancel_all()` makes running backups abort cleanly (uploads
aborted, no manifest), which is how the service stops after its shutdown grace period.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from ..aws.session import Principal
from ..backup import BackupOptions, backup_table, resume_backup, unfinished_backup
from ..backup.many import backup_tables
from ..dynamodb.selectors import parse_selectors
from ..errors import DdbvaultError
from ..format.retention import keep_from_mapping
from ..notify import Dispatcher, build_notifier, redact
from ..notify.event import Event, RpoEvent, RunEvent
from .config import JobConfig, JobOptions, ServiceConfig
from .follow_jobs import FollowState, follow_forever, record_failure, record_pass, run_pass
from .metrics import Metrics

log = logging.getLogger(__name__)
HISTORY = 30  # runs kept per job for the status page's chart


@dataclass
class RunRecord:
    """One run of a job, as the status page, its history chart and /metrics show it. Times are
    ISO 8601 UTC; `bytes` are stored bytes; `consumed_rcu` is the read capacity the scan consumed
    and `read_rate_rcu` its cap in RCU/s (None: no cap)."""

    job: str
    table: str
    outcome: str  # "running", "success", "failure"
    started_at: str
    seconds: float | None = None
    items: int | None = None
    bytes: int | None = None
    url: str | None = None
    verified: bool | None = None
    error: str | None = None
    hint: str | None = None  # the error's "Try: ..." advice, when it has one
    consumed_rcu: float | None = None
    read_rate_rcu: float | None = None
    # A job with `tables:`: each matched table's outcome ({table, ok, items, bytes, url} or
    # {table, ok, error, hint, exit_code}); `table` then names the tables, the counts are sums.
    tables: list[dict] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def backup_options(options: JobOptions) -> BackupOptions:
    base = BackupOptions()
    return BackupOptions(
        segments=options.segments, workers=options.workers or base.workers,
        read_share=options.read_share, read_rcu=options.read_rcu,
        compression=options.compression or base.compression, sse=options.sse,
        kms_key_id=options.kms_key_id, storage_class=options.storage_class,
        acl=base.acl if options.acl is None else (None if options.acl == "none" else options.acl),
        keep=None if options.retention is None else keep_from_mapping(options.retention),
        engine=options.engine or base.engine,
        export_deadline_s=base.export_deadline_s if options.export_deadline_s is None else options.export_deadline_s,
        **(options.executor.backup_fields() if options.executor else {}),
        table_principal=Principal(region=options.region, role_arn=options.source_role, session_name="ddbvault-source"),
        vault_principal=Principal(region=options.region, role_arn=options.dest_role, external_id=options.external_id,
                       session_name="ddbvault-dest"))


class JobRunner:
    """`follow_until_idle`: each pass of a follow job stops once its stream has nothing new
    (`ddbvault run`); else it runs its whole `run_seconds` (`serve`)."""

    def __init__(self, config: ServiceConfig, metrics: Metrics, dispatcher: Dispatcher | None = None, *,
                 follow_until_idle: bool = False):
        self.config = config
        self.follow_until_idle = follow_until_idle
        self.follow_states = {job.name: FollowState(job.name, job.target) for job in config.follow_jobs}
        self.stop_following = threading.Event()  # set when the service stops: no pass starts after it
        self.metrics = metrics
        self.dispatcher = dispatcher or Dispatcher(on_failure=metrics.notification_failed)
        self.records: dict[str, RunRecord] = {}  # the last run of each job
        self.history: dict[str, deque[RunRecord]] = {job.name: deque(maxlen=HISTORY) for job in config.jobs}
        self._failed_verification: set[str] = set()  # backups that failed verify_after: not good
        self.after_run: list = []  # callables(record) run after every run (the RPO check)
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}
        self._notifiers: dict[str, list] = {}

    def running(self) -> list[str]:
        with self._lock:
            return list(self._running)

    def is_running(self, name: str) -> bool:
        with self._lock:
            return name in self._running

    def cancel_all(self) -> None:
        with self._lock:
            for event in self._running.values():
                event.set()

    def run(self, name: str) -> RunRecord:
        job = self.config.job(name)
        options = self.config.effective(job)
        cancel = threading.Event()
        with self._lock:
            if name in self._running:  # "run now" while a scheduled run is going
                log.warning("job %s is already running; not starting it twice", name)
                return self.records[name]
            self._running[name] = cancel
            record = self.records[name] = RunRecord(name, job.target, "running", _now())
            self.history.setdefault(name, deque(maxlen=HISTORY)).append(record)
        t0 = time.monotonic()
        try:
            if job.kind == "follow":
                self._follow(record, job, options, cancel)
            elif job.tables:
                self._backup_tables(record, job.tables, options, cancel)
            else:
                self._backup(record, options, cancel)
        except Exception as exc:  # recorded, counted and notified; the service carries on
            self._failed(record, options, exc)
        finally:
            record.seconds = round(time.monotonic() - t0, 3)
            with self._lock:
                self._running.pop(name, None)
        for hook in self.after_run:
            try:
                hook(record)
            except Exception:  # noqa: BLE001 - a hook never fails the run it follows
                log.exception("job %s: after-run hook failed", name)
        return record

    def follow_forever(self, name: str) -> None:
        """Passes of follow job `name` until stop_following is set (service/follow_jobs.py)."""
        follow_forever(self, name, self.stop_following)

    def _follow(self, record: RunRecord, job: JobConfig, options: JobOptions, cancel: threading.Event) -> None:
        """One pass of a follow job: records, segments and gaps counted, each gap notified."""
        result = run_pass(job, options, until_idle=self.follow_until_idle, cancelled=cancel,
                          memory=self.follow_states[record.job].memory)
        record.items = result.records
        record.outcome = "success"
        self.metrics.followed(record.job, record.table, result)
        with self._lock:
            events = record_pass(self.follow_states[record.job], result)
        log.info("job %s: %d records, %d segments, %d gaps, lag %s", record.job, result.records, result.segments,
                 len(events), "none" if result.lag_s is None else f"{result.lag_s:.1f}s")
        for event in events:
            log.warning("job %s: %s", record.job, event.summary)
            self._notify(event, options)

    def failed_verification(self) -> frozenset[str]:
        """URLs of backups this service saw fail verify_after: complete, but not good."""
        with self._lock:
            return frozenset(self._failed_verification)

    def runs(self, name: str) -> list[RunRecord]:
        """The job's last HISTORY runs, oldest first."""
        with self._lock:
            return list(self.history.get(name, ()))

    def _backup(self, record: RunRecord, options: JobOptions, cancel: threading.Event) -> None:
        log.info("job %s: backing up %s to %s", record.job, record.table, options.destination)
        backup = backup_options(options)
        # After a crash (the service killed mid-backup), finish that backup rather than start over.
        unfinished = unfinished_backup(record.table, options.destination, backup)
        if unfinished is not None:
            log.info("job %s: resuming the unfinished backup %s", record.job, unfinished)
            result = resume_backup(unfinished, backup, cancelled=cancel)
        else:
            result = backup_table(record.table, options.destination, backup, cancelled=cancel)
        record.items, record.bytes, record.url = result.items, result.bytes, result.url
        record.consumed_rcu, record.read_rate_rcu = result.consumed_rcu, result.read_rate_rcu
        if options.verify_after:
            record.verified = False  # until verify_backup says otherwise
            record.verified = self._verify(result, options)
        record.outcome = "success"
        self.metrics.succeeded(record.job, record.table, result)
        log.info("job %s: %s items, %s bytes in %.1fs -> %s", record.job, result.items, result.bytes,
                 result.seconds, result.url)
        self._notify(RunEvent.from_result(record.job, result, verified=record.verified), options)

    def _verify(self, result, options: JobOptions) -> bool:
        """verify_after: True, or DdbvaultError when the backup fails verification (its URL is
        then remembered as not good)."""
        from ..verify import verify_backup

        report = verify_backup(result.url, vault_principal=Principal(region=options.region, role_arn=options.dest_role,
                                                               external_id=options.external_id))
        if not report.ok:
            with self._lock:
                self._failed_verification.add(result.url)
            raise DdbvaultError(f"backup {result.url} failed verification: " + "; ".join(report.problem_lines()))
        return True

    def _backup_tables(self, record: RunRecord, selectors: list[str], options: JobOptions,
                       cancel: threading.Event) -> None:
        """A job with `tables:`: resolve the selectors now, back up each table (one failing does
        not stop the others), record and count each table, and send ONE notification for the
        run. A failure to resolve (no match, ListTables denied) raises: the run failed."""
        log.info("job %s: backing up the tables %s matches to %s", record.job, record.table, options.destination)
        after = (lambda result: self._verify(result, options)) if options.verify_after else None
        run = backup_tables(parse_selectors(selectors), options.destination, backup_options(options),
                            cancelled=cancel, after=after)
        done = [o.result for o in run.succeeded]
        record.table = ", ".join(o.table for o in run.outcomes)
        record.tables = [_table_entry(o) for o in run.outcomes]
        record.items, record.bytes = sum(r.items for r in done), sum(r.bytes for r in done)
        record.consumed_rcu = sum(r.consumed_rcu for r in done)
        record.verified = run.ok if options.verify_after else None
        for outcome in run.outcomes:
            if outcome.ok:
                self.metrics.succeeded(record.job, outcome.table, outcome.result)
            else:
                self.metrics.failed(record.job, outcome.table)
        event = RunEvent.from_tables(record.job, run, started_at=_parse(record.started_at),
                                     verified=record.verified)
        record.outcome = event.outcome
        record.error, record.hint = event.error, event.hint
        log.log(logging.INFO if run.ok else logging.ERROR, "job %s: %s", record.job,
                event.error or f"{len(done)} tables backed up, {record.items} items")
        self._notify(event, options)

    def _failed(self, record: RunRecord, options: JobOptions, exc: Exception) -> None:
        record.outcome = "failure"
        # Unexpected exceptions may quote anything: redact credentials before logging or showing them.
        record.error = exc.message if isinstance(exc, DdbvaultError) else redact(f"{type(exc).__name__}: {exc}")
        record.hint = exc.hint if isinstance(exc, DdbvaultError) else None
        self.metrics.failed(record.job, record.table)
        action = "follow" if record.job in self.follow_states else "backup"
        if action == "follow":
            with self._lock:
                record_failure(self.follow_states[record.job], record.error, record.hint)
        log.error("job %s: %s of %s failed: %s", record.job, action, record.table, record.error)
        self._notify(RunEvent.from_error(record.job, record.table, exc, started_at=_parse(record.started_at),
                                         action=action), options)

    def notify_rpo(self, previous, current) -> None:
        """A job fell out of its RPO (or is out of it at the first check), or came back within
        it: log it, and send one RpoEvent to the job's notifiers (`on: failure` and `on: all`).
        ProtectionCheck calls this once per flip (service/protection.py). Never raises."""
        log.log(logging.INFO if current.within else logging.WARNING, "job %s: %s", current.job, current.summary())
        if previous is None and current.within:
            return  # nothing to recover from
        try:
            self._notify(RpoEvent.from_protection(current), self.config.effective(self.config.job(current.job)))
        except Exception as exc:  # noqa: BLE001 - a notification never breaks the RPO check
            log.error("job %s: RPO notification not sent: %s: %s", current.job, type(exc).__name__, redact(str(exc)))

    def _notify(self, event: Event, options: JobOptions) -> None:
        with self._lock:  # built once per job, so an SNS role is not assumed on every send
            if event.job not in self._notifiers:
                self._notifiers[event.job] = [build_notifier(config) for config in options.notifications or []]
            notifiers = self._notifiers[event.job]
        self.dispatcher.dispatch(event, notifiers)


def _table_entry(outcome) -> dict:
    """One table of a `tables:` run in its RunRecord: counts and URL, or the error."""
    if not outcome.ok:
        hint = outcome.error["hint"]
        return {"table": outcome.table, "ok": False, "error": redact(outcome.error["message"]),
                "hint": redact(hint) if hint else None, "exit_code": outcome.error["exit_code"]}
    result = outcome.result
    return {"table": outcome.table, "ok": True, "items": result.items, "bytes": result.bytes, "url": result.url}


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
