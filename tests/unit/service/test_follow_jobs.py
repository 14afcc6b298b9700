"""`kind: follow` jobs: the config's rules, a pass folded into the job's state, the gap event
(hostile gap records redacted and cut), its rendering, the metrics and the status page section.
The end-to-end runs against moto are in tests/integration/service/test_follow_job.py."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from ddbvault.errors import UsageError
from ddbvault.notify import should_send
from ddbvault.notify.event import GapEvent
from ddbvault.notify.render import render
from ddbvault.service.config import ServiceConfig
from ddbvault.service.follow_jobs import FollowState, record_failure, record_pass
from ddbvault.service.metrics import Metrics
from ddbvault.service.status_page import render_jobs
from tests.support.service_config import load_text

GAP = {"change_log": "1.0", "table": "orders", "from": "2026-11-30T10:00:00Z", "to": "2026-11-30T11:00:00Z",
       "reason": "trimmed", "stream_arn": "arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-11-30T00:00:00.000",
       "shard_id": "shardId-1", "detected_at": "2026-11-30T11:00:05Z"}


def result(records=3, segments=1, gaps=(), lag_s=2.0):
    return SimpleNamespace(records=records, segments=segments, gaps=list(gaps), lag_s=lag_s, shards=1)


def config(*jobs: str, defaults: str = 'destination: "/v"'):
    return f"defaults: {{{defaults}}}\njobs:\n" + "".join(f"  - {job}\n" for job in jobs)


def test_a_follow_job_needs_a_table_and_no_schedule(tmp_path):
    loaded = load_text(tmp_path, config("{name: f, kind: follow, table: orders, run_seconds: 10}",
                                        "{name: b, table: orders, cron: '0 3 * * *'}"))
    assert [j.name for j in loaded.follow_jobs] == ["f"] and [j.name for j in loaded.backup_jobs] == ["b"]
    assert loaded.job("f").pass_seconds == 10
    assert load_text(tmp_path, config("{name: f, kind: follow, table: orders}")).job("f").pass_seconds == 30


@pytest.mark.parametrize("job, message", [
    ("{name: f, kind: follow, tables: ['orders-*']}", "give table, not tables"),
    ("{name: f, kind: follow, table: orders, cron: '0 3 * * *'}", "drop cron and interval_seconds"),
    ("{name: f, kind: follow, table: orders, interval_seconds: 60}", "drop cron and interval_seconds"),
    ("{name: f, kind: follow, table: orders, engine: export}", "engine is a backup option"),
    ("{name: f, kind: follow, table: orders, rpo: 1h, read_rcu: 5}", "read_rcu, rpo are backup options"),
    ("{name: f, kind: follow, table: orders, run_seconds: 1}", "run_seconds"),
    ("{name: f, kind: follow, table: orders, run_seconds: 7200}", "run_seconds"),
    ("{name: f, kind: tail, table: orders}", "kind"),
    ("{name: b, table: orders, cron: '0 3 * * *', run_seconds: 10}", "run_seconds is for kind: follow"),
])
def test_what_a_follow_job_refuses_is_named(tmp_path, job, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        load_text(tmp_path, config(job))


XARN = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders"


def test_a_follow_job_takes_a_table_arn_and_passes_it_to_the_follower(tmp_path):
    from ddbvault.service.follow_jobs import follow_options

    loaded = load_text(tmp_path, config(f"{{name: f, kind: follow, table: '{XARN}'}}",
                                        f"{{name: g, kind: follow, table: '{XARN}', region: eu-west-1}}"))
    job = loaded.job("f")
    assert job.table == XARN and job.target == XARN
    options = follow_options(job, loaded.effective(job), until_idle=True)
    assert options.table == XARN and options.table_principal.region is None  # the follower takes the ARN's


@pytest.mark.parametrize("job, message", [
    (f"{{name: b, table: '{XARN}', cron: '0 3 * * *'}}", "a table ARN is for kind: follow jobs"),
    (f"{{name: f, kind: follow, table: '{XARN}', region: us-east-1}}",
     "job 'f': region us-east-1 disagrees with the table ARN's region eu-west-1"),
    (f"{{name: f, kind: follow, table: '{XARN}/stream/2026-11-30T00:00:00.000'}}", "is a stream ARN"),
    ("{name: f, kind: follow, table: 'arn:aws:dynamodb:eu-west-1:1111:table/orders'}", "is not a table ARN"),
])
def test_a_table_arn_is_checked_where_the_job_is_read(tmp_path, job, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        load_text(tmp_path, config(job))


def test_a_region_in_defaults_must_agree_with_a_follow_jobs_arn(tmp_path):
    with pytest.raises(UsageError, match="disagrees with the table ARN's region"):
        load_text(tmp_path, config(f"{{name: f, kind: follow, table: '{XARN}'}}",
                                   defaults='destination: "/v", region: us-east-1'))


def test_defaults_may_keep_backup_options_for_the_backups(tmp_path):
    loaded = load_text(tmp_path, config("{name: f, kind: follow, table: orders}",
                                        "{name: b, table: orders, interval_seconds: 60}",
                                        defaults='destination: "/v", read_rcu: 5'))
    assert loaded.effective(loaded.job("f")).read_rcu == 5  # inherited, and ignored by the follower


def test_a_pass_is_folded_into_the_state_and_each_gap_becomes_an_event():
    state = FollowState("f", "orders")
    assert record_pass(state, result()) == []
    events = record_pass(state, result(records=2, segments=0, gaps=[GAP], lag_s=None))
    assert (state.state, state.passes, state.records, state.segments, state.gaps, state.lag_s) == \
        ("following", 2, 5, 1, 1, None)
    assert state.last_segment_at is not None and state.last_pass_at >= state.last_segment_at
    [event] = events
    assert (event.job, event.table, event.reason, event.gap_from, event.gap_to, event.shard_id) == \
        ("f", "orders", "trimmed", "2026-11-30T10:00:00Z", "2026-11-30T11:00:00Z", "shardId-1")
    assert state.to_dict()["recent_gaps"] == [event.to_dict()]
    record_failure(state, "stream of orders is disabled", "enable it")
    assert (state.state, state.error, state.hint, state.passes) == ("failed", "stream of orders is disabled", "enable it", 3)
    record_pass(state, result())
    assert (state.state, state.error) == ("following", None)


def test_a_hostile_gap_record_is_redacted_cut_and_typed():
    secret = "AKIAIOSFODNN7EXAMPLE"
    event = GapEvent.from_gap("f", "orders", {"from": f"aws_secret_access_key={secret}", "to": "x" * 5000,
                                              "reason": "<script>", "stream_arn": 12, "shard_id": ["a"]})
    assert secret not in str(event.to_dict())
    assert len(event.gap_to) <= 300 and event.reason == "unknown"
    assert event.stream_arn is None and event.shard_id is None and event.detected_at is None
    assert GapEvent.from_gap("f", "orders", "not a dict").reason == "unknown"


def test_a_gap_is_an_alert_and_renders_on_one_subject_line():
    event = GapEvent.from_gap("f", "orders", GAP)
    assert should_send("failure", event.outcome)
    rendered = render(event)
    assert rendered.subject == ("GAP: orders (job f) change log gap (trimmed) from 2026-11-30T10:00:00Z "
                                "to 2026-11-30T11:00:00Z")
    assert re.search(r"^Reason: +trimmed$", rendered.body, re.M) and "no point-in-time restore crosses it" in rendered.body
    assert rendered.slack.startswith(":warning: ddbvault job `f`: `orders` change log gap (trimmed)")


def test_metrics_count_records_segments_gaps_and_the_lag():
    metrics = Metrics()
    metrics.followed("f", "orders", result(records=3, segments=2, gaps=[GAP, GAP], lag_s=1.5))
    text = metrics.render().decode()
    for line in ('ddbvault_follow_records_total{job="f",table="orders"} 3.0',
                 'ddbvault_follow_segments_total{job="f",table="orders"} 2.0',
                 'ddbvault_follow_gaps_total{job="f",table="orders"} 2.0',
                 'ddbvault_follow_lag_seconds{job="f",table="orders"} 1.5',
                 'ddbvault_failures_total{job="f",table="orders"} 0.0'):
        assert line in text
    metrics.followed("f", "orders", result(lag_s=None))
    assert "ddbvault_follow_lag_seconds{" not in metrics.render().decode()  # nothing pending: no stale lag


def test_the_status_page_shows_follow_jobs_in_their_own_table():
    loaded = ServiceConfig.model_validate({"defaults": {"destination": "/v"}, "jobs": [
        {"name": "b", "table": "orders", "interval_seconds": 60},
        {"name": "f", "kind": "follow", "table": "orders"}]})
    state = FollowState("f", "orders")
    record_pass(state, result(records=1234, segments=2, gaps=[GAP], lag_s=3))
    record_failure(state, "stream <disabled>", "enable it & retry")
    service = SimpleNamespace(
        config=loaded, runner=SimpleNamespace(records={}, runs=lambda name: [], follow_states={"f": state}),
        scheduler=SimpleNamespace(running=True, next_runs=lambda: {}), protection=SimpleNamespace(latest=lambda: {}))
    html = render_jobs(service)
    jobs_table = html.split("<h2>Continuous backup</h2>")[0]
    assert 'data-job="b"' in jobs_table and 'data-job="f"' not in jobs_table
    row = re.search(r'<tr data-job="f">.*?</tr>', html).group(0)
    assert '<td class="lag">3s</td>' in row and "1,234" in row and "failed" in row
    assert "stream &lt;disabled&gt;" in row and "Try: enable it &amp; retry" in row
    assert "trimmed: 2026-11-30T10:00:00Z → 2026-11-30T11:00:00Z" in row and "<time" in row
    no_follow = SimpleNamespace(**{**service.__dict__, "config": ServiceConfig.model_validate(
        {"defaults": {"destination": "/v"}, "jobs": [{"name": "b", "table": "orders", "interval_seconds": 60}]})})
    assert "Continuous backup" not in render_jobs(no_follow)


def test_a_failed_pass_is_named_a_follow_in_its_notification():
    from ddbvault.errors import NotFoundError
    from ddbvault.notify.event import RunEvent

    event = RunEvent.from_error("f", "orders", NotFoundError("the stream of orders is disabled"), action="follow")
    rendered = render(event)
    assert rendered.subject == "FAILED: follow of orders (job f): NotFoundError"
    assert rendered.body.startswith("ddbvault: the follow of table orders (job f) failed.")
    assert event.to_dict()["action"] == "follow"
    assert render(RunEvent.from_error("b", "orders", NotFoundError("x"))).subject.startswith("FAILED: backup of")
