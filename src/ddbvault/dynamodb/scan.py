"""Reading a DynamoDB table: its description, TTL and tags, and parallel Scan pages.

The hot path keeps Scan responses in DynamoDB's wire JSON (dynamodb/raw_json.py): botocore would
otherwise walk every attribute of every item through its shape model, which costs about four
times the CPU of the HTTP request itself. The raw body is parsed with orjson instead.

A Scan page that cannot be used is an AwsError naming the table and segment, never a crash or a
loop: a body that is not a JSON object, or a LastEvaluatedKey equal to the ExclusiveStartKey the
page was asked for (the scan would never advance).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from botocore.exceptions import ClientError

from ..aws.error_translation import malformed_response
from .raw_json import RAW_BODY, keep_raw_responses
from ..format.codec import key_for_client
from ..capacity.limiter import RateLimiterCancelled
from ..capacity.read_plan import PageSizer, units_from_bytes
from .table_client import TableClient

log = logging.getLogger(__name__)
# Operations a server may simply not implement (dynalite has no TTL API).
UNSUPPORTED_CODES = ("UnknownOperationException", "NotImplementedError", "InvalidAction")


@dataclass
class ScanPage:
    items: list[dict]  # wire form
    last_evaluated_key: dict | None  # wire form; None at the end of the segment
    consumed_rcu: float | None  # ConsumedCapacity.CapacityUnits, None if the server did not say
    body_bytes: int
    estimated: bool = False  # consumed_rcu was estimated from body_bytes (read_page only)


class TableSource(TableClient):
    def __init__(self, session, table: str, **kwargs):
        super().__init__(session, table, **kwargs)
        keep_raw_responses(self.client, "Scan")

    def describe(self) -> dict:
        table = self.call("DescribeTable", lambda: self.client.describe_table(TableName=self.table))["Table"]
        self.arn = table.get("TableArn", self.arn)
        return table

    def _optional(self, action: str, fn):
        """Call fn(); None if the server does not implement the operation (never if denied)."""
        try:
            return self.call(action, fn)
        except Exception as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response["Error"].get("Code") in UNSUPPORTED_CODES:
                log.warning("%s is not supported by this endpoint; not recorded", action)
                return None
            raise

    def time_to_live(self) -> dict | None:
        response = self._optional("DescribeTimeToLive",
                                  lambda: self.client.describe_time_to_live(TableName=self.table))
        return None if response is None else response.get("TimeToLiveDescription", {})

    def tags(self) -> list[dict] | None:
        tags: list[dict] = []
        token = None
        while True:
            args = {"ResourceArn": self.arn, **({"NextToken": token} if token else {})}
            response = self._optional("ListTagsOfResource",
                                      lambda: self.client.list_tags_of_resource(**args))
            if response is None:
                return None
            tags.extend(response.get("Tags", []))
            previous, token = token, response.get("NextToken")
            if not token:
                return tags
            if token == previous:  # the same page again: the listing would never end
                raise malformed_response(action="ListTagsOfResource", resource=self.arn,
                                         reason="the same NextToken was returned twice")

    def scan_page(self, segment: int, total: int, exclusive_start_key: dict | None, limit: int | None,
                  consistent: bool) -> ScanPage:
        args = {"TableName": self.table, "Segment": segment, "TotalSegments": total,
                "ConsistentRead": consistent, "ReturnConsumedCapacity": "TOTAL"}
        if exclusive_start_key:
            args["ExclusiveStartKey"] = key_for_client(exclusive_start_key)
        if limit:
            args["Limit"] = limit
        response = self.call("Scan", lambda: self.client.scan(**args))
        raw = response[RAW_BODY]
        page = self._parse_page(raw, f"segment {segment} of {total}")
        if page.last_evaluated_key is not None and page.last_evaluated_key == exclusive_start_key:
            raise malformed_response(action="Scan", resource=self.arn, reason=(
                f"segment {segment} of {total} returned its ExclusiveStartKey as LastEvaluatedKey, "
                "so the scan would never advance"))
        return page

    def _parse_page(self, raw: bytes, segment: str) -> ScanPage:
        """The page in a Scan response body; AwsError if it is not a Scan response."""
        try:
            body = orjson.loads(raw)
            items, last_evaluated_key = body.get("Items", []), body.get("LastEvaluatedKey")
            consumed_rcu = (body.get("ConsumedCapacity") or {}).get("CapacityUnits")
            if not (isinstance(items, list) and isinstance(last_evaluated_key, (dict, type(None)))):
                raise TypeError("Items is not a list or LastEvaluatedKey is not an object")
        except (ValueError, TypeError, AttributeError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise malformed_response(action="Scan", resource=self.arn,
                                     reason=f"{segment}: {type(exc).__name__}: {str(exc)[:120]}") from None
        return ScanPage(items, last_evaluated_key, consumed_rcu, len(raw))

    def read_page(self, segment: int, total: int, exclusive_start_key: dict | None, sizer: PageSizer,
                  limiter, consistent: bool) -> ScanPage:
        """One Scan page within the read cap (invariant 4): `sizer` chooses its Limit and what
        `limiter` reserves before the call, then learns from the page. Raises
        RateLimiterCancelled once the run is cancelled."""
        limit, reserved = sizer.plan()
        page: ScanPage | None = None
        try:
            page = self._reserved_scan(limiter, reserved, segment, total, exclusive_start_key, limit, consistent)
            return page
        finally:  # every plan() is followed by one observe(), also when nothing was read
            sizer.observe(page.items if page else [], page.consumed_rcu if page else 0.0)

    def _reserved_scan(self, limiter, reserved: float, segment: int, total: int, exclusive_start_key: dict | None,
                       limit: int | None, consistent: bool) -> ScanPage:
        """scan_page() inside a reservation of `limiter`, which is then charged with the page's
        real ConsumedCapacity (an estimate from its size when the server reports none), or
        with the whole reservation if the call failed, since what it read is unknown."""
        limiter.acquire(reserved)
        try:
            if self.cancelled.is_set():
                raise RateLimiterCancelled()
            page = self.scan_page(segment, total, exclusive_start_key, limit, consistent)
        except BaseException:
            limiter.settle(reserved, reserved)
            raise
        if page.consumed_rcu is None:
            page.consumed_rcu, page.estimated = units_from_bytes(page.body_bytes, consistent), True
        limiter.settle(reserved, page.consumed_rcu)
        return page
