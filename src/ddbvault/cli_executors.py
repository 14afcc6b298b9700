"""The CLI's executor options: where `ddbvault backup` (and `backup --resume`) runs its segments.

    --executor threads|processes|dask   [default: threads; processes when --processes is given]
    --processes P                       a local pool of P processes (1..256)
    --scheduler tcp://HOST:PORT         the Dask scheduler (--executor dask)
    --parallelism P                     segments running at once, each reading at cap / P
                                        [default: P processes; dask: the cluster's worker threads]

`executor_options` adds them and hands the command one `executor` parameter (an ExecutorChoice);
`executor_fields` checks it against the rest of the command and gives BackupOptions' fields.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import click

from .backup.executors.spec import EXECUTORS, MAX_PROCESSES, ExecutorSpec
from .errors import UsageError
from .format.plan import MAX_PARALLELISM


@dataclass(frozen=True)
class ExecutorChoice:
    """The executor options as given; None: not given."""

    executor: str | None = None
    processes: int | None = None
    scheduler: str | None = None
    parallelism: int | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.executor, self.processes, self.scheduler, self.parallelism))


def executor_options(command):
    """--executor, --processes, --scheduler and --parallelism, as one `executor` parameter."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        kwargs["executor"] = ExecutorChoice(kwargs.pop("executor_kind"), kwargs.pop("processes"),
                                            kwargs.pop("scheduler"), kwargs.pop("parallelism"))
        return command(*args, **kwargs)

    for option in reversed((
        click.option("--executor", "executor_kind", type=click.Choice(EXECUTORS),
                     help="Where segments run: threads here, a local process pool, or a Dask cluster "
                     "[default: threads; processes with --processes] (docs/scale.md)."),
        click.option("--processes", type=click.IntRange(1, MAX_PROCESSES), metavar="P",
                     help="Run segments on a pool of P local processes (past one core's limit)."),
        click.option("--scheduler", metavar="tcp://HOST:PORT", help="With --executor dask: the Dask scheduler."),
        click.option("--parallelism", type=click.IntRange(1, MAX_PARALLELISM), metavar="P",
                     help="With --processes or --executor dask: segments running at once; each reads at "
                     "the read cap / P [default: --processes; dask: the cluster's worker threads]."),
    )):
        wrapper = option(wrapper)
    return wrapper


def executor_fields(choice: ExecutorChoice, *, engine: str = "scan", schema_only: bool = False) -> dict:
    """BackupOptions' executor, processes, scheduler and parallelism from the CLI's options.
    Raises UsageError for a combination that would be ignored or out of range."""
    kind = choice.executor or ("processes" if choice.processes is not None else "threads")
    if choice.given and (engine != "scan" or schema_only):
        raise UsageError("--executor, --processes, --scheduler and --parallelism run a scan backup's segments; "
                         + ("--engine export has DynamoDB do the work" if engine != "scan" else
                            "--schema-only scans nothing"), hint="drop them")
    if choice.parallelism is not None and kind == "threads":
        raise UsageError("--parallelism declares how many processes or Dask tasks read at once (each at the "
                         "read cap / P); threads in one process share one limiter",
                         hint="add --processes P or --executor dask --scheduler tcp://HOST:PORT, or drop --parallelism")
    ExecutorSpec(kind=kind, processes=choice.processes, scheduler=choice.scheduler).validate()
    return {"executor": kind, "processes": choice.processes, "scheduler": choice.scheduler,
            "parallelism": choice.parallelism}
