"""A job's `executor:` in the service's config: where its backup runs its segments.

    executor: threads                                  # the default: threads in the service
    executor: {kind: processes, processes: 4}          # a local pool of 4 processes
    executor: {kind: dask, scheduler: tcp://10.0.0.5:8786, parallelism: 16}

The same rules as `ddbvault backup --executor/--processes/--scheduler/--parallelism`
(backup/executors/__init__.py, docs/scale.md); passed through to backup_table's BackupOptions.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..backup.executors.spec import MAX_PROCESSES, parse_scheduler
from ..errors import UsageError
from ..format.plan import MAX_PARALLELISM


def _scheduler(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return parse_scheduler(value)
    except UsageError as exc:
        raise ValueError(exc.message.replace("--scheduler", "scheduler", 1)) from None


class ExecutorConfig(BaseModel):
    """`kind` threads, processes (needs `processes`) or dask (needs `scheduler`). `parallelism`:
    segments running at once, each at the read cap / parallelism (processes and dask only;
    None: `processes`, or the Dask cluster's worker threads)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["threads", "processes", "dask"] = "threads"
    processes: int | None = Field(None, ge=1, le=MAX_PROCESSES)
    scheduler: Annotated[str | None, AfterValidator(_scheduler)] = None
    parallelism: int | None = Field(None, ge=1, le=MAX_PARALLELISM)

    @model_validator(mode="after")
    def _combination(self) -> "ExecutorConfig":
        if (self.processes is None) == (self.kind == "processes"):
            raise ValueError("kind processes takes processes (a count, 1..256), and only it does")
        if (self.scheduler is None) == (self.kind == "dask"):
            raise ValueError("kind dask takes scheduler (tcp://HOST:PORT), and only it does")
        if self.parallelism is not None and self.kind == "threads":
            raise ValueError("parallelism is for kind processes or dask (threads share one limiter)")
        return self

    def backup_fields(self) -> dict:
        """BackupOptions' executor, processes, scheduler and parallelism."""
        return {"executor": self.kind, "processes": self.processes, "scheduler": self.scheduler,
                "parallelism": self.parallelism}


def _shorthand(value):
    return {"kind": value} if isinstance(value, str) else value


# `executor: threads` is short for `executor: {kind: threads}`.
Executor = Annotated[ExecutorConfig, BeforeValidator(_shorthand)]
