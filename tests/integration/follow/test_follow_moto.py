"""`ddbvault follow` against moto_server's DynamoDB Streams: every kind of write lands in the
change log exactly once, a restart continues after the vault's last sequence, two followers at
once only overlap, streams that cannot be replayed are refused, and Ctrl-C/SIGTERM writes what
is buffered.

moto's deviations (DESIGN.md, "moto DynamoDB Streams"): one shard; an UpdateItem that creates an
item emits two INSERTs (the first with the key attributes only); times carry milliseconds; a
map with an empty-named key is mangled in stream records, and binaries are base64-encoded twice
(so no B or BS value is written here: the stand-in's tests cover them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest

from ddbvault.exit_codes import ExitCode
from ddbvault.format import change_log as cl
from ddbvault.format.changes import final_changes
from ddbvault.format.dataline import key_fingerprint
from ddbvault.devtools.sample_data import edge_case_items
from ddbvault.storage import open_store
from ddbvault.storage.destination import parse_destination
from tests.support import change_logs
from tests.support.change_logs import create_streamed

pytestmark = pytest.mark.integration
BUCKET = "follow-vault"


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=timeout)


def key(pk: str, sk: int) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def every_kind_of_write(ddb, table: str) -> list[tuple[str, dict, dict | None]]:
    """Writes of every kind; returns the stream records they must give, in order:
    (eventName, Keys, NewImage or None)."""
    expected = []
    # 38-digit numbers, empty values, unicode, deep nesting. Left out, as moto's stream records
    # get them wrong: binaries (B and BS are base64-encoded twice) and a map with an empty-named
    # key ({"M": {"": ...}} becomes {"M": {"S": ""}}, which the follower refuses as malformed)
    edge = [{k: v for k, v in item.items() if k not in ("ms", "b") and not {"B", "BS"} & set(v)}
            for item in edge_case_items()[:5]]
    for item in edge:
        ddb.put_item(TableName=table, Item=item)
        expected.append(("INSERT", {"pk": item["pk"], "sk": item["sk"]}, item))
    a = {**key("a", 1), "v": {"S": "one"}, "n": {"N": "12345678901234567890123456789012345678"}}
    ddb.put_item(TableName=table, Item=a)
    expected.append(("INSERT", key("a", 1), a))
    a2 = {**a, "v": {"S": "two"}}
    ddb.put_item(TableName=table, Item=a2)
    expected.append(("MODIFY", key("a", 1), a2))
    ddb.update_item(TableName=table, Key=key("a", 1), UpdateExpression="SET w = :w",
                    ExpressionAttributeValues={":w": {"N": "-0.5"}})
    a3 = {**a2, "w": {"N": "-0.5"}}
    expected.append(("MODIFY", key("a", 1), a3))
    ddb.update_item(TableName=table, Key=key("b", 2), UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"SS": ["x", "y"]}})
    b = {**key("b", 2), "v": {"SS": ["x", "y"]}}
    expected += [("INSERT", key("b", 2), key("b", 2)), ("INSERT", key("b", 2), b)]  # moto's two INSERTs
    ddb.delete_item(TableName=table, Key=key("a", 1))
    expected.append(("REMOVE", key("a", 1), None))
    ddb.delete_item(TableName=table, Key=key("never", 0))  # deletes nothing: no record
    c, d = {**key("c", 3), "v": {"L": [{"NULL": True}, {"BOOL": False}]}}, {**key("d", 4), "v": {"M": {}}}
    ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": c}}, {"PutRequest": {"Item": d}},
                                               {"DeleteRequest": {"Key": key("b", 2)}}]})
    expected += [("INSERT", key("c", 3), c), ("INSERT", key("d", 4), d), ("REMOVE", key("b", 2), None)]
    e = {**key("e", 5), "v": {"NS": ["1", "2.5"]}}
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": e}},
        {"Update": {"TableName": table, "Key": key("c", 3), "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": ""}}}},
        {"Delete": {"TableName": table, "Key": key("d", 4)}}])
    expected += [("INSERT", key("e", 5), e), ("MODIFY", key("c", 3), {**key("c", 3), "v": {"S": ""}}),
                 ("REMOVE", key("d", 4), None)]
    return expected


def as_seen(records: list[cl.StreamRecord]) -> list[tuple[str, dict, dict | None]]:
    return [(r.event_name, r.keys, r.new_image) for r in records]


def scan_wire(ddb, table: str) -> dict[bytes, dict]:
    items, args = [], {"TableName": table}
    while True:
        page = ddb.scan(**args)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {key_fingerprint({"pk": i["pk"], "sk": i["sk"]}): i for i in items}


@pytest.fixture(scope="module")
def vault(aws_env):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    destination = parse_destination(f"s3://{BUCKET}/cont")
    return f"s3://{BUCKET}/cont", open_store(destination, boto3.Session())


@pytest.fixture(scope="module")
def followed(ddb, vault):
    """A table written in every way, then followed once into the S3 vault."""
    url, store = vault
    create_streamed(ddb, "orders-followed")
    expected = every_kind_of_write(ddb, "orders-followed")
    done = run_cli("follow", "orders-followed", "--to", url, "--once", "--json")
    assert done.returncode == 0, done.stderr
    return expected, json.loads(done.stdout)


def test_every_write_is_in_the_log_exactly_once(ddb, vault, followed):
    expected, result = followed
    _, store = vault
    found = change_logs.records(store, "cont", "orders-followed")
    assert as_seen(found) == expected
    assert result["records"] == len(expected) and result["segments"] == 1 and result["gaps"] == []
    assert result["shards"] == 1 and result["lag_s"] is not None
    # replaying each key's newest change gives the table as it is now, bit-exact
    replayed = {c.fingerprint: c.new_image for c in final_changes(r.change for r in found)}
    assert {k: v for k, v in replayed.items() if v is not None} == scan_wire(ddb, "orders-followed")


def test_the_log_layout_and_headers(ddb, vault, followed):
    _, store = vault
    table = ddb.describe_table(TableName="orders-followed")["Table"]
    label = cl.label_of_stream_arn(table["LatestStreamArn"])
    keys = change_logs.log_keys(store, "cont", "orders-followed")
    assert keys[-1] == f"{label}/start.json" and all(k.startswith(label + "/") for k in keys)
    start = cl.parse_start(store.get(cl.start_key("cont", "orders-followed", label)))
    assert start.stream_arn == table["LatestStreamArn"] and start.stream_view_type == "NEW_AND_OLD_IMAGES"
    assert start.covered_from <= int(time.time()) and time.time() - start.covered_from < 3600  # the stream's creation
    [(header, records)] = change_logs.segments(store, "cont", "orders-followed")
    assert header.continues_from is None and header.parent_shard_id is None
    assert (header.table, header.table_arn, header.stream_arn) == ("orders-followed", table["TableArn"],
                                                                   table["LatestStreamArn"])
    assert header.first_time <= header.last_time <= header.written_at
    assert all(r.raw.startswith(b'{"eventID"') for r in records)  # GetRecords' wire JSON, kept whole


def test_a_restart_continues_after_the_vaults_last_sequence(ddb, vault, followed):
    url, store = vault
    before = change_logs.log_keys(store, "cont", "orders-followed")
    again = run_cli("follow", "orders-followed", "--to", url, "--once", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["records"] == 0
    assert change_logs.log_keys(store, "cont", "orders-followed") == before  # nothing written twice
    item = {**key("f", 6), "v": {"S": "after the restart"}}
    ddb.put_item(TableName="orders-followed", Item=item)
    more = run_cli("follow", "orders-followed", "--to", url, "--once", "--json")
    assert more.returncode == 0, more.stderr
    assert json.loads(more.stdout)["records"] == 1
    (first, _), (second, [record]) = change_logs.segments(store, "cont", "orders-followed")
    assert second.continues_from == first.last_sequence and record.new_image == item
    assert set(before) < set(change_logs.log_keys(store, "cont", "orders-followed"))


def test_two_followers_at_once_only_overlap(ddb, vault, followed):
    url, store = vault
    writes = [{**key("g", n), "v": {"N": str(n)}} for n in range(30)]
    for item in writes:
        ddb.put_item(TableName="orders-followed", Item=item)
    argv = [sys.executable, "-m", "ddbvault", "follow", "orders-followed", "--to", url, "--once", "--json"]
    runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outcomes]
    stored = sum(json.loads(out)["segments"] for out, _ in outcomes)
    assert stored in (1, 2)  # the second to store the same range found it there: not an error
    found = change_logs.records(store, "cont", "orders-followed")
    assert [r.new_image for r in found[-30:]] == writes
    sequences = [r.sequence for r in found]
    assert sequences == sorted(set(sequences))


def test_a_local_directory_vault(ddb, aws_env, tmp_path):
    create_streamed(ddb, "orders-local", "NEW_IMAGE")
    items = [{**key("h", n), "v": {"S": "x" * n}} for n in range(1, 6)]
    for item in items:
        ddb.put_item(TableName="orders-local", Item=item)
    ddb.delete_item(TableName="orders-local", Key=key("h", 1))
    done = run_cli("follow", "orders-local", "--to", str(tmp_path), "--once")
    assert done.returncode == 0, done.stderr
    assert "followed orders-local: 6 records in 1 segment " in done.stdout
    store = open_store(parse_destination(str(tmp_path)))
    found = change_logs.records(store, "", "orders-local")
    assert as_seen(found) == [("INSERT", {"pk": i["pk"], "sk": i["sk"]}, i) for i in items] + [
        ("REMOVE", key("h", 1), None)]
    [(header, _)] = change_logs.segments(store, "", "orders-local")
    assert header.stream_view_type == "NEW_IMAGE"
    assert (tmp_path / "orders-local" / "changes").is_dir()


@pytest.mark.parametrize("view", ["KEYS_ONLY", "OLD_IMAGE", None])
def test_a_stream_without_new_images_is_refused_with_the_fix(ddb, aws_env, tmp_path, view):
    name = f"orders-{(view or 'none').lower().replace('_', '-')}"
    create_streamed(ddb, name, view)
    done = run_cli("follow", name, "--to", str(tmp_path), "--once", "--json")
    assert done.returncode == ExitCode.USAGE, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("ddbvault: error: ") and (view or "no DynamoDB stream") in lines[0]
    assert lines[-1].startswith("Try: aws dynamodb update-table --table-name " + name)
    assert "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES" in lines[-1]
    assert json.loads(done.stdout)["error"] == "UsageError" and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_missing_table_exits_not_found(aws_env, tmp_path):
    done = run_cli("follow", "no-such-table", "--to", str(tmp_path), "--once")
    assert done.returncode == ExitCode.NOT_FOUND and "DescribeTable" in done.stderr and "Traceback" not in done.stderr


def test_sigterm_writes_what_is_buffered_and_exits_130(ddb, aws_env, tmp_path):
    create_streamed(ddb, "orders-stopped")
    follower = subprocess.Popen([sys.executable, "-m", "ddbvault", "follow", "orders-stopped", "--to",
                                 str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = open_store(parse_destination(str(tmp_path)))
    try:
        deadline = time.monotonic() + 60
        while not any(k.endswith("start.json") for k in change_logs.log_keys(store, "", "orders-stopped")):
            assert time.monotonic() < deadline and follower.poll() is None
            time.sleep(0.2)
        items = [{**key("s", n), "v": {"N": str(n)}} for n in range(7)]
        for item in items:
            ddb.put_item(TableName="orders-stopped", Item=item)
        time.sleep(3)  # read, and held: a segment is written every 60 s
        assert change_logs.segments(store, "", "orders-stopped") == []
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err and "Traceback" not in err
    assert [r.new_image for r in change_logs.records(store, "", "orders-stopped")] == items


def test_list_ignores_the_change_log(ddb, vault, followed):
    url, _ = vault
    listed = run_cli("list", url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_a_new_stream_after_an_earlier_one_records_a_stream_replaced_gap(ddb, aws_env, tmp_path):
    create_streamed(ddb, "orders-replaced")
    arn = ddb.describe_table(TableName="orders-replaced")["Table"]["TableArn"]
    old_arn = arn + "/stream/2026-01-01T00:00:00.000"
    store = open_store(parse_destination(str(tmp_path)))
    store.put_new(cl.start_key("", "orders-replaced", "2026-01-01T00:00:00.000"), cl.start_object(
        cl.StartRecord("orders-replaced", old_arn, "NEW_IMAGE", 1767225600, 1767225600)))
    line = json.dumps({"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": 1767229200,
                       "Keys": key("o", 1), "NewImage": key("o", 1), "SequenceNumber": "700"}}).encode()
    fields = {"table": "orders-replaced", "table_arn": arn, "stream_arn": old_arn, "stream_view_type": "NEW_IMAGE",
              "shard_id": "shardId-old", "parent_shard_id": None, "continues_from": None}
    store.put_new(cl.segment_key("", "orders-replaced", "2026-01-01T00:00:00.000", "shardId-old", 700, 700),
                  cl.build_segment(fields, [line]))
    done = run_cli("follow", "orders-replaced", "--to", str(tmp_path), "--once", "--json")
    assert done.returncode == 0, done.stderr
    [gap] = json.loads(done.stdout)["gaps"]
    label = cl.label_of_stream_arn(json.loads(done.stdout)["stream_arn"])
    start = cl.parse_start(store.get(cl.start_key("", "orders-replaced", label)))
    assert gap == {"change_log": "1.0", "table": "orders-replaced", "from": "2026-01-01T01:00:00Z",
                   "to": cl.utc_text(start.covered_from), "reason": "stream_replaced", "stream_arn": old_arn,
                   "shard_id": None, "detected_at": gap["detected_at"]}
    assert [g.to_dict() for g in change_logs.gaps(store, "", "orders-replaced")] == [gap]


def test_a_foreign_object_under_changes_is_refused(ddb, aws_env, tmp_path):
    create_streamed(ddb, "orders-foreign")
    (tmp_path / "orders-foreign" / "changes" / "notes").mkdir(parents=True)
    (tmp_path / "orders-foreign" / "changes" / "notes" / "readme.txt").write_text("hello")
    done = run_cli("follow", "orders-foreign", "--to", str(tmp_path), "--once")
    assert done.returncode == ExitCode.INTEGRITY, done.stderr
    assert "is not a change-log key" in done.stderr and "Try: " in done.stderr and "Traceback" not in done.stderr


def test_no_item_value_in_the_logs_and_a_malformed_record_is_refused(ddb, aws_env, tmp_path):
    """At -vv nothing logs a value. moto's stream mangles a map with an empty-named key into an
    attribute value that is not one: the follower refuses the page (exit 5) and stores nothing."""
    create_streamed(ddb, "orders-secret")
    secret = "SECRET-ITEM-VALUE-7f3a"
    ddb.put_item(TableName="orders-secret", Item={**key("x", 1), "v": {"S": secret}})
    done = run_cli("-vv", "follow", "orders-secret", "--to", str(tmp_path), "--once")
    assert done.returncode == 0 and secret not in done.stderr + done.stdout
    ddb.put_item(TableName="orders-secret", Item={**key("x", 2), "m": {"M": {"": {"S": secret}}}})
    refused = run_cli("-vv", "follow", "orders-secret", "--to", str(tmp_path), "--once")
    assert refused.returncode == ExitCode.AWS_ERROR, refused.stderr
    assert "returned an unusable response: a stream record" in refused.stderr and "Traceback" not in refused.stderr
    assert secret not in refused.stderr + refused.stdout
    store = open_store(parse_destination(str(tmp_path)))
    assert [r.keys for r in change_logs.records(store, "", "orders-secret")] == [key("x", 1)]


def test_duration_stops_a_follower_that_would_run_on(ddb, aws_env, tmp_path):
    create_streamed(ddb, "orders-timed")
    ddb.put_item(TableName="orders-timed", Item={**key("t", 1), "v": {"S": "x"}})
    started = time.monotonic()
    done = run_cli("follow", "orders-timed", "--to", str(tmp_path), "--duration", "2", "--json")
    assert done.returncode == 0, done.stderr
    assert 2 <= time.monotonic() - started < 60 and json.loads(done.stdout)["records"] == 1
    assert run_cli("follow", "orders-timed", "--to", str(tmp_path), "--duration", "0").returncode == ExitCode.USAGE
