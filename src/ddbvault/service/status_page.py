"""The status page: one self-contained HTML document (inline CSS, no scripts, no external assets).

It shows each job with its table, schedule, next run and last result (items, size, duration,
error), a "run now" form that posts the token, and the most recent backups from the job's
destination listing. Every value is HTML-escaped. Item contents never appear here.
"""

from __future__ import annotations

import html
import logging

from ..errors import DdbvaultError

log = logging.getLogger(__name__)
RECENT = 5
_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}th{background:#f3f3f3}
.success{color:#075}.failure{color:#b00}.running{color:#a60}form{display:inline}"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _size(value) -> str:
    if value is None:
        return ""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return ""


def _job_row(service, job, next_run) -> str:
    record = service.runner.records.get(job.name)
    schedule = job.cron or f"every {job.interval_seconds:g}s"
    last = ""
    if record:
        last = (f'<span class="{_e(record.outcome)}" data-outcome="{_e(record.outcome)}">{_e(record.outcome)}</span> '
                f"{_e(record.started_at)} · {_e(record.items)} items · {_e(_size(record.bytes))} · "
                f"{_e(record.seconds)}s" + (f"<br><small>{_e(record.error)}</small>" if record.error else ""))
    run_now = (f'<form method="post" action="/run/{_e(job.name)}"><input type="password" name="token" '
               f'placeholder="token" aria-label="token for {_e(job.name)}">'
               f'<button type="submit" name="run" value="{_e(job.name)}">Run now</button></form>')
    return (f'<tr data-job="{_e(job.name)}"><td>{_e(job.name)}</td><td>{_e(job.table)}</td><td>{_e(schedule)}</td>'
            f'<td class="next-run">{_e(next_run.isoformat(timespec="seconds") if next_run else "paused")}</td>'
            f'<td class="last-run">{last}</td><td>{run_now}</td></tr>')


def _recent_backups(service, job) -> str:
    from ..vault.listing import list_backups

    options = service.config.effective(job)
    try:
        entries = list_backups(options.destination, table=job.table)[:RECENT]
    except DdbvaultError as exc:
        return f"<p>cannot list {_e(options.destination)}: {_e(exc.message)}</p>"
    rows = "".join(f"<tr><td>{_e(b.backup_id)}</td><td>{_e(b.time)}</td><td>{_e(b.items)}</td>"
                   f"<td>{_e(_size(b.bytes))}</td><td>{_e(b.status)}</td></tr>" for b in entries)
    return (f"<h3>{_e(job.table)} in {_e(options.destination)}</h3><table><tr><th>backup id</th><th>time</th>"
            f"<th>items</th><th>size</th><th>status</th></tr>{rows}</table>")


def render_status(service) -> str:
    next_runs = service.scheduler.next_runs()
    jobs = "".join(_job_row(service, job, next_runs.get(job.name)) for job in service.config.jobs)
    recent = "".join(_recent_backups(service, job) for job in service.config.jobs)
    state = "running" if service.scheduler.running else "stopped"
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>ddbvault</title>"
            f"<style>{_CSS}</style></head><body><h1>ddbvault</h1><p>scheduler: <b id=state>{state}</b></p>"
            f"<h2>Jobs</h2><table id=jobs><tr><th>job</th><th>table</th><th>schedule</th><th>next run</th>"
            f"<th>last run</th><th></th></tr>{jobs}</table><h2>Recent backups</h2>{recent}</body></html>")
