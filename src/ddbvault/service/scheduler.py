"""APScheduler 3.x (BackgroundScheduler, thread pool) with one job per table.

A `kind: follow` job is added once, to run at start: JobRunner.follow_forever loops its bounded
passes on its own pool thread until the service stops (service/follow_jobs.py).

- never two runs of the same job at once: max_instances=1 (and JobRunner refuses a second run);
- `coalesce`, a misfire grace time and optional jitter from the config's `scheduler` section;
- `next_runs()` for the status page; `run_now(name)` schedules an immediate run through the
  same APScheduler job, so max_instances still applies, and says when it started nothing
  because the job is already running.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .config import JobConfig, ServiceConfig
from .cron import cron_trigger
from .jobs import JobRunner


def trigger_for(job: JobConfig, config: ServiceConfig):
    tz = ZoneInfo(config.timezone_of(job))
    jitter = config.scheduler.jitter_s or None
    if job.cron:
        return cron_trigger(job.cron, tz, jitter)  # cron's weekdays, not APScheduler's (service/cron.py)
    return IntervalTrigger(seconds=job.interval_seconds, timezone=tz, jitter=jitter)


RPO_CHECK_ID = "ddbvault-rpo-check"  # not a job name: job names cannot hold what ids do not clash with


class Scheduler:
    """`rpo_check`, when given, runs every `scheduler.rpo_check_s` seconds from the start."""

    def __init__(self, config: ServiceConfig, runner: JobRunner, rpo_check=None):
        self.config = config
        self.runner = runner
        self.aps = BackgroundScheduler(
            timezone=ZoneInfo(config.scheduler.timezone),
            executors={"default": {"type": "threadpool", "max_workers": max(len(config.jobs), 1) + 2}},
            job_defaults={"max_instances": 1, "coalesce": config.scheduler.coalesce,
                          "misfire_grace_time": config.scheduler.misfire_grace_time_s})
        for job in config.backup_jobs:
            self.aps.add_job(runner.run, trigger_for(job, config), args=[job.name], id=job.name,
                             name=f"backup {job.target}")
        for job in config.follow_jobs:  # one long-running loop of bounded passes (service/follow_jobs.py)
            self.aps.add_job(runner.follow_forever, "date", args=[job.name], id=job.name, name=f"follow {job.target}",
                             misfire_grace_time=None)
        if rpo_check is not None:
            self.aps.add_job(rpo_check, IntervalTrigger(seconds=config.scheduler.rpo_check_s),
                             id=RPO_CHECK_ID, name="RPO check", next_run_time=datetime.now(ZoneInfo("UTC")))

    def start(self) -> None:
        self.aps.start()

    @property
    def running(self) -> bool:
        return self.aps.running

    def stop_starting(self) -> None:
        """No new runs from now on; running ones go on (a follow job ends after its pass)."""
        self.runner.stop_following.set()
        if self.aps.running:
            self.aps.pause()

    def shutdown(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)

    def next_runs(self) -> dict[str, datetime | None]:
        """The next run of each backup job (None: paused)."""
        return {job.id: job.next_run_time for job in self.aps.get_jobs() if job.id != RPO_CHECK_ID}

    def run_now(self, name: str) -> bool:
        """Start job `name` now: True if scheduled, False if it is already running (APScheduler
        would skip the run). Raises UsageError for an unknown job."""
        job = self.config.job(name)
        if job.kind == "follow" or self.runner.is_running(name):  # a follow job is always running
            return False
        self.aps.modify_job(name, next_run_time=datetime.now(ZoneInfo(self.config.scheduler.timezone)))
        return True
