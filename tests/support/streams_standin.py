"""A STAND-IN for DynamoDB Streams: a loopback HTTP server that serves the Streams API from
moto's stream records, with the shards, lineage, trimming, iterator expiry and page caps that
moto_server 5.1.22 lacks (moto: one shard, no splits, no 24 h trim, iterators that never expire,
no 1 MB page cap; see DESIGN.md). It is test code, not a model of AWS's internals: it follows what
the AWS documentation says a client sees, and nothing more.

    with StreamsStandIn(moto_url) as standin:          # a loopback HTTP server on a free port
        monkeypatch.setenv(ENDPOINT_ENV, standin.url)  # AWS_ENDPOINT_URL_DYNAMODB_STREAMS
        # DynamoDB itself (tables, writes) still goes to moto_url directly.

botocore names the per-service variable after the service id "DynamoDB Streams":
AWS_ENDPOINT_URL_DYNAMODB_STREAMS (with an underscore; AWS_ENDPOINT_URL_DYNAMODBSTREAMS is ignored).
`standin.env` is that one variable as a dict. Requests are the x-amz-json-1.0 protocol botocore's
dynamodbstreams client sends (X-Amz-Target `DynamoDBStreams_20120810.<Operation>`); signatures are
not checked; the access key and region of the Authorization header are the caller, as whom the
stand-in reads moto (moto places a caller in an account by its access key).

Where the records come from. On every call that touches a stream (and before each knob), the
stand-in reads moto's real stream for the table (DescribeStream, GetShardIterator, GetRecords on
moto's single shard, continuing where it stopped) and deals the new records, in arrival order,
into its own shards: each record goes to the open shard whose hash range holds a stable hash
(sha256) of the record's Keys, so one key stays in one shard and, after a split, in one child of
it. Each record gets the stand-in's own SequenceNumber (a decimal string of 21 digits, increasing
in steps of 100 across the stream, so consecutive records are not consecutive numbers, as on
AWS), and its ApproximateCreationDateTime floored to whole seconds (AWS's granularity; moto gives
milliseconds). The rest of each record is kept as moto gave it (eventID, eventName, Keys, images,
SizeBytes, StreamViewType...), except two moto 5.1.22 quirks repaired unless
`repair_moto_quirks = False` (see `repair_moto_record`): top-level B/BS values base64-encoded
twice, and empty OldImage (INSERT) / NewImage (REMOVE) objects that AWS leaves out.
`add_records(table, records)` adds records that no write made (taken as given).

What it serves (errors are DynamoDB's JSON errors, HTTP 400, `__type`
"com.amazonaws.dynamodb.v20120810#<Code>" and "message"; the pages cited are the "Amazon DynamoDB
Streams" part of the DynamoDB API Reference and the developer guide's "Change data capture for
DynamoDB Streams" page):
- ListStreams (API Reference "ListStreams"): moto's streams (TableName filter), paged here with
  Limit (1-100, default 100), ExclusiveStartStreamArn and LastEvaluatedStreamArn.
- DescribeStream (API Reference "DescribeStream"): StreamArn, StreamLabel, StreamStatus,
  StreamViewType, CreationRequestDateTime, TableName, KeySchema (moto's), and Shards: ShardId,
  ParentShardId (absent on the first shard), SequenceNumberRange with StartingSequenceNumber and,
  once the shard is closed, EndingSequenceNumber. Limit (1-100, default 100),
  ExclusiveStartShardId, LastEvaluatedShardId (present while more shards follow), ShardFilter
  CHILD_SHARDS. Shards are listed parents first, or children first with `list_children_first`
  (AWS promises no order). A stream moto does not have (another label) is
  ResourceNotFoundException on first sight; a stream seen before whose table moto has since
  deleted, or whose table now has another stream, turns DISABLED (its shards closed, readable).
  With `drop_trimmed_shards`, a closed shard whose records are all trimmed is no longer listed
  (and GetShardIterator on it is ResourceNotFoundException), as AWS deletes shards after 24 h: a
  child may then name a parent that DescribeStream does not list.
- GetShardIterator (API Reference "GetShardIterator"): TRIM_HORIZON (the oldest untrimmed record),
  LATEST (after the newest record), AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER (a sequence number
  older than the trim point: TrimmedDataAccessException; outside the shard's range:
  ValidationException); AT_TIMESTAMP is refused (ValidationException), as moto does. An iterator
  expires 15 minutes (`ITERATOR_TTL_S`) after it is handed out, by `now`. Unknown shard:
  ResourceNotFoundException.
- GetRecords (API Reference "GetRecords"): at most Limit (1-1000) records, at most
  `max_records_per_page` (default 1000, AWS's cap) and at most 1 MB (`max_page_bytes`, 1 MiB; a
  record's size is the length of its compact wire JSON; a page holds at least one record).
  NextShardIterator is left out (null) once a closed shard is read to its end: in the answer that
  holds its last record, or, when the shard closed after the reader reached its end, in the next
  (empty) answer. An open shard always gives a next iterator, also after an empty page. Errors:
  ExpiredIteratorException (the iterator is over 15 minutes old, or `expire_iterators()` was called
  after it was handed out), TrimmedDataAccessException (the record the iterator points at has been
  trimmed since: API Reference "TrimmedDataAccessException"), LimitExceededException
  (`throttle_next`), ValidationException (an iterator this stand-in did not make).
- Retention (developer guide: stream records are removed after 24 hours): a record older than
  24 h by `now` (`RETENTION_S`) is trimmed; `trim_before` trims earlier ones on demand.

Knobs (thread-safe; call between requests):
- `split_shard(children=2, stream_arn=None) -> list[str]`: closes every open shard (of that stream,
  or of every stream moto has) and opens `children` (1 or 2) children for each; returns the new
  shard ids. (Developer guide, "Reading and processing a stream": shards are ephemeral, any shard
  can split into new shards, and a parent shard may have just one child.)
- `trim_before(point)`: a number is seconds ago by `now` (records stamped before then are
  trimmed, in every stream, e.g. `trim_before(0)` trims every record so far); a str is a stand-in
  sequence number (records below it are trimmed). A trim never takes back what an earlier one
  trimmed, and records that arrive later are not trimmed by it.
- `disable_stream(stream_arn)`: StreamStatus DISABLED, every open shard closed, its records still
  readable (developer guide, "Enabling a stream": disabling a stream closes its open shards and its
  data stays readable for 24 hours); records moto makes later are dropped.
- `expire_iterators()`: every iterator handed out so far answers ExpiredIteratorException.
- `throttle_next(n)`: the next n GetRecords answer LimitExceededException (HTTP 400; botocore's
  standard retry mode retries it as throttling).
- `max_records_per_page` (default 1000), `max_page_bytes` (default 1 MiB), `list_children_first`
  (default False), `repair_moto_quirks` (default True), `drop_trimmed_shards` (default False).
- `now`: the clock (a callable giving epoch seconds, default time.time) for expiry and retention;
  a test may set it to `lambda: time.time() + 25 * 3600`.
- Read-outs: `records_served` (records GetRecords returned), `calls` (operation names in arrival
  order, throttled and failed ones included), `shards(stream_arn)` (DescribeStream's Shards).

Bounds: at most MAX_SHARDS shards a stream; a moto read stops at MAX_SYNC_PAGES pages a call.
Records are kept in memory for the stand-in's life (tests keep tables small).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import http.client
import json
import math
import os
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Callable
from urllib.parse import urlsplit

import pytest

from tests.support.export_standin import PREFIX, ApiError, Caller, _caller
from tests.support.loopback import LoopbackServer

TARGET = "DynamoDBStreams_20120810."
ENDPOINT_ENV = "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"
MAX_PAGE_RECORDS = 1000
MAX_PAGE_BYTES = 1024 * 1024
ITERATOR_TTL_S = 15 * 60
RETENTION_S = 24 * 3600
SEQ_BASE, SEQ_STEP = 4 * 10**20, 100  # 21-digit sequence numbers
HASH_SPACE = 2**32
MAX_SHARDS = 1000
MAX_SYNC_PAGES = 1000
MAX_LIST_LIMIT = 100


@dataclass
class Record:
    seq: int
    time_s: int
    wire: dict  # the record as GetRecords returns it
    size: int  # bytes of its wire JSON, for the page cap


@dataclass
class Shard:
    shard_id: str
    parent_id: str | None
    start: int
    lo: int  # hash range [lo, hi) of the keys it takes while open
    hi: int
    end: int | None = None  # EndingSequenceNumber once closed
    records: list[Record] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)  # records' seq, for bisect

    def to_json(self) -> dict:
        shard = {"ShardId": self.shard_id, "SequenceNumberRange": {"StartingSequenceNumber": str(self.start)}}
        if self.end is not None:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = str(self.end)
        if self.parent_id:
            shard["ParentShardId"] = self.parent_id
        return shard


@dataclass
class Stream:
    arn: str
    caller: Caller
    description: dict  # moto's StreamDescription without Shards
    moto_shard: str
    shards: dict[str, Shard] = field(default_factory=dict)  # in creation order
    next_seq: int = SEQ_BASE
    moto_iterator: str | None = None
    trim_seq: int = 0  # records below it are trimmed (trim_before)

    def allocate(self) -> int:
        seq, self.next_seq = self.next_seq, self.next_seq + SEQ_STEP
        return seq

    def open_shards(self) -> list[Shard]:
        return [s for s in self.shards.values() if s.end is None]


def key_hash(keys: dict) -> int:
    """A stable hash of a record's Keys in [0, HASH_SPACE): the same key, the same shard."""
    canonical = json.dumps(keys, sort_keys=True, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(canonical).digest()[:4], "big")


