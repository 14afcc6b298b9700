"""render(): an event (RunEvent, RpoEvent or GapEvent) as a subject line, a plain-text body and a one-line
Slack `text`.

Pure and deterministic: the same event gives the same strings. What a message contains is
exactly what the event holds (names, counts, timings, URLs, error type, message and hint), so
the guarantee of invariant 7 is the event's: no item contents, no credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from .event import Event, GapEvent, RpoEvent, RunEvent

__all__ = ["Rendered", "render", "human_bytes", "slack_escape"]

SUBJECT_LIMIT = 200  # characters; SNS allows 100 and cuts further itself


@dataclass(frozen=True)
class Rendered:
    subject: str  # one line, without any prefix
    body: str     # plain text, lines separated by "\n", ending with "\n"
    slack: str    # one line of Slack mrkdwn, already escaped


def human_bytes(count: int | None) -> str:
    """1536 -> '1.5 KiB'; None -> 'unknown'."""
    if count is None:
        return "unknown"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str) -> str:
    """One line of at most SUBJECT_LIMIT characters."""
    text = _one_line(text)
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def _count(value: int | float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


def _verified(value: bool | None) -> str:
    return {True: "yes", False: "NO: verification failed", None: "not checked"}[value]


def _subject(event: RunEvent) -> str:
    if event.failed:
        text = f"FAILED: {event.action} of {event.table} (job {event.job}): {event.error_type}"
    else:
        text = (f"OK: backup of {event.table} (job {event.job}): {_count(event.items)} items, "
                f"{human_bytes(event.bytes)} in {event.seconds:.1f} s")
    return _cut(text)


def _fields(event: RunEvent) -> list[tuple[str, str]]:
    fields = [("Job", event.job), ("Table", event.table), ("Outcome", event.outcome)]
    if event.failed:
        fields += [("Error", f"{event.error_type}: {event.error}")]
        if event.hint:
            fields += [("Try", event.hint)]
        fields += [("Exit code", str(event.exit_code))]
    else:
        fields += [("Items", _count(event.items)),
                   ("Bytes", f"{human_bytes(event.bytes)} ({_count(event.bytes)} bytes)"),
                   ("Objects", _count(event.objects)),
                   ("Consumed RCU", _count(event.consumed_rcu)),
                   ("Verified", _verified(event.verified))]
    if event.backup_url:
        fields += [("Backup", event.backup_url)]
    for entry in event.tables:  # a job with `tables:`: one line per table
        fields += [(entry["table"], f"ok, {_count(entry['items'])} items: {entry['url']}" if entry["ok"]
                    else f"FAILED: {entry['error']}")]
    fields += [("Started", event.to_dict()["started_at"]),
               ("Finished", event.to_dict()["finished_at"]),
               ("Duration", f"{event.seconds:.1f} s")]
    return fields


def _body(event: RunEvent) -> str:
    verb = "failed" if event.failed else "succeeded"
    return _text(f"ddbvault: the {event.action} of table {event.table} (job {event.job}) {verb}.",
                 _fields(event))


def _text(headline: str, fields: list[tuple[str, str]]) -> str:
    """A body: the headline, a blank line, then one aligned `Name: value` line per field."""
    width = max(len(name) for name, _ in fields) + 2
    lines = [headline, ""] + [f"{name + ':':<{width}}{value}" for name, value in fields]
    return "\n".join(lines) + "\n"


def slack_escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack(event: RunEvent) -> str:
    job, table = slack_escape(event.job), slack_escape(event.table)
    if event.failed:
        text = (f":x: ddbvault job `{job}`: {event.action} of `{table}` FAILED: "
                f"{slack_escape(event.error_type or '')}: {slack_escape(event.error or '')}")
        if event.hint:
            text += f" Try: {slack_escape(event.hint)}"
        return _one_line(text)
    text = (f":white_check_mark: ddbvault job `{job}`: backed up `{table}`: "
            f"{_count(event.items)} items, {human_bytes(event.bytes)}, {_count(event.objects)} "
            f"objects in {event.seconds:.1f} s")
    if event.verified is not None:
        text += ", verified" if event.verified else ", VERIFICATION FAILED"
    if event.backup_url:
        text += f". Backup: {slack_escape(event.backup_url)}"
    return _one_line(text)


def _duration(seconds: float) -> str:
    """Exact, for a body: '1 day, 2:00:00 (93,600 s)'; the summary line has the short form."""
    return f"{timedelta(seconds=round(seconds))} ({round(seconds):,} s)"


def _rpo_headline(event: RpoEvent) -> str:
    what = f"table {event.table} (job {event.job})"
    if not event.breached:
        return f"ddbvault: {what} is back within its RPO."
    if event.error:
        return f"ddbvault: {what} could not be checked against its RPO, and counts as out of it."
    return f"ddbvault: {what} is out of its RPO."


def _rpo_fields(event: RpoEvent) -> list[tuple[str, str]]:
    """The Status line holds the error, if any; then nothing is known of the backups."""
    data, missing = event.to_dict(), "unknown" if event.error else "none"
    return [("Job", event.job), ("Table", event.table), ("Outcome", event.outcome),
            ("Status", event.summary), ("RPO", _duration(event.rpo_seconds)),
            ("Newest good backup", event.last_good_url or missing),
            ("Recovery point", data["last_good_at"] or missing),
            ("Age", _duration(event.age_seconds) if event.last_good_at else missing),
            ("Checked", data["checked_at"])]


def _rpo_slack(event: RpoEvent) -> str:
    icon = ":rotating_light:" if event.breached else ":white_check_mark:"
    text = (f"{icon} ddbvault job `{slack_escape(event.job)}`: `{slack_escape(event.table)}` "
            f"{slack_escape(event.summary)}")
    if event.last_good_url:
        text += f". Newest good backup: {slack_escape(event.last_good_url)}"
    return _one_line(text)


def _render_rpo(event: RpoEvent) -> Rendered:
    head = "RPO ALERT" if event.breached else "RPO RECOVERED"
    return Rendered(subject=_cut(f"{head}: {event.table} (job {event.job}) {event.summary}"),
                    body=_text(_rpo_headline(event), _rpo_fields(event)), slack=_rpo_slack(event))


def _render_gap(event: GapEvent) -> Rendered:
    what = f"table {event.table} (job {event.job})"
    fields = [("Job", event.job), ("Table", event.table), ("Outcome", event.outcome), ("Reason", event.reason),
              ("From", event.gap_from or "unknown"), ("To", event.gap_to or "unknown"),
              ("Stream", event.stream_arn or "unknown"), ("Shard", event.shard_id or "-"),
              ("Detected", event.detected_at or "unknown")]
    headline = (f"ddbvault: the change log of {what} has a gap: changes between these times may be "
                "missing, and no point-in-time restore crosses it.")
    slack = (f":warning: ddbvault job `{slack_escape(event.job)}`: `{slack_escape(event.table)}` "
             f"{slack_escape(event.summary)}")
    return Rendered(subject=_cut(f"GAP: {event.table} (job {event.job}) {event.summary}"),
                    body=_text(headline, fields), slack=_one_line(slack))


def render(event: Event) -> Rendered:
    """The subject, plain-text body and Slack line for `event`."""
    if isinstance(event, RpoEvent):
        return _render_rpo(event)
    if isinstance(event, GapEvent):
        return _render_gap(event)
    return Rendered(subject=_subject(event), body=_body(event), slack=_slack(event))
