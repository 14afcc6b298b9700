"""The status page: one self-contained HTML document (inline CSS, one inline script, no external
assets), and its jobs section alone, which the script fetches to refresh the page in place.

For each job: its RPO badge (within / out of RPO / unknown / not checked yet, from the service's
latest RPO check, service/protection.py), the age of its newest good backup and its RPO, its
schedule and next run, its last run (an error with its `Try:` hint), a chart of its recent runs
(history_chart.py) and a "run now" form that posts the token. Below: the most recent backups in
each job's destination, listed on each full page load only (the refresh lists nothing). Follow
jobs (continuous backup) have their own table: state, lag, records, segments, last segment time
and recent gaps (service/follow_jobs.py).

Times are in the job's time zone (`timezone`, else `scheduler.timezone`), UTC on hover. Every
value is HTML-escaped (status_cells.py). Item contents never appear here.

The page works without JavaScript: the first load is complete. With it, the script fetches
JOBS_PATH every REFRESH_S seconds from the page's own origin and swaps the jobs section,
except while a token is being typed. CONTENT_SECURITY_POLICY allows exactly that: the inline
style and script by their hashes, fetches and form posts to the same origin, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import datetime, timezone

from ..dynamodb.selectors import parse_selectors
from ..errors import DdbvaultError
from .history_chart import history_svg
from .rpo import format_duration
from .status_cells import badge_html, esc, joined, last_run_html, newest_good_html, size_html, time_html

log = logging.getLogger(__name__)
RECENT = 5
REFRESH_S = 15
JOBS_PATH = "/jobs.html"
_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}th{background:#f3f3f3}
.success{color:#075}.failure,.error{color:#b00}.running{color:#a60}.hint{color:#555}.empty,.pending{color:#666;font-style:italic}
form{display:inline}time,.size,.age{text-decoration:underline dotted}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.7rem;font-weight:600;color:#fff;white-space:nowrap}
.badge.within{background:#075}.badge.out{background:#b00}.badge.unknown{background:#a60}.badge.unchecked{background:#888}
.histories{display:flex;flex-wrap:wrap;gap:1.5rem}.histories figure{margin:0}figcaption{font-weight:600}
.history .bar{fill:#4a7}.history .failure .bar{fill:#b00}.history .running .bar{fill:#a60}
.history .failed-mark{fill:#b00;fill-opacity:.18}.history .label{font-size:10px;fill:#555}
.history .axis{stroke:#ccc}.history .cap{stroke:#b00;stroke-dasharray:2 2}"""
# Swaps #jobs for JOBS_PATH's answer every REFRESH_S s; skipped while the tab is hidden or a
# token field has focus or text. A failed fetch keeps the section as it is.
_SCRIPT = f"""(function(){{var s=document.getElementById("jobs");if(!s||!window.fetch)return;
setInterval(function(){{if(document.hidden)return;var f=s.querySelectorAll("input");
for(var i=0;i<f.length;i++)if(f[i].value||f[i]===document.activeElement)return;
fetch("{JOBS_PATH}",{{cache:"no-store",credentials:"same-origin"}}).then(function(r){{
if(r.ok)return r.text().then(function(t){{s.innerHTML=t;}});}}).catch(function(){{}});}},{REFRESH_S * 1000});}})();"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (f"default-src 'none'; style-src {_hash(_CSS)}; script-src {_hash(_SCRIPT)}; "
                           "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")




def _schedule(job) -> str:
    return job.cron or f"every {format_duration(job.interval_seconds)}"


def _job_row(service, job, next_run, protection) -> str:
    tz = service.config.timezone_of(job)
    run_now = (f'<form method="post" action="/run/{esc(job.name)}"><input type="password" name="token" '
               f'placeholder="token" aria-label="token for {esc(job.name)}">'
               f'<button type="submit" name="run" value="{esc(job.name)}">Run now</button></form>')
    next_cell = time_html(next_run, tz) if next_run else '<span class="pending">paused</span>'
    return (f'<tr data-job="{esc(job.name)}"><td>{esc(job.name)}</td><td>{esc(_table_cell(job, protection))}</td>'
            f'<td class="rpo">{badge_html(protection)}</td><td class="newest">{newest_good_html(protection, tz)}</td>'
            f'<td>{esc(_schedule(job))}<br><small>{esc(tz)}</small></td><td class="next-run">{next_cell}</td>'
            f'<td class="last-run">{last_run_html(service.runner.records.get(job.name), tz)}</td><td>{run_now}</td></tr>')


def _table_cell(job, protection) -> str:
    """The table, or for a job with `tables:` its selectors and the worst table (the RPO check's)."""
    if job.table:
        return job.table
    worst = f"; worst: {protection.table}" if protection and protection.table != job.target else ""
    return f"{job.target}{worst}"


def _history(service, job) -> str:
    runs = service.runner.runs(job.name)
    chart = history_svg(job.name, runs, service.config.timezone_of(job))
    body = chart or '<p class="empty">no runs yet since the service started</p>'
    return f'<figure data-job="{esc(job.name)}"><figcaption>{esc(job.name)}</figcaption>{body}</figure>'


def render_jobs(service, now: datetime | None = None) -> str:
    """The jobs section's content: what the page shows first and what its script swaps in.
    Lists no destination (the RPO check's latest result is used)."""
    next_runs = service.scheduler.next_runs()
    latest = service.protection.latest()
    rows = "".join(_job_row(service, job, next_runs.get(job.name), latest.get(job.name))
                   for job in service.config.backup_jobs)
    histories = "".join(_history(service, job) for job in service.config.backup_jobs)
    now = now or datetime.now(timezone.utc)
    state = "running" if service.scheduler.running else "stopped"
    updated = time_html(now, service.config.scheduler.timezone)
    return (f'<p>scheduler: <b id=state>{state}</b> · updated <span class="updated">{updated}</span></p><table class="jobs"><tr><th>job</th><th>table</th><th>protection</th>'
            f"<th>newest good backup</th><th>schedule</th><th>next run</th><th>last run</th><th></th></tr>{rows}</table>"
            f'<h2>Recent runs</h2><p><small>per run: items, stored size, duration, and the read rate against '
            f'the cap; failed runs are marked red</small></p><div class="histories">{histories}</div>'
            + _follow_section(service))


def _follow_section(service) -> str:
    """The follow jobs (continuous backup): state, lag, totals since the service started, when a
    segment was last written, and the recent gaps of each. Nothing when there is none."""
    jobs = service.config.follow_jobs
    if not jobs:
        return ""
    rows = "".join(_follow_row(service.runner.follow_states[job.name], service.config.timezone_of(job))
                   for job in jobs)
    return ('<h2>Continuous backup</h2><table class="follow"><tr><th>job</th><th>table</th><th>state</th>'
            '<th>lag</th><th>records</th><th>segments</th><th>last segment</th><th>gaps</th></tr>'
            f"{rows}</table>")


def _follow_row(state, tz: str) -> str:
    status = f'<span class="{"failure" if state.state == "failed" else "success"}">{esc(state.state)}</span>'
    if state.error:
        status += f'<br><span class="error">{esc(state.error)}</span>'
        status += f'<br><span class="hint">Try: {esc(state.hint)}</span>' if state.hint else ""
    lag = "-" if state.lag_s is None else format_duration(state.lag_s)
    last = time_html(state.last_segment_at, tz) if state.last_segment_at else '<span class="empty">none yet</span>'
    gaps = f"{state.gaps:,}" + "".join(
        f'<br><span class="error">{esc(g["reason"])}: {esc(g["gap_from"] or "unknown")} → {esc(g["gap_to"] or "unknown")}</span>'
        for g in state.recent_gaps)
    return (f'<tr data-job="{esc(state.job)}"><td>{esc(state.job)}</td><td>{esc(state.table)}</td>'
            f'<td class="state">{status}</td><td class="lag">{esc(lag)}</td><td class="records">{state.records:,}</td>'
            f'<td class="segments">{state.segments:,}</td><td class="last-segment">{last}</td>'
            f'<td class="gaps">{gaps}</td></tr>')


def _recent_backups(service, job) -> str:
    from ..vault.listing import list_backups
    from .protection import vault_principal

    options = service.config.effective(job)
    where = f"{esc(job.target)} in {esc(options.destination)}"
    try:
        entries = list_backups(options.destination, table=job.table, vault_principal=vault_principal(options))
        if job.tables:  # every table under the destination that a name pattern matches
            globs = [s for s in parse_selectors(job.tables) if not s.is_tag]
            entries = [e for e in entries if not globs or any(s.matches_name(e.table) for s in globs)]
        entries = entries[:RECENT]
    except DdbvaultError as exc:
        return f'<h3>{where}</h3><p class="error">cannot list it: {esc(exc.message)}</p>'
    if not entries:
        return f'<h3>{where}</h3><p class="empty">no backup yet</p>'
    tz = service.config.timezone_of(job)
    rows = "".join(f"<tr><td>{esc(b.backup_id if job.table else f'{b.table}/{b.backup_id}')}</td><td>{time_html(b.time, tz)}</td>"
                   f"<td>{'' if b.items is None else f'{b.items:,}'}</td><td>{size_html(b.bytes)}</td>"
                   f"<td>{esc(joined([b.status, b.error]))}</td></tr>" for b in entries)
    return (f"<h3>{where}</h3><table><tr><th>backup id</th><th>time</th>"
            f"<th>items</th><th>size</th><th>status</th></tr>{rows}</table>")


def render_status(service) -> str:
    recent = "".join(_recent_backups(service, job) for job in service.config.backup_jobs)
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>ddbvault</title>"
            f"<style>{_CSS}</style></head><body><h1>ddbvault</h1>"
            f'<section id="jobs" aria-live="polite">{render_jobs(service)}</section>'
            f"<h2>Recent backups</h2>{recent}<script>{_SCRIPT}</script></body></html>")
