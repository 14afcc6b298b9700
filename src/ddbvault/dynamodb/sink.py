"""Writing a DynamoDB table: create it, wait for it, and BatchWriteItem in raw wire JSON.

BatchWriteItem bodies are built from PutRequest elements that orjson serialised from checked
items (dataline.encode_put): never from a backup line's own bytes, so no line can add anything
to a request but its one item. botocore's walk over every attribute is skipped (dynamodb/raw_json.py),
and the response keeps UnprocessedItems in wire form.
"""

from __future__ import annotations

import logging
import time

import orjson

from .raw_json import RAW_BODY, keep_raw_responses, raw_request, send_raw_requests
from ..errors import AwsError, NotFoundError
from .table_client import TableClient

log = logging.getLogger(__name__)
# Placeholder parameters: botocore validates them, then the raw body replaces them.
_PLACEHOLDER_ITEM = {"PutRequest": {"Item": {"_": {"NULL": True}}}}


def put_requests_body(table: str, requests: list[bytes]) -> bytes:
    """A BatchWriteItem JSON body around PutRequest elements, each a complete JSON value that
    orjson produced (dataline.encode_put, or orjson.dumps of an UnprocessedItems element)."""
    return b"".join([b'{"RequestItems":{', orjson.dumps(table), b":[", b",".join(requests),
                     b']},"ReturnConsumedCapacity":"TOTAL"}'])


class TableSink(TableClient):
    def __init__(self, session, table: str, **kwargs):
        super().__init__(session, table, **kwargs)
        keep_raw_responses(self.client, "BatchWriteItem")
        send_raw_requests(self.client, "BatchWriteItem")

    def describe(self) -> dict | None:
        """DescribeTable's Table, or None if the table does not exist."""
        try:
            table = self.call("DescribeTable", lambda: self.client.describe_table(TableName=self.table))["Table"]
        except NotFoundError:
            return None
        self.arn = table.get("TableArn", self.arn)
        return table

    def create(self, params: dict) -> None:
        self.call("CreateTable", lambda: self.client.create_table(**params))

    def wait_active(self, timeout_s: float = 1800, poll_s: float = 0.5) -> dict:
        """Wait until the table and all its GSIs are ACTIVE; returns the description. Polls
        quickly at first (local servers and small tables are ready in milliseconds), then
        every `poll_s`."""
        deadline = time.monotonic() + timeout_s
        delay = 0.02
        while True:
            table = self.describe() or {}
            indexes = table.get("GlobalSecondaryIndexes") or []
            if table.get("TableStatus") == "ACTIVE" and all(i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes):
                return table
            if time.monotonic() > deadline:
                raise AwsError(f"table {self.table} not ACTIVE after {timeout_s:.0f}s "
                               f"(status {table.get('TableStatus')})", action="DescribeTable",
                               resource=self.arn, code="Timeout")
            time.sleep(delay)
            delay = min(delay * 2, poll_s)

    def enable_ttl(self, attribute: str) -> None:
        """UpdateTimeToLive, then wait until TTL is ENABLED."""
        self.call("UpdateTimeToLive", lambda: self.client.update_time_to_live(
            TableName=self.table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}))
        self.wait_ttl()

    def wait_ttl(self, timeout_s: float = 600, poll_s: float = 1.0) -> None:
        """Poll DescribeTimeToLive until TTL is ENABLED."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.call("DescribeTimeToLive", lambda: self.client.describe_time_to_live(
                TableName=self.table))["TimeToLiveDescription"].get("TimeToLiveStatus")
            if status == "ENABLED":
                return
            if time.monotonic() > deadline:
                raise AwsError(f"TTL on {self.table} still {status} after {timeout_s:.0f}s",
                               action="DescribeTimeToLive", resource=self.arn, code="Timeout")
            time.sleep(poll_s)

    def tag(self, tags: list[dict]) -> None:
        self.call("TagResource", lambda: self.client.tag_resource(ResourceArn=self.arn, Tags=tags))

    def update(self, update: dict) -> None:
        self.call("UpdateTable", lambda: self.client.update_table(TableName=self.table, **update))

    def is_empty(self) -> bool:
        page = self.call("Scan", lambda: self.client.scan(TableName=self.table, Limit=1, Select="COUNT"))
        return page.get("Count", 0) == 0 and not page.get("LastEvaluatedKey")

    def batch_write(self, requests: list[bytes]) -> tuple[list[dict], float | None]:
        """One BatchWriteItem (<= 25 PutRequests as orjson-serialised bytes, see put_requests_body).
        Returns the UnprocessedItems' requests (wire form) and the WCU consumed (None if the
        server did not say). Raises AwsError (code ValidationException when the table refuses
        the request: its message may quote item values, so callers must not print it)."""
        body = put_requests_body(self.table, requests)

        def send():
            with raw_request(body):
                return self.client.batch_write_item(RequestItems={self.table: [_PLACEHOLDER_ITEM]})

        response = orjson.loads(self.call("BatchWriteItem", send)[RAW_BODY])
        unprocessed = (response.get("UnprocessedItems") or {}).get(self.table, [])
        consumed = response.get("ConsumedCapacity")
        units = sum(c.get("CapacityUnits", 0) for c in consumed) if consumed else None
        return unprocessed, units
