"""`ddbvault serve` and `ddbvault run`: scheduled backups as a long-running service, or once.

serve: runs in the foreground, logs to stdout, serves /healthz, /metrics and the status page.
On SIGTERM or SIGINT it
  1. stops starting new runs,
  2. lets running backups finish for up to `scheduler.shutdown_grace_s`,
  3. then cancels the rest: uploads aborted, no manifest, never taken as complete,
  4. and exits 0.
run: runs every job (or `--job NAME`) once, in parallel, and exits; non-zero if any failed. A
follow job runs one pass, until its stream has nothing new (at most its run_seconds).
For Kubernetes CronJobs, ECS scheduled tasks or plain cron.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from .config import ServiceConfig, load_config, selected_jobs
from .http import ServiceHttp
from .jobs import JobRunner, RunRecord
from .metrics import Metrics
from .protection import ProtectionCheck
from .scheduler import Scheduler

__all__ = ["Service", "load_config", "run_once"]
log = logging.getLogger(__name__)


class Service:
    def __init__(self, config: ServiceConfig):
        self.config = config
        self.metrics = Metrics()
        self.runner = JobRunner(config, self.metrics)
        # RPO: checked on a timer and after every run; notified on each flip (service/protection.py)
        self._alerts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddbvault-rpo-alerts")
        self.protection = ProtectionCheck(config, self.runner.failed_verification, on_change=self._rpo_changed)
        self.metrics.protection = self.protection.latest
        self.runner.after_run.append(lambda record: self._check_rpo({record.job}))
        self.scheduler = Scheduler(config, self.runner, rpo_check=self._check_rpo)
        self.http = ServiceHttp(self, config.http.host, config.http.port)
        self.stopping = threading.Event()

    def start(self) -> None:
        self.scheduler.start()
        self.metrics.up.set(1)
        self.http.start()
        log.info("ddbvault service: %d jobs, http on %s:%d", len(self.config.jobs),
                 self.config.http.host, self.http.port)

    def _check_rpo(self, names: set[str] | None = None) -> None:
        """The RPO check of every job (the timer), or of `names` (after a run of that job)."""
        self.metrics.protected(self.protection.check_all(names))

    def _rpo_changed(self, previous, current) -> None:
        """A job fell out of its RPO or came back: queue its notification. The check does not
        wait for it: a notifier that hangs until its timeout delays alerts, never the next
        check. One thread sends them in the order the flips were seen (never raises)."""
        self._alerts.submit(self.runner.notify_rpo, previous, current)

    def flush_alerts(self, timeout: float | None = None) -> None:
        """Wait until every queued RPO notification was sent (or failed)."""
        self._alerts.submit(lambda: None).result(timeout)

    def stop(self) -> None:
        """Stop gracefully (see the module docstring). Idempotent."""
        self.scheduler.stop_starting()
        deadline = time.monotonic() + self.config.scheduler.shutdown_grace_s
        while self.runner.running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.runner.running():
            log.warning("shutdown grace period over; cancelling %s", ", ".join(self.runner.running()))
            self.runner.cancel_all()
            while self.runner.running():
                time.sleep(0.1)
        self.scheduler.shutdown()
        self._alerts.shutdown(wait=True)  # queued alerts go out; each send is bounded by its timeout
        self.metrics.up.set(0)
        self.http.stop()

    def serve_forever(self) -> None:
        """Start, wait for SIGTERM/SIGINT, stop. Must be called from the main thread."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        self.start()
        while not self.stopping.wait(0.5):
            pass
        log.info("signal received: stopping")
        self.stop()


def run_once(config: ServiceConfig, jobs: str | Sequence[str] | None = None) -> list[RunRecord]:
    """Run the named job or jobs, or all jobs, in parallel, once. Returns their records in config
    order. Raises UsageError for a name with no job before anything runs."""
    names = [job.name for job in selected_jobs(config, [jobs] if isinstance(jobs, str) else jobs or ())]
    runner = JobRunner(config, Metrics(), follow_until_idle=True)  # a follow job: one pass, until idle
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(runner.run, names))
