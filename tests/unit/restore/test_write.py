"""restore's write path against a fake table: what it sends, what it counts, when it gives up.

The fake records every BatchWriteItem body it gets and answers as told (UnprocessedItems,
ValidationException for some items). Real tables: tests/integration/restore/test_restore_lines.py.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

import ddbvault.restore.writer as restore_writer
from ddbvault.aws.retry import RetryPolicy
from ddbvault.restore.checkpoint import Checkpoint
from ddbvault.format.dataline import KeySpec, encode_put, key_fingerprint
from ddbvault.errors import AwsError, IntegrityError, RetriesExhaustedError
from ddbvault.runtime.keyset import KeySet
from ddbvault.format.layout import BackupLayout
from ddbvault.storage.destination import Destination
from ddbvault.format.manifest import DataObject
from ddbvault.capacity.limiter import limiter_for
from ddbvault.restore import RestoreOptions
from ddbvault.restore.writer import BatchWriteRun
from ddbvault.runtime.progress import Progress
from ddbvault.dynamodb.write_batch import MAX_ITEMS, BatchCutter, Put

KEY = KeySpec((("pk", "S"), ("sk", "N")))
SECRET = "SECRET-VALUE-42"


def item(n: int, pk: str = "p", **extra) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(n)}, "v": {"S": SECRET}, **extra}


@dataclass
class FakeSink:
    """Takes `per_call` items of each request (None: all), refuses requests holding an item
    with attribute `bad` with a ValidationException that quotes a value, as DynamoDB may."""

    per_call: int | None = None
    table: str = "target"
    arn: str = "arn:aws:dynamodb:us-east-1:123456789012:table/target"
    requests: list[list[dict]] = field(default_factory=list)
    stored: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def batch_write(self, bodies: list[bytes]):
        items = [orjson.loads(b)["PutRequest"]["Item"] for b in bodies]
        with self.lock:
            self.requests.append(items)
        keys = [(i["pk"]["S"], i["sk"]["N"]) for i in items]
        assert len(set(keys)) == len(keys), "DynamoDB refuses a batch naming a key twice"
        if any("bad" in i for i in items):
            raise AwsError(f"BatchWriteItem failed: ValidationException (Type mismatch, value {SECRET})",
                           code="ValidationException", action="BatchWriteItem")
        take = len(items) if self.per_call is None else self.per_call
        with self.lock:
            self.stored.update(zip(keys[:take], items[:take]))
        return [{"PutRequest": {"Item": i}} for i in items[take:]], float(take)


@dataclass
class FakeBackup:
    objects: dict[str, list[bytes]]

    def __post_init__(self):
        self.destination = Destination("local", "/backups")
        self.layout = BackupLayout("", "source", "20261130T000000Z-abcdef")
        objs = [DataObject(k, len(v), -1, "") for k, v in self.objects.items()]
        self.manifest = type("M", (), {"objects": objs, "totals": {"items": sum(o.items for o in objs)}})()
        self.url = "/backups/source/20261130T000000Z-abcdef"

    def key_of(self, obj: DataObject) -> str:
        return f"source/20261130T000000Z-abcdef/{obj.key}"


def lines(*items: dict) -> list[bytes]:
    return [orjson.dumps({"Item": i}) for i in items]


def write_run(tmp_path: Path, monkeypatch, objects: dict[str, list[bytes]], sink: FakeSink,
              attempts: int = 3, workers: int = 1) -> BatchWriteRun:
    backup = FakeBackup(objects)
    monkeypatch.setattr(restore_writer, "stream_lines", lambda b, obj: iter(b.objects[obj.key]))
    checkpoint = Checkpoint(tmp_path / "ck.jsonl", {"backup": backup.url, "table": sink.table})
    options = RestoreOptions(workers=workers, retry=RetryPolicy(attempts=attempts, base_delay=0.0001, max_delay=0.0002))
    return BatchWriteRun(backup, sink, checkpoint, limiter_for(math.inf), options, Progress(), threading.Event(), KEY)


def test_a_line_reaches_a_request_only_as_the_item_we_serialised(tmp_path, monkeypatch):
    injected = lines(item(1))[0] + b'],"victim":[{"PutRequest":{"Item":{"pk":{"S":"INJECTED"},"sk":{"N":"1"}}}'
    sink = FakeSink()
    run = write_run(tmp_path, monkeypatch, {"data/a.json": lines(item(0)) + [injected]}, sink)
    with pytest.raises(IntegrityError) as info:
        run.run()
    assert info.value.message.startswith("data object /backups/source/20261130T000000Z-abcdef/data/a.json: "
                                         "line 2: not one JSON object")
    assert SECRET not in info.value.message and "victim" not in str(sink.requests)


def test_unprocessed_retries_that_make_progress_never_exhaust_the_budget(tmp_path, monkeypatch):
    sink = FakeSink(per_call=1)  # one item per call: 25 calls for a batch, budget 2
    run = write_run(tmp_path, monkeypatch, {"data/a.json": lines(*(item(n) for n in range(25)))}, sink, attempts=2)
    run.run()
    assert len(sink.requests) == 25 and len(sink.stored) == 25 == run.written == run.keys.count


def test_attempts_that_write_nothing_exhaust_the_budget_and_say_what_is_missing(tmp_path, monkeypatch):
    sink = FakeSink(per_call=0)
    run = write_run(tmp_path, monkeypatch, {"data/a.json": lines(*(item(n) for n in range(30)))}, sink, attempts=3)
    with pytest.raises(RetriesExhaustedError) as info:
        run.run()
    assert len(sink.requests) == 3
    assert "25 items still unprocessed after 3 attempts that wrote nothing" in info.value.message
    assert "30 of 30 items are not written" in info.value.message
    assert "--write-share/--write-wcu" in info.value.hint and "--resume" in info.value.hint


def test_repeated_keys_in_a_batch_are_collapsed_last_wins_and_counted(tmp_path, monkeypatch):
    sink = FakeSink()
    data = lines(item(1), item(2), item(1, v2={"S": "last"}), item(3), item(2, v2={"S": "last"}))
    run = write_run(tmp_path, monkeypatch, {"data/a.json": data}, sink)
    run.run()
    assert len(sink.requests) == 1 and len(sink.requests[0]) == 3
    assert sink.stored[("p", "1")]["v2"] == {"S": "last"} and sink.stored[("p", "2")]["v2"] == {"S": "last"}
    assert (run.written, run.collapsed, run.duplicates, run.keys.count) == (3, 2, 2, 3)
    assert run.first_duplicate == "data object /backups/source/20261130T000000Z-abcdef/data/a.json line 3"


def test_keys_in_two_objects_are_counted_once_and_reported(tmp_path, monkeypatch):
    sink = FakeSink()
    same = lines(*(item(n) for n in range(40)))
    run = write_run(tmp_path, monkeypatch, {"data/a.json": same, "data/b.json": same + lines(item(99))}, sink,
                    workers=2)
    run.run()
    assert run.written == 81 and run.duplicates == 40 and run.collapsed == 0
    assert run.keys.count == 41 == len(sink.stored)


def test_refused_items_are_found_by_halving_and_named_by_key_only(tmp_path, monkeypatch):
    sink = FakeSink()
    data = lines(*(item(n, bad={"N": "1"}) if n in (3, 17) else item(n) for n in range(30)))
    run = write_run(tmp_path, monkeypatch, {"data/a.json": data}, sink)
    run.run()
    run.close()
    assert run.refused.count == 2 and run.written == 28 == len(sink.stored)
    assert len(sink.requests) <= 2 + 2 * 2 * math.ceil(math.log2(MAX_ITEMS))
    records = [orjson.loads(r) for r in run.refused.path.read_bytes().splitlines()]
    assert sorted(r["line"] for r in records) == [4, 18]
    assert {r["Key"]["sk"]["N"] for r in records} == {"3", "17"} and SECRET not in run.refused.path.read_text()
    error = run.refused.error("target", 30, "/backups/source/x")
    assert "refused 2 of 30 items" in error.message and str(run.refused.path) in error.message
    assert '{"pk":{"S":"p"},"sk":{"N":"3"}}' in error.message and SECRET not in error.message + error.hint
    assert "`ddbvault verify /backups/source/x --against-table target`" in error.hint
    assert "ck.refused.jsonl" in str(run.refused.path)
    assert run.checkpoint.done == set()  # the object is not marked done: --resume writes it again


def test_batches_are_cut_at_25_items_and_at_the_request_size_limit():
    def put(n: int, size: int) -> Put:
        key = {"pk": {"S": "p"}, "sk": {"N": str(n)}}
        return Put(encode_put({**key, "x": {"S": "x" * size}}), key, key_fingerprint(key), n)

    cutter, batches = BatchCutter(max_bytes=5000), []
    for n in range(60):
        batches.append(cutter.add(put(n, 10 if n < 30 else 300)))
    batches = [b for b in batches + [cutter.finish()] if b]
    assert len(batches[0]) == 25 and all(len(b) < 25 for b in batches[1:])
    assert all(len(b) <= 25 and sum(len(p.body) for p in b) <= 5000 for b in batches)
    assert sum(map(len, batches)) == 60


def test_a_single_item_over_the_limit_goes_alone():
    key = {"pk": {"S": "p"}, "sk": {"N": "1"}}
    big = Put(b"x" * 5000, key, key_fingerprint(key), 1)
    cutter = BatchCutter(max_bytes=1000)
    assert cutter.add(big) is None and cutter.finish() == [big]


def test_keyset_reports_repeats_within_and_across_calls(tmp_path):
    with KeySet() as keys:
        assert keys.add([b"a", b"b", b"a"]) == [2]
        assert keys.add([b"c", b"b"] + [bytes([i, j]) for i in range(40) for j in range(40)]) == [1]
        assert keys.count == 3 + 1600


def test_unprocessed_items_that_were_never_sent_fail_the_run(tmp_path, monkeypatch):
    class Stranger(FakeSink):
        def batch_write(self, bodies):
            super().batch_write(bodies)
            return [{"PutRequest": {"Item": item(999)}}], 1.0

    run = write_run(tmp_path, monkeypatch, {"data/a.json": lines(item(1))}, Stranger())
    with pytest.raises(AwsError, match="UnprocessedItems that are not items of the request"):
        run.run()
