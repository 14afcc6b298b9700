"""`ddbvault status`: is every job within its RPO? One look at each job's destination, printed as
a table for people or as one JSON object for scripts; the CLI exits 0 only when every job is
within (a monitoring check).

A one-off process has no run history, so unlike `serve` it cannot leave out the backups that
failed `verify_after` in the service: the newest COMPLETE backup counts (service/rpo.py).

AWS calls: those of service/protection.assess_job per job (ListObjectsV2, ListMultipartUploads,
GetObject of the manifests), up to PARALLEL_LISTINGS jobs at once. Writes nothing.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .config import ServiceConfig, selected_jobs
from .protection import assess_job
from .rpo import Protection, format_duration

PARALLEL_LISTINGS = 8
PIPE_WIDTH = 240  # columns when stdout is not a terminal: rows stay whole for grep and logs
STYLES = {"within": "green", "out": "bold red", "unknown": "bold yellow"}
WORDS = {"within": "within", "out": "OUT", "unknown": "unknown"}


def check_jobs(config: ServiceConfig, names: tuple[str, ...] | list[str] = (),
               now: datetime | None = None) -> list[Protection]:
    """The Protection of each named job (UsageError, before any listing, for a name with no job),
    or of every job, in config order, all at one `now`. A destination that cannot be listed gives
    `error`, never raises."""
    jobs = [job for job in selected_jobs(config, names) if job.kind == "backup"]  # follow jobs have no RPO
    if not jobs:
        return []
    moment = now or datetime.now(timezone.utc)
    with ThreadPoolExecutor(max_workers=min(len(jobs), PARALLEL_LISTINGS)) as pool:
        return list(pool.map(lambda job: assess_job(job, config, moment), jobs))


def status_json(protections: list[Protection]) -> dict:
    """`ddbvault status --json`: ok only when every job is within its RPO."""
    return {"ok": all(p.within for p in protections), "jobs": [p.to_dict() for p in protections]}


def status_table(protections: list[Protection], config: ServiceConfig) -> Table:
    """One row per job; times in the job's time zone (its `timezone`, else the scheduler's)."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in ("JOB", "TABLE", "RPO", "AGE", "TIME"):
        table.add_column(header, no_wrap=True)
    table.add_column("STATE", no_wrap=True)
    table.add_column("NEWEST GOOD BACKUP", no_wrap=True)  # a URL to paste into restore: never cut
    for p in protections:
        table.add_row(*(Text(cell) for cell in (p.job, p.table, format_duration(p.rpo_seconds), *_when(p, config))),
                      Text(WORDS[p.state], style=STYLES[p.state]), _backup(p))
    return table


def print_status(protections: list[Protection], config: ServiceConfig, file=None) -> None:
    """The table on `file` (stdout): in colour on a terminal, plain text otherwise."""
    console = Console(file=file, highlight=False)
    table = status_table(protections, config)
    # As wide as the rows need, so that no cell is wrapped or cut (a narrower terminal wraps the
    # lines itself, which leaves a URL whole for copying); a pipe gets at least PIPE_WIDTH.
    needed = Console(file=io.StringIO(), width=1_000_000).measure(table).maximum
    width = max(console.width if console.is_terminal else PIPE_WIDTH, needed)
    console = Console(file=file, highlight=False, width=width, force_terminal=console.is_terminal)
    console.print(table)
    console.print(summary_line(protections))


def _when(p: Protection, config: ServiceConfig) -> tuple[str, str]:
    """(age, local time) of the newest good backup."""
    if p.error:
        return "-", "-"
    if p.last_good_at is None:
        return "no backup yet", "-"
    local = p.last_good_at.astimezone(ZoneInfo(config.timezone_of(config.job(p.job))))
    return format_duration(p.age_seconds), local.strftime("%Y-%m-%d %H:%M %Z")


def _backup(p: Protection) -> Text:
    if p.error:
        return Text(f"cannot list the destination: {p.error}", style="yellow")
    return Text(p.last_good_url or "-")


def summary_line(protections: list[Protection]) -> str:
    """"2 of 3 jobs within their RPO (checked 2026-11-30T12:00:00Z)"."""
    within = sum(p.within for p in protections)
    checked = protections[0].checked_at.isoformat(timespec="seconds").replace("+00:00", "Z") if protections else "-"
    return f"{within} of {len(protections)} jobs within their RPO (checked {checked})"
