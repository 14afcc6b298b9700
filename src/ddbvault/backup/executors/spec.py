"""What an executor is told (ExecutorSpec), checked before anything runs, and the errors all
executors share. Pure checks: no AWS call, no import of an executor's engine."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ...errors import DdbvaultError, UsageError
from ...format.plan import BackupPlan

EXECUTORS = ("threads", "processes", "dask")
MAX_PROCESSES = 256  # one host's pool; beyond that, a cluster (dask, Batch, Kubernetes)
MAX_RESTARTS = 100
_HOST = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]", re.ASCII)


@dataclass(frozen=True)
class ExecutorSpec:
    """How run_work runs segments. `kind` is one of EXECUTORS. `processes`: the pool's size
    ("processes"; None: plan.parallelism; never above it). `scheduler`: tcp://HOST:PORT of a
    Dask scheduler ("dask"). `connect_timeout_s`: how long connecting to it may take, seconds.
    `restarts`: fresh pools after a child died ("processes"), resubmissions of a segment whose
    workers kept dying ("dask"); then run_work fails naming the segments. `retries`: Dask's own
    retries of a task that raised."""

    kind: str = "threads"
    processes: int | None = None
    scheduler: str | None = None
    connect_timeout_s: float = 10.0
    restarts: int = 3
    retries: int = 2

    @classmethod
    def of(cls, options) -> "ExecutorSpec":
        """The spec a BackupOptions names (its executor, processes and scheduler)."""
        return cls(kind=options.executor, processes=options.processes, scheduler=options.scheduler)

    def validate(self) -> None:
        """Raises UsageError naming the CLI option of a value out of range or a combination
        that would be ignored (never guessed past)."""
        if self.kind not in EXECUTORS:
            raise UsageError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
        if self.processes is not None and not 1 <= self.processes <= MAX_PROCESSES:
            raise UsageError(f"--processes must be 1..{MAX_PROCESSES}, got {self.processes}",
                             hint="beyond one host, run the segments on a cluster: --executor dask "
                                  "--scheduler tcp://HOST:PORT (docs/scale.md)")
        if self.processes is not None and self.kind != "processes":
            raise UsageError(f"--processes is for --executor processes, not {self.kind}",
                             hint="drop --executor, or --processes")
        if (self.scheduler is not None) != (self.kind == "dask"):
            raise UsageError("--executor dask needs --scheduler tcp://HOST:PORT, and --scheduler needs "
                             "--executor dask", hint="--executor dask --scheduler tcp://10.0.0.5:8786")
        if self.scheduler is not None:
            parse_scheduler(self.scheduler)
        if not 0 < self.connect_timeout_s <= 600 or not 0 <= self.restarts <= MAX_RESTARTS \
                or not 0 <= self.retries <= MAX_RESTARTS:
            raise UsageError("executor: connect_timeout_s must be in (0, 600], restarts and retries "
                             f"in 0..{MAX_RESTARTS}")


def parse_scheduler(text: str) -> str:
    """`text` as `tcp://HOST:PORT`, checked: UsageError for anything else (another scheme, no
    port, a path, a user name). HOST is a name, an IPv4 address or a bracketed IPv6 address."""
    # A user name or password is never echoed (no credential in any output).
    refused = UsageError(f"--scheduler {'(with a user name, not shown)' if '@' in text else repr(text[:200])} "
                         "is not tcp://HOST:PORT",
                         hint="--scheduler tcp://HOST:PORT, the address `dask scheduler` prints (port 8786 by default)")
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise refused from None
    host = parts.netloc.rsplit(":", 1)[0] if parts.netloc else ""
    if (len(text) > 300 or parts.scheme != "tcp" or not port or not _HOST.fullmatch(host)
            or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise refused
    return f"tcp://{host}:{port}"


def resume_hint(plan: BackupPlan) -> str:
    return f"ddbvault backup --resume {plan.url} (it runs only the segments without a result)"


def workers_lost(plan: BackupPlan, segments: list[int], what: str) -> DdbvaultError:
    """The error of a run whose workers kept dying: it names the segments left and how to resume."""
    shown = ", ".join(str(s) for s in sorted(segments)[:20]) + (" ..." if len(segments) > 20 else "")
    return DdbvaultError(f"backup {plan.url}: {what}; {len(segments)} segments have no result ({shown}); "
                         "no manifest written", hint=resume_hint(plan))
