"""A job's recent runs as a small inline SVG chart, drawn here (no external assets, no script).

One column per run, oldest on the left, in four panels: items, stored size, duration, and the
read rate used against the cap (consumed RCU / seconds ÷ read_rate_rcu, the panel's top is the
cap). Items, size and duration are scaled to the largest value among the runs shown.

Contract for readers and tests: every run is exactly one `<g class="run OUTCOME"
data-run="INDEX" data-outcome="OUTCOME">` (INDEX 0 = oldest), holding a `<title>` with the run's
facts (time in the job's time zone, exact bytes) and its bars; a failed run also gets one
full-height `<rect class="failed-mark">`, so failures stand out even when they have no bars.
Pure: a function of its arguments; every text is escaped.
"""

from __future__ import annotations

from .status_cells import (as_moment, esc, joined, local_text, read_rate, read_text, seconds_text, size_text,
                           utc_text)

COLUMN, BAR, LEFT, PANEL, GAP = 12, 8, 64, 24, 6  # pixels
PANELS = ("items", "stored", "duration", "read/cap")


def _values(run) -> tuple:
    """The run's value in each of PANELS; the read panel's is the fraction of the cap (≤ 1)."""
    rate = read_rate(run.consumed_rcu, run.seconds)
    share = None if rate is None or not run.read_rate_rcu else min(rate / run.read_rate_rcu, 1.0)
    return run.items, run.bytes, run.seconds, share


def _title(run, tz: str) -> str:
    moment = as_moment(run.started_at)
    when = f"{local_text(moment, tz)} ({utc_text(moment)})" if moment else ""
    items = None if run.items is None else f"{run.items:,} items"
    return joined([when, run.outcome, items, size_text(run.bytes), seconds_text(run.seconds),
                   read_text(run.consumed_rcu, run.seconds, run.read_rate_rcu), run.error])


def _bar(x: int, top: int, value, largest) -> str:
    if value is None or not largest:
        return ""
    height = max(round(PANEL * value / largest), 1 if value > 0 else 0)
    return f'<rect class="bar" x="{x}" y="{top + PANEL - height}" width="{BAR}" height="{height}"/>'


def _run(index: int, run, tz: str, largest: tuple, height: int) -> str:
    x = LEFT + index * COLUMN
    outcome = esc(run.outcome)
    mark = (f'<rect class="failed-mark" x="{x - 1}" y="0" width="{BAR + 2}" height="{height}"/>'
            if run.outcome == "failure" else "")
    bars = "".join(_bar(x, p * (PANEL + GAP), v, m) for p, (v, m) in enumerate(zip(_values(run), largest)))
    return (f'<g class="run {outcome}" data-run="{index}" data-outcome="{outcome}">'
            f"<title>{esc(_title(run, tz))}</title>{mark}{bars}</g>")


def history_svg(job: str, runs: list, tz: str) -> str:
    """The chart of `runs` (service/jobs.RunRecord, oldest first) of job `job`, times in `tz`.
    "" when there are no runs: the caller says so in words."""
    if not runs:
        return ""
    largest = [max((v for v in column if v is not None), default=None) for column in zip(*map(_values, runs))]
    largest[3] = 1.0  # the read panel's top is the cap
    height = len(PANELS) * (PANEL + GAP) - GAP
    width = LEFT + len(runs) * COLUMN
    labels = "".join(f'<text class="label" x="0" y="{p * (PANEL + GAP) + PANEL - 4}">{esc(name)}</text>'
                     f'<line class="axis" x1="{LEFT - 2}" x2="{width}" y1="{p * (PANEL + GAP) + PANEL}" '
                     f'y2="{p * (PANEL + GAP) + PANEL}"/>' for p, name in enumerate(PANELS))
    cap = 3 * (PANEL + GAP)
    cap_line = f'<line class="cap" x1="{LEFT - 2}" x2="{width}" y1="{cap}" y2="{cap}"><title>read cap</title></line>'
    failures = sum(run.outcome == "failure" for run in runs)
    summary = f"last {len(runs)} runs of {job}, {failures} failed"
    columns = "".join(_run(i, run, tz, tuple(largest), height) for i, run in enumerate(runs))
    return (f'<svg class="history" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(summary)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{esc(summary)}</title>'
            f"{labels}{cap_line}{columns}</svg>")