def repair_moto_record(record: dict) -> dict:
    """The record as AWS would send it, from moto 5.1.22's: top-level B and BS values of Keys,
    NewImage and OldImage are base64 twice in moto's stream (nested ones in M and L are right), and
    moto sends an empty OldImage on INSERT and an empty NewImage on REMOVE, where AWS sends none."""
    dynamodb = dict(record["dynamodb"])
    for image in ("Keys", "NewImage", "OldImage"):
        if image not in dynamodb:
            continue
        if not dynamodb[image] and image != "Keys":
            del dynamodb[image]
            continue
        dynamodb[image] = {name: _decode_once(value) for name, value in dynamodb[image].items()}
    return {**record, "dynamodb": dynamodb}


def _decode_once(value: dict) -> dict:
    if "B" in value:
        return {"B": base64.b64decode(value["B"]).decode("ascii")}
    if "BS" in value:
        return {"BS": [base64.b64decode(v).decode("ascii") for v in value["BS"]]}
    return value


class StreamsStandIn(LoopbackServer):
    def __init__(self, moto_url: str, *, region: str = "us-east-1", access_key: str = "testing"):
        self.upstream = urlsplit(moto_url)
        self.default_caller = Caller(access_key, region)  # for knobs on streams not yet seen
        self.now: Callable[[], float] = time.time
        self.max_records_per_page = MAX_PAGE_RECORDS
        self.max_page_bytes = MAX_PAGE_BYTES
        self.list_children_first = False
        self.repair_moto_quirks = True
        self.drop_trimmed_shards = False
        self.records_served = 0
        self.calls: list[str] = []
        self.streams: dict[str, Stream] = {}
        self._throttle = 0
        self._serial = 0  # iterators get increasing serials; those below _expired_below are expired
        self._expired_below = 0
        self._lock = threading.RLock()
        super().__init__(_handler(self))

    @property
    def env(self) -> dict[str, str]:
        return {ENDPOINT_ENV: self.url}

    # -- knobs
    def split_shard(self, children: int = 2, stream_arn: str | None = None) -> list[str]:
        """Close the open shards of one stream (or of every enabled stream moto has) and open
        `children` children for each (a shard whose hash range cannot halve gets one). Returns the
        new shard ids. Raises ValueError for a disabled stream named, or children not 1 or 2."""
        if children not in (1, 2):
            raise ValueError("children is 1 or 2")
        with self._lock:
            created = []
            for stream in self._knob_streams(stream_arn):
                if stream_arn is not None and stream.description.get("StreamStatus") != "ENABLED":
                    raise ValueError(f"the stream {stream_arn} is disabled: no shard of it splits")
                for shard in stream.open_shards():
                    created += self._split(stream, shard, children)
            return created

    def trim_before(self, point: float | int | str) -> None:
        """Trim records stamped more than `point` seconds ago (a number), or below sequence `point`
        (a str), in every stream; see the module docstring."""
        with self._lock:
            for stream in self._knob_streams(None):
                if isinstance(point, str):
                    horizon = int(point)
                else:
                    cutoff = self.now() - float(point)
                    stamped = [r for s in stream.shards.values() for r in s.records]
                    horizon = max((r.seq + 1 for r in stamped if r.time_s < cutoff), default=0)
                stream.trim_seq = max(stream.trim_seq, horizon)

    def expire_iterators(self) -> None:
        with self._lock:
            self._expired_below = self._serial

    def throttle_next(self, n: int) -> None:
        with self._lock:
            self._throttle = n

    def disable_stream(self, stream_arn: str) -> None:
        """Turn the stream DISABLED, as UpdateTable StreamEnabled=false (or DeleteTable) does on AWS:
        its open shards close, its records stay readable (24 h), records moto makes later are not
        taken. moto itself cannot disable a stream usefully (later writes fail)."""
        with self._lock:
            stream = self._knob_streams(stream_arn)[0]
            self._close(stream)

    def add_records(self, table: str, records: list[dict]) -> list[str]:
        """Add records in GetRecords' wire form (at least `dynamodb.Keys`) to the table's stream, after
        what moto has; missing fields are filled (eventID, eventName MODIFY, eventSource, eventVersion,
        awsRegion, ApproximateCreationDateTime = now, SizeBytes, StreamViewType). Returns their
        sequence numbers."""
        with self._lock:
            arn = self._moto(self.default_caller, "DescribeTable", {"TableName": table}, dynamodb=True)
            stream = self._stream(self.default_caller, arn["Table"]["LatestStreamArn"])
            self._sync(stream)
            return [self._deal(stream, self._filled(stream, record)) for record in records]

    def shards(self, stream_arn: str) -> list[dict]:
        with self._lock:
            return [s.to_json() for s in self._stream(self.default_caller, stream_arn).shards.values()]

    # -- moto
    def _moto(self, caller: Caller, op: str, body: dict, *, dynamodb: bool = False) -> dict:
        """One call to moto, raw JSON in and out; an error answer is raised as ApiError."""
        target = f"DynamoDB_20120810.{op}" if dynamodb else TARGET + op
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": target,
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={caller.access_key}/20200101/{caller.region}"
                                    "/dynamodb/aws4_request, SignedHeaders=host, Signature=0"}
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request("POST", "/", body=json.dumps(body).encode(), headers=headers)
            response = conn.getresponse()
            status, payload = response.status, response.read()
        finally:
            conn.close()
        answer = json.loads(payload or b"{}")
        if status != 200:
            raise ApiError(str(answer.get("__type", "")).rpartition("#")[2] or str(status),
                           answer.get("message") or answer.get("Message") or "")
        return answer

    def _stream(self, caller: Caller, arn: str) -> Stream:
        """The stand-in's state of a stream moto has (created on first sight, with one open shard)."""
        if arn in self.streams:
            return self.streams[arn]
        if not isinstance(arn, str) or ":table/" not in arn or "/stream/" not in arn:
            raise ApiError("ValidationException", "StreamArn is not a stream ARN")
        try:
            description = dict(self._moto(caller, "DescribeStream", {"StreamArn": arn})["StreamDescription"])
        except ApiError as exc:
            raise ApiError("ResourceNotFoundException", f"Requested resource not found: Stream: {arn} not found"
                           ) from exc
        if description.get("StreamLabel") != arn.rpartition("/stream/")[2] or not description.get("Shards"):
            raise ApiError("ResourceNotFoundException", f"Requested resource not found: Stream: {arn} not found")
        moto_shard = description.pop("Shards")[0]["ShardId"]
        description["StreamArn"] = arn
        stream = self.streams[arn] = Stream(arn, caller, description, moto_shard)
        self._open(stream, None, 0, HASH_SPACE)
        return stream

    def _moto_has(self, stream: Stream) -> bool:
        """Whether moto's table still has this stream (moto answers DescribeStream by table name)."""
        try:
            label = self._moto(stream.caller, "DescribeStream", {"StreamArn": stream.arn})["StreamDescription"]
        except ApiError:
            return False
        return label.get("StreamLabel") == stream.description.get("StreamLabel")

    def _knob_streams(self, stream_arn: str | None) -> list[Stream]:
        """The streams a knob acts on, each synced: one, or every stream moto lists (default caller)
        and every stream seen."""
        if stream_arn is not None:
            arns = [stream_arn]
        else:
            listed = self._moto(self.default_caller, "ListStreams", {}).get("Streams", [])
            arns = list(dict.fromkeys([s["StreamArn"] for s in listed] + list(self.streams)))
        streams = []
        for arn in arns:
            stream = self._stream(self.streams[arn].caller if arn in self.streams else self.default_caller, arn)
            self._sync(stream)
            streams.append(stream)
        return streams

    def _sync(self, stream: Stream) -> None:
        """Deal the records moto added to the stream since the last sync (bounded: MAX_SYNC_PAGES)."""
        if stream.moto_iterator is None:
            stream.moto_iterator = self._moto(stream.caller, "GetShardIterator", {
                "StreamArn": stream.arn, "ShardId": stream.moto_shard,
                "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        for _ in range(MAX_SYNC_PAGES):
            page = self._moto(stream.caller, "GetRecords", {"ShardIterator": stream.moto_iterator})
            stream.moto_iterator = page.get("NextShardIterator") or stream.moto_iterator
            for record in page.get("Records", []):
                if stream.description.get("StreamStatus") == "ENABLED":  # a disabled stream takes no more
                    self._deal(stream, repair_moto_record(record) if self.repair_moto_quirks else record)
            if not page.get("Records"):
                return

    def _filled(self, stream: Stream, record: dict) -> dict:
        dynamodb = dict(record["dynamodb"])
        dynamodb.setdefault("ApproximateCreationDateTime", self.now())
        dynamodb.setdefault("StreamViewType", stream.description.get("StreamViewType"))
        dynamodb.setdefault("SizeBytes", len(json.dumps(dynamodb)))
        filled = {"eventID": os.urandom(16).hex(), "eventName": "MODIFY", "eventVersion": "1.1",
                  "eventSource": "aws:dynamodb", "awsRegion": stream.caller.region, **record}
        filled["dynamodb"] = dynamodb
        return filled

    def _deal(self, stream: Stream, record: dict) -> str:
        """Put one record into the open shard that takes its key; returns its sequence number."""
        h = key_hash(record["dynamodb"]["Keys"])
        shard = next(s for s in stream.open_shards() if s.lo <= h < s.hi)
        seq = stream.allocate()
        dynamodb = dict(record["dynamodb"])
        dynamodb["SequenceNumber"] = str(seq)
        dynamodb["ApproximateCreationDateTime"] = math.floor(float(dynamodb["ApproximateCreationDateTime"]))
        wire = {**record, "dynamodb": dynamodb}
        shard.records.append(Record(seq, dynamodb["ApproximateCreationDateTime"], wire,
                                    len(json.dumps(wire, separators=(",", ":")))))
        shard.seqs.append(seq)
        return str(seq)

    def _open(self, stream: Stream, parent: str | None, lo: int, hi: int) -> Shard:
        if len(stream.shards) >= MAX_SHARDS:
            raise ValueError(f"the stand-in keeps at most {MAX_SHARDS} shards a stream")
        start = stream.allocate()
        suffix = hashlib.sha256(f"{stream.arn}|{start}".encode()).hexdigest()[:8]
        shard = Shard(f"shardId-{int(self.now() * 1000):020d}-{suffix}", parent, start, lo, hi)
        stream.shards[shard.shard_id] = shard
        return shard

    def _close(self, stream: Stream) -> None:
        for shard in stream.open_shards():
            shard.end = shard.seqs[-1] if shard.seqs else shard.start
        stream.description["StreamStatus"] = "DISABLED"

    def _split(self, stream: Stream, shard: Shard, children: int) -> list[str]:
        shard.end = shard.seqs[-1] if shard.seqs else shard.start
        if children == 1 or shard.hi - shard.lo < 2:
            return [self._open(stream, shard.shard_id, shard.lo, shard.hi).shard_id]
        mid = (shard.lo + shard.hi) // 2
        return [self._open(stream, shard.shard_id, shard.lo, mid).shard_id,
                self._open(stream, shard.shard_id, mid, shard.hi).shard_id]

    # -- trimming and iterators
    def _trimmed(self, stream: Stream, record: Record) -> bool:
        return record.seq < stream.trim_seq or record.time_s < self.now() - RETENTION_S

    def _gone(self, stream: Stream, shard: Shard) -> bool:
        """With `drop_trimmed_shards`: a closed shard none of whose records is readable any more."""
        if not self.drop_trimmed_shards or shard.end is None:
            return False
        return self._trimmed(stream, shard.records[-1]) if shard.records else shard.end < stream.trim_seq

    def _trim_point(self, stream: Stream, shard: Shard) -> int:
        """The lowest sequence still readable in the shard: after its last trimmed record."""
        trimmed = [r.seq for r in shard.records if self._trimmed(stream, r)]
        return trimmed[-1] + 1 if trimmed else shard.start

    def _iterator(self, stream: Stream, shard: Shard, position: int) -> str:
        """An opaque iterator: reading starts at the first record with seq >= position."""
        self._serial += 1
        token = json.dumps([stream.arn, shard.shard_id, position, self.now(), self._serial])
        return base64.urlsafe_b64encode(token.encode()).decode()

    def _read_iterator(self, token: object) -> tuple[Stream, Shard, int]:
        try:
            arn, shard_id, position, issued, serial = json.loads(base64.urlsafe_b64decode(str(token)))
            stream, shard = self.streams[arn], self.streams[arn].shards[shard_id]
        except (ValueError, TypeError, KeyError):
            raise ApiError("ValidationException", "Invalid ShardIterator") from None
        if serial <= self._expired_below or self.now() - issued > ITERATOR_TTL_S:
            raise ApiError("ExpiredIteratorException", "Iterator expired. The iterator was created at time "
                           f"{time.strftime('%a %b %d %H:%M:%S UTC %Y', time.gmtime(issued))}")
        return stream, shard, int(position)

    # -- the four operations
    def handle(self, op: str, caller: Caller, body: dict) -> dict:
        with self._lock:
            self.calls.append(op)
            if op == "ListStreams":
                return self.list_streams(caller, body)
            if op == "DescribeStream":
                return self.describe_stream(caller, body)
            if op == "GetShardIterator":
                return self.get_shard_iterator(caller, body)
            if op == "GetRecords":
                return self.get_records(body)
            raise ApiError("UnknownOperationException", f"the streams stand-in does not serve {op}")

    def list_streams(self, caller: Caller, body: dict) -> dict:
        request = {"TableName": body["TableName"]} if body.get("TableName") else {}
        arns = [s for s in self._moto(caller, "ListStreams", request).get("Streams", [])]
        page, more = _page(arns, lambda s: s["StreamArn"], body.get("ExclusiveStartStreamArn"),
                           _limit(body, MAX_LIST_LIMIT, MAX_LIST_LIMIT))
        return {"Streams": page, **({"LastEvaluatedStreamArn": page[-1]["StreamArn"]} if more else {})}

    def describe_stream(self, caller: Caller, body: dict) -> dict:
        stream = self._stream(caller, body.get("StreamArn"))
        self._sync(stream)
        if stream.description.get("StreamStatus") == "ENABLED" and not self._moto_has(stream):
            self._close(stream)  # the table was deleted or its stream replaced: AWS shows it DISABLED
        shards = [s for s in stream.shards.values() if not self._gone(stream, s)]
        if self.list_children_first:
            shards.reverse()
        shard_filter = body.get("ShardFilter")
        if shard_filter:
            if shard_filter.get("Type") != "CHILD_SHARDS" or not shard_filter.get("ShardId"):
                raise ApiError("ValidationException", "ShardFilter: Type CHILD_SHARDS with a ShardId")
            shards = [s for s in shards if s.parent_id == shard_filter["ShardId"]]
        page, more = _page(shards, lambda s: s.shard_id, body.get("ExclusiveStartShardId"),
                           _limit(body, MAX_LIST_LIMIT, MAX_LIST_LIMIT))
        description = {**stream.description, "Shards": [s.to_json() for s in page]}
        if more:
            description["LastEvaluatedShardId"] = page[-1].shard_id
        return {"StreamDescription": description}

    def get_shard_iterator(self, caller: Caller, body: dict) -> dict:
        stream = self._stream(caller, body.get("StreamArn"))
        self._sync(stream)
        shard = stream.shards.get(body.get("ShardId"))
        if shard is None or self._gone(stream, shard):
            raise ApiError("ResourceNotFoundException", "Requested resource not found: Shard does not exist")
        kind = body.get("ShardIteratorType")
        if kind == "TRIM_HORIZON":
            return {"ShardIterator": self._iterator(stream, shard, self._trim_point(stream, shard))}
        if kind == "LATEST":
            return {"ShardIterator": self._iterator(stream, shard, (shard.seqs[-1] + 1) if shard.seqs else shard.start)}
        if kind not in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            raise ApiError("ValidationException", f"ShardIteratorType {kind} is not served by the stand-in")
        raw = body.get("SequenceNumber")
        if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > 40:
            raise ApiError("ValidationException", "SequenceNumber must be a decimal string of at most 40 digits")
        seq = int(raw)
        if seq < shard.start or (shard.end is not None and seq > shard.end):
            raise ApiError("ValidationException", f"Invalid SequenceNumber {raw} for shard {shard.shard_id}")
        if seq < self._trim_point(stream, shard):
            raise ApiError("TrimmedDataAccessException", f"Sequence number {raw} is older than the trim point "
                                                         f"of shard {shard.shard_id}")
        return {"ShardIterator": self._iterator(stream, shard, seq + (kind == "AFTER_SEQUENCE_NUMBER"))}

    def get_records(self, body: dict) -> dict:
        if self._throttle > 0:
            self._throttle -= 1
            raise ApiError("LimitExceededException", "Rate exceeded for shard")
        limit = _limit(body, MAX_PAGE_RECORDS, MAX_PAGE_RECORDS)
        stream, shard, position = self._read_iterator(body.get("ShardIterator"))
        self._sync(stream)
        i = bisect.bisect_left(shard.seqs, position)
        if i < len(shard.records) and self._trimmed(stream, shard.records[i]):
            raise ApiError("TrimmedDataAccessException", "The iterator points at a record that was trimmed")
        page, size = [], 0
        while i < len(shard.records) and len(page) < min(limit, self.max_records_per_page):
            record = shard.records[i]
            if page and size + record.size > self.max_page_bytes:
                break
            page.append(record.wire)
            size += record.size
            i += 1
        self.records_served += len(page)
        if shard.end is not None and i == len(shard.records):
            return {"Records": page}  # no NextShardIterator: the closed shard is read to its end
        position = shard.records[i - 1].seq + 1 if page else position
        return {"Records": page, "NextShardIterator": self._iterator(stream, shard, position)}


def _limit(body: dict, default: int, cap: int) -> int:
    limit = body.get("Limit", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= cap:
        raise ApiError("ValidationException", f"Limit must be between 1 and {cap}")
    return limit


def _page(items: list, key, exclusive_start: str | None, limit: int) -> tuple[list, bool]:
    """Items after `exclusive_start` (by key), at most `limit`, and whether more follow."""
    start = 0
    if exclusive_start is not None:
        keys = [key(item) for item in items]
        if exclusive_start not in keys:
            raise ApiError("ValidationException", f"the exclusive start {exclusive_start} is not in the list")
        start = keys.index(exclusive_start) + 1
    return items[start:start + limit], len(items) > start + limit


def _request(target: str, body: bytes) -> dict:
    if not target.startswith(TARGET):
        raise ApiError("UnknownOperationException", f"the streams stand-in serves {TARGET}* only "
                                                    "(DynamoDB itself: point it at moto)")
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        raise ApiError("SerializationException", "the request body is not JSON") from None
    if not isinstance(request, dict):
        raise ApiError("SerializationException", "the request body is not a JSON object")
    return request


def _handler(standin: StreamsStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target") or ""
            try:
                request = _request(target, body)
                answer, status = standin.handle(target[len(TARGET):], _caller(self.headers), request), 200
            except ApiError as exc:
                answer, status = {"__type": PREFIX + exc.code, "message": exc.message}, 400
            except Exception as exc:  # a stand-in bug: say so, do not drop the connection
                answer, status = {"__type": PREFIX + "InternalServerError",
                                  "message": f"stand-in failure: {type(exc).__name__}"}, 500
            payload = json.dumps(answer).encode()
            self.send_response_only(status)
            for name, value in (("Content-Type", "application/x-amz-json-1.0"),
                                ("x-amzn-RequestId", os.urandom(16).hex().upper()),
                                ("x-amz-crc32", str(zlib.crc32(payload))), ("Content-Length", str(len(payload)))):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler


@pytest.fixture
def standin(aws_env, monkeypatch):
    """The one pytest fixture of the stand-in: stream calls go to a StreamsStandIn over the
    module's moto_server (aws_env); DynamoDB itself stays on moto. A test module imports it by
    name (`from tests.support.streams_standin import standin`)."""
    with StreamsStandIn(aws_env) as server:
        monkeypatch.setenv(ENDPOINT_ENV, server.url)
        yield server
