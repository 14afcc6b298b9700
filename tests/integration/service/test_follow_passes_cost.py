"""What a follow job's passes cost in S3 requests (moto_server, requests counted by a recording
proxy in front of S3): the first pass of a running service lists the table's change log, the
next ones start from the checkpoint the previous pass left in memory and list nothing, and
still write no record twice; a pass after a failed one, and a new service, list the vault again;
another follower writing meanwhile only makes segments overlap."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from ddbvault.service import load_config
from ddbvault.service.jobs import JobRunner
from ddbvault.service.metrics import Metrics
from ddbvault.storage import open_store
from ddbvault.storage.destination import parse_destination
from tests.support import change_logs
from tests.support.cli import run_cli
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table

pytestmark = pytest.mark.integration
BUCKET = "follow-passes"


def put(ddb, table: str, numbers) -> None:
    for n in numbers:
        ddb.put_item(TableName=table, Item={"pk": {"S": f"k{n}"}, "sk": {"N": str(n)}, "v": {"S": "x" * n}})


def listings(proxy: RecordingProxy) -> list[str]:
    """The prefixes of the ListObjectsV2 requests the proxy saw (GET /BUCKET?list-type=2&prefix=...)."""
    found = []
    for method, path, _ in proxy.requests:
        query = parse_qs(urlsplit(path).query)
        if method == "GET" and query.get("list-type") == ["2"]:
            found.append(query.get("prefix", [""])[0])
    return found


@pytest.fixture
def job(ddb, aws_env, tmp_path, monkeypatch):
    """A streamed table, a follow job into s3://BUCKET/v, and a proxy counting S3 requests."""
    table = f"passes-{tmp_path.name[-12:].lower().replace('_', '-')}"
    create_table(ddb, table)
    ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": True,
                                                           "StreamViewType": "NEW_AND_OLD_IMAGES"})
    s3 = boto3.client("s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    path = tmp_path / "c.yaml"
    path.write_text(f"""
defaults: {{destination: "s3://{BUCKET}/v"}}
jobs:
  - {{name: follow, kind: follow, table: {table}, run_seconds: 30}}
""")
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        yield table, load_config(path), proxy


def log_of(table: str) -> tuple[list[str], list[tuple[str, int]]]:
    store = open_store(parse_destination(f"s3://{BUCKET}/v"), boto3.Session())
    return (change_logs.log_keys(store, "v", table),
            [(r.shard_id, r.sequence) for _, recs in change_logs.segments(store, "v", table) for r in recs])


def test_passes_after_the_first_list_nothing_and_write_nothing_twice(ddb, job):
    table, config, proxy = job
    runner = JobRunner(config, Metrics(), follow_until_idle=True)
    put(ddb, table, range(5))
    first = runner.run("follow")
    assert first.outcome == "success" and first.items == 5, first.error
    assert listings(proxy) == [f"v/{table}/changes/"]  # the first pass lists the change log
    proxy.requests.clear()
    put(ddb, table, range(5, 9))
    second = runner.run("follow")
    assert second.outcome == "success" and second.items == 4, second.error
    third = runner.run("follow")  # nothing new: nothing read, nothing written
    assert third.outcome == "success" and third.items == 0, third.error
    assert listings(proxy) == []  # fewer ListObjectsV2: none at all
    gets = [path for method, path, _ in proxy.requests if method == "GET"]
    assert gets == []  # nor a header or start.json read back
    keys, records = log_of(table)
    assert len(records) == len(set(records)) == 9  # every record once
    assert len([k for k in keys if k.endswith(".jsonl.gz")]) == 2
    (a, _), (b, _) = change_logs.segments(open_store(parse_destination(f"s3://{BUCKET}/v"), boto3.Session()),
                                          "v", table)
    assert b.continues_from == a.last_sequence  # the chain runs on across passes

    # A new service (a restart) has no memory: its first pass lists the vault, and continues.
    proxy.requests.clear()
    put(ddb, table, [9])
    again = JobRunner(config, Metrics(), follow_until_idle=True).run("follow")
    assert again.outcome == "success" and again.items == 1, again.error
    assert listings(proxy) == [f"v/{table}/changes/"]
    assert len(set(log_of(table)[1])) == len(log_of(table)[1]) == 10


def test_a_failed_pass_makes_the_next_one_list_the_vault(ddb, job, monkeypatch):
    table, config, proxy = job
    runner = JobRunner(config, Metrics(), follow_until_idle=True)
    put(ddb, table, range(3))
    assert runner.run("follow").outcome == "success"
    put(ddb, table, [3])
    denied = b"<Error><Code>AccessDenied</Code><Message>denied</Message></Error>"
    with RecordingProxy(os.environ["AWS_ENDPOINT_URL"], answer=lambda *_: (403, denied)) as deny, \
            monkeypatch.context() as broken:  # every S3 request is denied for one pass
        broken.setenv("AWS_ENDPOINT_URL_S3", deny.url)
        failed = runner.run("follow")
    assert failed.outcome == "failure" and "AccessDenied" in failed.error
    proxy.requests.clear()
    after = runner.run("follow")
    assert after.outcome == "success" and after.items == 1, after.error
    assert listings(proxy) == [f"v/{table}/changes/"]
    records = log_of(table)[1]
    assert len(records) == len(set(records)) == 4


def test_another_follower_meanwhile_only_overlaps(ddb, job):
    table, config, proxy = job
    runner = JobRunner(config, Metrics(), follow_until_idle=True)
    put(ddb, table, range(4))
    assert runner.run("follow").items == 4
    put(ddb, table, range(4, 10))
    # Another follower (a second service, an operator's `ddbvault follow`) stores the new records
    # first: the job's next pass does not know, reads them again, and only overlaps.
    other = run_cli("follow", table, "--to", f"s3://{BUCKET}/v", "--once")
    assert other.returncode == 0, other.stderr
    second = runner.run("follow")
    assert second.outcome == "success" and second.items == 6, second.error
    keys, records = log_of(table)
    assert len([k for k in keys if k.endswith(".jsonl.gz")]) == 2  # the same range: the same key, stored once
    assert len(set(records)) == 10
    store = open_store(parse_destination(f"s3://{BUCKET}/v"), boto3.Session())
    unique = [r.new_image for r in change_logs.records(store, "v", table)]
    assert [int(image["sk"]["N"]) for image in unique] == list(range(10))
