"""A `kind: follow` service job end to end on moto_server: `ddbvault run` follows the stream into
the change log once (until idle); a gap the follower records is notified once, as a GapEvent;
`serve` runs the job as back-to-back passes, shows it on the status page and in /metrics, and
stops within a pass at shutdown."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ddbvault.format import change_log as cl
from ddbvault.service import Service, load_config, run_once
from tests.support.receivers import webhook_server
from tests.support.tables import create_table

pytestmark = pytest.mark.integration
DAY = 86_400


def streamed(ddb, name: str, items: int) -> str:
    """A table with a NEW_AND_OLD_IMAGES stream and `items` puts; returns its stream ARN."""
    create_table(ddb, name)
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                          "StreamViewType": "NEW_AND_OLD_IMAGES"})
    put(ddb, name, range(items))
    return ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]


def put(ddb, name: str, numbers) -> None:
    for n in numbers:
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{n}"}, "sk": {"N": str(n)}, "v": {"S": "x" * 20}})


def config(path: Path, dest: Path, table: str, hook: str = "", extra: str = "") -> Path:
    notify = f', notifications: [{{type: webhook, "on": failure, url: "{hook}/hook"}}]' if hook else ""
    path.write_text(f"""
defaults: {{destination: "{dest}"{notify}}}
jobs:
  - {{name: follow-{table}, kind: follow, table: {table}, run_seconds: 5}}
{extra}""")
    return path


def segments(dest: Path, table: str) -> list[Path]:
    return sorted((dest / table / "changes").rglob("*.jsonl.gz"))


def test_run_follows_the_stream_once_into_the_change_log(ddb, aws_env, tmp_path):
    streamed(ddb, "fj-orders", 7)
    dest = tmp_path / "vault"
    dest.mkdir()
    with webhook_server({"/hook": 204}) as (base, requests):
        [record] = run_once(load_config(config(tmp_path / "c.yaml", dest, "fj-orders", base)))
    assert record.outcome == "success", record.error
    assert record.items == 7  # stream records written
    found = segments(dest, "fj-orders")
    assert found and sum(cl.parse_segment(p.read_bytes())[0].count for p in found) == 7
    assert requests == []  # a pass without a gap notifies nobody


def test_a_gap_is_recorded_and_notified_once(ddb, aws_env, tmp_path):
    arn = streamed(ddb, "fj-gap", 2)
    dest = tmp_path / "vault"
    label = cl.label_of_stream_arn(arn)
    # The vault says this stream was last followed two days ago: records may have been trimmed since.
    then = int(time.time()) - 2 * DAY
    start = dest / cl.start_key("", "fj-gap", label)
    start.parent.mkdir(parents=True)
    start.write_bytes(cl.start_object(cl.StartRecord("fj-gap", arn, "NEW_AND_OLD_IMAGES", then, then)))
    with webhook_server({"/hook": 204}) as (base, requests):
        [record] = run_once(load_config(config(tmp_path / "c.yaml", dest, "fj-gap", base)))
    assert record.outcome == "success", record.error
    [sent] = requests
    event = sent["body"]["event"]
    assert (event["outcome"], event["job"], event["table"], event["reason"]) == \
        ("change_log_gap", "follow-fj-gap", "fj-gap", "follower_down")
    assert event["gap_from"] == cl.utc_text(then)
    assert list((dest / "fj-gap" / "changes" / "gaps").glob("*.json"))  # and written to the vault


def _metrics(base: str) -> dict:
    text = urllib.request.urlopen(f"{base}/metrics").read().decode()
    return {(s.name, s.labels.get("job")): s.value for family in text_string_to_metric_families(text)
            for s in family.samples}


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_serve_follows_in_passes_with_status_metrics_and_a_prompt_stop(ddb, aws_env, tmp_path):
    streamed(ddb, "fj-serve", 3)
    dest = tmp_path / "vault"
    dest.mkdir()
    service = Service(load_config(config(tmp_path / "c.yaml", dest, "fj-serve",
                                         extra="http: {host: 127.0.0.1, port: 0}")))
    service.start()
    state = service.runner.follow_states["follow-fj-serve"]
    try:
        _wait(lambda: state.records >= 3, 60, "the first records")
        put(ddb, "fj-serve", range(3, 8))  # written while it follows: a later pass takes them
        _wait(lambda: state.records >= 8 and state.passes >= 2, 60, "the later records")
        base = f"http://127.0.0.1:{service.http.port}"
        metrics = _metrics(base)
        assert metrics[("ddbvault_follow_records_total", "follow-fj-serve")] == 8
        assert metrics[("ddbvault_follow_segments_total", "follow-fj-serve")] >= 2
        assert metrics[("ddbvault_follow_gaps_total", "follow-fj-serve")] == 0
        assert metrics[("ddbvault_failures_total", "follow-fj-serve")] == 0
        page = urllib.request.urlopen(base + "/").read().decode()
        row = page.split("<h2>Continuous backup</h2>")[1]
        assert 'data-job="follow-fj-serve"' in row and '<td class="records">8</td>' in row
        assert service.scheduler.run_now("follow-fj-serve") is False  # always running: nothing to start
        json.loads(json.dumps(state.to_dict()))  # plain values only
    finally:
        t0 = time.monotonic()
        service.stop()
        stopped_in = time.monotonic() - t0
    assert not service.runner.running() and stopped_in < 5 + 5  # within one pass (run_seconds 5), and margin
    assert sum(cl.parse_segment(p.read_bytes())[0].count for p in segments(dest, "fj-serve")) == 8
