"""Reading a table's DynamoDB stream: its shards, iterators and records, in wire JSON.

Calls, all through `TableClient.call` (aws/retry.py for throttling — DynamoDB Streams says
LimitExceededException — 5xx and resets; aws/error_translation.py for the rest), on a client made
by aws/session.py, so endpoints follow boto3's rules (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_DYNAMODB_STREAMS):

- DescribeStream, paginated with ExclusiveStartShardId, at most MAX_DESCRIBE_PAGES pages and
  MAX_SHARDS shards (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_DescribeStream.html);
- GetShardIterator (TRIM_HORIZON or AFTER_SEQUENCE_NUMBER; API_streams_GetShardIterator.html);
- GetRecords with Limit 1000, the body kept as bytes (dynamodb/raw_json.py) and each record
  re-serialised by orjson as one line (API_streams_GetRecords.html).

The conditions a follower acts on instead of failing are raised as StreamBreak (a subclass of
AwsError, so anything that does not catch it still fails cleanly): its `code` is
ExpiredIteratorException, TrimmedDataAccessException or ResourceNotFoundException.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import orjson
from botocore.exceptions import ClientError

from ..aws.error_translation import malformed_response
from ..aws.session import client
from ..errors import AwsError
from ..format.change_log import check_shard_id
from .raw_json import RAW_BODY, keep_raw_responses
from .table_client import TableClient

log = logging.getLogger(__name__)
MAX_DESCRIBE_PAGES = 1_000  # DescribeStream returns up to 100 shards a page
MAX_SHARDS = 10_000
RECORDS_PER_CALL = 1_000  # GetRecords' largest Limit
BREAK_CODES = ("ExpiredIteratorException", "TrimmedDataAccessException", "ResourceNotFoundException")


class StreamBreak(AwsError):
    """GetShardIterator or GetRecords answered one of BREAK_CODES; `code` says which."""


@dataclass(frozen=True)
class Shard:
    """One shard of DescribeStream: its id, parent (None: none) and whether it is closed (its
    SequenceNumberRange has an EndingSequenceNumber)."""

    shard_id: str
    parent_shard_id: str | None
    closed: bool


@dataclass(frozen=True)
class StreamInfo:
    arn: str
    label: str
    status: str  # ENABLED, ENABLING, DISABLED, DISABLING
    view_type: str
    created_s: float | None  # CreationRequestDateTime, epoch seconds
    shards: tuple[Shard, ...]


@dataclass
class RecordsPage:
    lines: list[bytes]  # each record, orjson-serialised, in shard order
    next_iterator: str | None  # None: the shard is closed and read to its end
    body_bytes: int


def _shards_of(description: object, stream_arn: str) -> list[Shard]:
    """The Shards of one DescribeStream page, each id (and parent id) one the change log can
    name (format.change_log.check_shard_id); AwsError (malformed response) otherwise."""
    shards = description.get("Shards", []) if isinstance(description, dict) else None
    if not isinstance(shards, list) or not all(isinstance(s, dict) for s in shards):
        raise malformed_response(action="DescribeStream", resource=stream_arn, reason="Shards is not a list of shards")
    found = []
    for shard in shards:
        try:
            shard_id = check_shard_id(shard.get("ShardId"))
            parent = shard.get("ParentShardId")
            parent = None if parent is None else check_shard_id(parent)
        except ValueError:
            raise malformed_response(action="DescribeStream", resource=stream_arn,
                                     reason="a ShardId or ParentShardId is not a shard id") from None
        ranges = shard.get("SequenceNumberRange")
        found.append(Shard(shard_id, parent, isinstance(ranges, dict) and "EndingSequenceNumber" in ranges))
    return found


class StreamSource(TableClient):
    """The table (DescribeTable, through TableClient) and its stream (a dynamodbstreams client)."""

    def __init__(self, session, table: str, **kwargs):
        super().__init__(session, table, **kwargs)
        self.streams = client(session, "dynamodbstreams", stats=self.stats)
        keep_raw_responses(self.streams, "GetRecords")

    def describe_table(self) -> dict:
        table = self.call("DescribeTable", lambda: self.client.describe_table(TableName=self.table))["Table"]
        self.arn = table.get("TableArn", self.arn)
        return table

    def describe_stream(self, stream_arn: str) -> StreamInfo:
        """Every page of DescribeStream; raises AwsError when the pages do not end within the
        bounds or repeat a shard."""
        shards: dict[str, Shard] = {}
        start, description = None, {}
        for _ in range(MAX_DESCRIBE_PAGES):
            args = {"StreamArn": stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self._stream_call("DescribeStream", stream_arn,
                                            lambda: self.streams.describe_stream(**args))["StreamDescription"]
            for shard in _shards_of(description, stream_arn):
                shards[shard.shard_id] = shard
            next_start = description.get("LastEvaluatedShardId")
            if not next_start:
                break
            if next_start == start or len(shards) > MAX_SHARDS:
                raise malformed_response(action="DescribeStream", resource=stream_arn,
                                         reason=f"its pages repeat or list more than {MAX_SHARDS:,} shards")
            start = next_start
        else:
            raise malformed_response(action="DescribeStream", resource=stream_arn,
                                     reason=f"more than {MAX_DESCRIBE_PAGES:,} pages")
        created = description.get("CreationRequestDateTime")
        return StreamInfo(stream_arn, description.get("StreamLabel", ""), description.get("StreamStatus", ""),
                          description.get("StreamViewType", ""),
                          created.timestamp() if isinstance(created, datetime) else None, tuple(shards.values()))

    def iterator(self, stream_arn: str, shard_id: str, after: str | None) -> str:
        """A shard iterator: after sequence `after`, or from TRIM_HORIZON when None. Raises
        StreamBreak (TrimmedDataAccessException: `after` is past the trim horizon)."""
        args = {"StreamArn": stream_arn, "ShardId": shard_id}
        args.update({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after
                    else {"ShardIteratorType": "TRIM_HORIZON"})
        answer = self._stream_call("GetShardIterator", f"{stream_arn} shard {shard_id}",
                                   lambda: self.streams.get_shard_iterator(**args))
        if not answer.get("ShardIterator"):
            raise malformed_response(action="GetShardIterator", resource=stream_arn, reason="no ShardIterator")
        return answer["ShardIterator"]

    def records(self, iterator: str, shard: str) -> RecordsPage:
        """One GetRecords page. Raises StreamBreak for an expired iterator, trimmed data or a
        stream that is gone."""
        answer = self._stream_call("GetRecords", shard, lambda: self.streams.get_records(
            ShardIterator=iterator, Limit=RECORDS_PER_CALL))
        body = answer.get(RAW_BODY, b"")
        try:
            page = orjson.loads(body)
            records = page.get("Records") or []
            lines = [orjson.dumps(record) for record in records]
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            raise malformed_response(action="GetRecords", resource=shard,
                                     reason="the body is not a JSON object with a Records list") from None
        next_iterator = page.get("NextShardIterator")
        if next_iterator is not None and type(next_iterator) is not str:
            raise malformed_response(action="GetRecords", resource=shard, reason="NextShardIterator is not a string")
        return RecordsPage(lines, next_iterator or None, len(body))

    def _stream_call(self, action: str, resource: str, fn):
        """fn() through call(); the break conditions become StreamBreak."""
        try:
            return self.call(action, fn, service="dynamodbstreams", resource=resource)
        except AwsError as exc:
            cause = exc.__cause__
            code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
            if code in BREAK_CODES:
                raise StreamBreak(exc.message, exc.hint, action=action, resource=resource, code=code) from cause
            raise
