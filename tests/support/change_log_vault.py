"""Hand-built change logs (format 1.0) for tests: stream records, segments, start.json and gaps
written with format/change_log's own builders into any ObjectStore; and MemoryStore, an
in-memory store whose objects may be made on demand (a log of 200,000 segments without
200,000 files)."""

from __future__ import annotations

import io
import secrets
from typing import Callable, Iterator

import orjson

from ddbvault.errors import IntegrityError, NotFoundError
from ddbvault.format import change_log as fmt
from ddbvault.storage.base import ObjectStore, ObjectWriter

TABLE = "orders"
TABLE_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}"
LABEL = "2026-11-30T10:00:00.000"
T0 = 1_795_000_000  # 2026-11-18T...Z: an epoch second the tests count from


def stream_arn(label: str = LABEL, table: str = TABLE) -> str:
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/{label}"


def key(pk: str, sk: str = "1") -> dict:
    return {"pk": {"S": pk}, "sk": {"N": sk}}


def record(seq: int, t: int, pk: str, image: dict | None = None, *, event: str | None = None,
           sk: str = "1") -> bytes:
    """One GetRecords element in wire JSON: a put of `image` (plus the key), or with image None a
    REMOVE."""
    body = {"ApproximateCreationDateTime": t, "Keys": key(pk, sk), "SequenceNumber": str(seq), "SizeBytes": 10,
            "StreamViewType": "NEW_IMAGE"}
    if image is not None:
        body["NewImage"] = {**image, **key(pk, sk)}
    return orjson.dumps({"eventID": secrets.token_hex(8), "eventName": event or ("MODIFY" if image is not None
                                                                                   else "REMOVE"),
                         "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                         "dynamodb": body})


def segment(records: list[bytes], *, shard: str = "shardId-1", parent: str | None = None,
            continues: str | None = None, label: str = LABEL, table: str = TABLE,
            written_at: int | None = None) -> bytes:
    fields = {"table": table, "table_arn": TABLE_ARN, "stream_arn": stream_arn(label, table),
              "stream_view_type": "NEW_IMAGE", "shard_id": shard, "parent_shard_id": parent,
              "continues_from": continues}
    times = [orjson.loads(r)["dynamodb"]["ApproximateCreationDateTime"] for r in records]
    return fmt.build_segment(fields, records, written_at=written_at if written_at is not None else max(times) + 1)


def seqs(records: list[bytes]) -> tuple[int, int]:
    numbers = [int(orjson.loads(r)["dynamodb"]["SequenceNumber"]) for r in records]
    return numbers[0], numbers[-1]


def put_segment(store: ObjectStore, records: list[bytes], *, prefix: str = "", shard: str = "shardId-1",
                label: str = LABEL, table: str = TABLE, under: str | None = None, **kwargs) -> str:
    """Write a segment of `records` under table `under` (default: `table`, the header's)."""
    first, last = seqs(records)
    name = fmt.segment_key(prefix, under or table, label, shard, first, last)
    store.put_new(name, segment(records, shard=shard, label=label, table=table, **kwargs))
    return name


def put_start(store: ObjectStore, covered_from: int, *, prefix: str = "", label: str = LABEL,
              table: str = TABLE, under: str | None = None) -> None:
    start = fmt.StartRecord(table, stream_arn(label, table), "NEW_IMAGE", covered_from, covered_from)
    store.put_new(fmt.start_key(prefix, under or table, label), fmt.start_object(start))


def put_gap(store: ObjectStore, start: int | None, end: int, reason: str = "follower_down", *,
            prefix: str = "", table: str = TABLE, under: str | None = None) -> None:
    gap = fmt.GapRecord(table, start, end, reason, stream_arn(table=table), None, end)
    store.put_new(fmt.gap_key(prefix, under or table, end, secrets.token_hex(3)), fmt.gap_object(gap))


def put_closed(store: ObjectStore, last_sequence: int | None, closed_at: int, *, shard: str = "shardId-1",
               prefix: str = "", label: str = LABEL, table: str = TABLE) -> str:
    """closed.json of `shard`: read to its end, its last record `last_sequence` (None: empty)."""
    closed = fmt.ClosedRecord(shard, None if last_sequence is None else str(last_sequence), closed_at)
    name = fmt.closed_key(prefix, table, label, shard)
    store.put_new(name, fmt.closed_object(closed))
    return name


def put_poll(store: ObjectStore, polled_at: int, shards: dict, *, prefix: str = "", label: str = LABEL,
             table: str = TABLE, arn_label: str | None = None, written_at: int | None = None) -> str:
    """A poll record under stream `label` (its stream_arn names `arn_label`, default `label`)."""
    poll = fmt.PollRecord(table, stream_arn(arn_label or label, table), polled_at, shards,
                          polled_at if written_at is None else written_at)
    name = fmt.poll_key(prefix, TABLE, label, polled_at, secrets.token_hex(3))
    store.put_new(name, fmt.poll_object(poll))
    return name


class _Writer(ObjectWriter):
    def __init__(self, store: "MemoryStore", key: str):
        self.store, self.key, self.parts = store, key, []

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        if self.store.exists(self.key):
            raise IntegrityError(f"{self.key} exists")
        self.store.objects[self.key] = b"".join(self.parts)

    def abort(self) -> None:
        self.parts = []


class MemoryStore(ObjectStore):
    """Objects in a dict, plus `made`: keys whose bytes `make(key)` builds when read. Counts gets."""

    def __init__(self, made: list[str] | None = None, make: Callable[[str], bytes] | None = None):
        self.objects: dict[str, bytes] = {}
        self.made, self.make = sorted(made or []), make
        self.gets: list[str] = []

    def url_of(self, key: str) -> str:
        return f"mem://{key}"

    def check_writable(self) -> None:
        pass

    def open_writer(self, key: str) -> ObjectWriter:
        return _Writer(self, key)

    def _bytes(self, key: str) -> bytes:
        self.gets.append(key)
        if key in self.objects:
            return self.objects[key]
        if self.make is not None and key in self.made:
            return self.make(key)
        raise NotFoundError(f"no object {key}")

    def get(self, key: str, limit: int | None = None) -> bytes:
        return self.read_bounded(key, io.BytesIO(self._bytes(key)), limit)

    def open_reader(self, key: str):
        return io.BytesIO(self._bytes(key))

    def exists(self, key: str) -> bool:
        return key in self.objects or key in self.made

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in [*self.objects, *self.made] if k.startswith(prefix)))
