"""Reading a DynamoDB table: its description, TTL and tags, and parallel Scan pages.

The hot path keeps Scan responses in DynamoDB's wire JSON (dynamodb/raw_json.py): botocore would
otherwise walk every attribute of every item through its shape model, which costs about four
times the CPU of the HTTP request itself. The raw body is parsed with orjson instead.

A Scan page that cannot be used is an AwsError naming the table and segment, never a crash or a
loop: a body that is not a JSON object (orjson refuses it: malformed JSON, invalid UTF-8, a lone
surrogate escape, nesting deeper than orjson's limit), Items that is not a list, a
LastEvaluatedKey that is not an object, a Count that is not the number of Items, a ScannedCount
that is not a whole number at least Count, a ConsumedCapacity.CapacityUnits that is not a
non-negative number, or a LastEvaluatedKey equal to the
ExclusiveStartKey the page was asked for (the scan would never advance).

A backup asks for its pages as data lines (`read_page(..., lines=True)`): the body is parsed and
its items written into data lines (format/codec.encode_lines_sized) in one step, with Python's
cycle collector paused (`_collector_paused`), and the items are dropped before the pause ends.
Measured (bench/scan_cost.py, docs in bench/README.md): without the pause, the collector
traversing the page's ~40 objects per item, and the whole heap of the imported AWS SDK, cost
more CPU than everything else the backup does per item.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import threading
from dataclasses import dataclass
from typing import Iterator

import orjson
from botocore.exceptions import ClientError

from ..aws.error_translation import malformed_response
from .raw_json import RAW_BODY, keep_raw_responses
from ..format.codec import LINE_OVERHEAD, encode_lines_sized, key_for_client
from ..capacity.limiter import RateLimiterCancelled
from ..capacity.read_plan import PageSizer, units_from_bytes
from .table_client import TableClient

log = logging.getLogger(__name__)
# Operations a server may simply not implement (dynalite has no TTL API).
UNSUPPORTED_CODES = ("UnknownOperationException", "NotImplementedError", "InvalidAction")


@dataclass
class ScanPage:
    items: list[dict]  # wire form; empty when the page was read as `lines`
    last_evaluated_key: dict | None  # wire form; None at the end of the segment
    consumed_rcu: float | None  # ConsumedCapacity.CapacityUnits, None if the server did not say
    body_bytes: int
    estimated: bool = False  # consumed_rcu was estimated from body_bytes (read_page only)
    # Read with lines=True: the page's items as data lines (format/codec.encode_lines' bytes),
    # how many, and the largest item's wire-JSON length in bytes (0 without items).
    lines: bytes | None = None
    count: int = 0
    largest_item_bytes: int = 0


_pause_lock = threading.Lock()
_pausers = 0  # threads inside _collector_paused()
_resume = False  # whether the last one out enables the collector again


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while a Scan page is parsed and encoded, in any number of
    threads at once: the first in disables it (if it was enabled at all), the last out enables it.

    Why this is safe: what orjson builds from a JSON body is a tree (no reference cycles), so
    the collector has nothing to free in it; the objects are freed by reference counting when
    the caller drops them. Why it pays: a 1 MB page is ~40,000 new containers, each allocation
    counts towards a collection, and each collection also traverses what is still alive: the
    page being built and the SDK's loaded service models. Freed before the pause ends, the page's
    objects are never traversed. Cyclic garbage made by other threads meanwhile is collected
    after the pause (a page takes milliseconds)."""
    global _pausers, _resume
    with _pause_lock:
        if _pausers == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pausers += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausers -= 1
            if _pausers == 0 and _resume:
                gc.enable()


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
                  consistent: bool, lines: bool = False) -> ScanPage:
        """One Scan call (DynamoDB Scan, ReturnConsumedCapacity TOTAL) of `segment` of `total`.
        lines=True: the page's items as data lines (ScanPage.lines), not as dicts. Raises AwsError
        (MalformedResponse) on an unusable page, and what TableClient.call raises."""
        args = {"TableName": self.table, "Segment": segment, "TotalSegments": total,
                "ConsistentRead": consistent, "ReturnConsumedCapacity": "TOTAL"}
        if exclusive_start_key:
            args["ExclusiveStartKey"] = key_for_client(exclusive_start_key)
        if limit:
            args["Limit"] = limit
        response = self.call("Scan", lambda: self.client.scan(**args))
        raw = response[RAW_BODY]
        page = self._parse_page(raw, f"segment {segment} of {total}", lines)
        if page.last_evaluated_key is not None and page.last_evaluated_key == exclusive_start_key:
            raise malformed_response(action="Scan", resource=self.arn, reason=(
                f"segment {segment} of {total} returned its ExclusiveStartKey as LastEvaluatedKey, "
                "so the scan would never advance"))
        return page

    def _parse_page(self, raw: bytes, segment: str, lines: bool = False) -> ScanPage:
        """The page in a Scan response body (its items as data lines if `lines`); AwsError
        (MalformedResponse) if it is not a usable Scan response (see the module docstring)."""
        with _collector_paused():
            try:
                body = orjson.loads(raw)
                items, last_evaluated_key = body.get("Items", []), body.get("LastEvaluatedKey")
                consumed_rcu = (body.get("ConsumedCapacity") or {}).get("CapacityUnits")
                if not (isinstance(items, list) and isinstance(last_evaluated_key, (dict, type(None)))):
                    raise TypeError("Items is not a list or LastEvaluatedKey is not an object")
                _check_counts(body, len(items), consumed_rcu)
                if not lines:
                    return ScanPage(items, last_evaluated_key, consumed_rcu, len(raw))
                data, longest = encode_lines_sized(items)  # orjson.JSONEncodeError is a TypeError
                count = len(items)
                del items, body  # freed here, inside the pause: the collector never sees them
            except (ValueError, TypeError, AttributeError) as exc:  # orjson.JSONDecodeError is a ValueError
                raise malformed_response(action="Scan", resource=self.arn,
                                         reason=f"{segment}: {type(exc).__name__}: {str(exc)[:120]}") from None
        return ScanPage([], last_evaluated_key, consumed_rcu, len(raw), lines=data, count=count,
                        largest_item_bytes=max(longest - LINE_OVERHEAD, 0))

    def read_page(self, segment: int, total: int, exclusive_start_key: dict | None, sizer: PageSizer,
                  limiter, consistent: bool, lines: bool = False) -> ScanPage:
        """One Scan page within the read cap (invariant 4): `sizer` chooses its Limit and what
        `limiter` reserves before the call, then learns from the page. lines=True: the items
        come as data lines (ScanPage.lines), as scan_page. Raises RateLimiterCancelled once the
        run is cancelled."""
        limit, reserved = sizer.plan()
        page: ScanPage | None = None
        try:
            page = self._reserved_scan(limiter, reserved, segment, total, exclusive_start_key, limit, consistent,
                                       lines)
            return page
        finally:  # every plan() is followed by one observe(), also when nothing was read
            if page is None:
                sizer.observe([], 0.0)
            elif page.lines is None:
                sizer.observe(page.items, page.consumed_rcu)
            else:
                sizer.observe_sizes(page.count, page.largest_item_bytes, page.consumed_rcu)

    def _reserved_scan(self, limiter, reserved: float, segment: int, total: int, exclusive_start_key: dict | None,
                       limit: int | None, consistent: bool, lines: bool = False) -> ScanPage:
        """scan_page() inside a reservation of `limiter`, which is then charged with the page's
        real ConsumedCapacity (an estimate from its size when the server reports none), or
        with the whole reservation if the call failed, since what it read is unknown."""
        limiter.acquire(reserved)
        try:
            if self.cancelled.is_set():
                raise RateLimiterCancelled()
            page = self.scan_page(segment, total, exclusive_start_key, limit, consistent, lines)
        except BaseException:
            limiter.settle(reserved, reserved)
            raise
        if page.consumed_rcu is None:
            page.consumed_rcu, page.estimated = units_from_bytes(page.body_bytes, consistent), True
        limiter.settle(reserved, page.consumed_rcu)
        return page


def _check_counts(body: dict, items: int, consumed_rcu) -> None:
    """Count (when sent) is the number of Items, ScannedCount (when sent) a whole number at least
    Count, CapacityUnits (when sent) a finite number >= 0: what DynamoDB's Scan reference says
    they are. Raises TypeError/ValueError naming the field (never a value of an item)."""
    count, scanned = body.get("Count"), body.get("ScannedCount")
    for name, value in (("Count", count), ("ScannedCount", scanned)):
        if value is not None and type(value) is not int:
            raise TypeError(f"{name} is {_kind(value)}, not a whole number")
    if count is not None and count != items:
        raise ValueError(f"Count is {count} but the page holds {items} Items")
    if scanned is not None and scanned < items:
        raise ValueError(f"ScannedCount is {scanned}, fewer than the {items} Items returned")
    if consumed_rcu is not None and (type(consumed_rcu) not in (int, float) or not math.isfinite(consumed_rcu)
                                     or consumed_rcu < 0):
        shown = consumed_rcu if type(consumed_rcu) in (int, float) else _kind(consumed_rcu)
        raise ValueError(f"ConsumedCapacity.CapacityUnits is {shown}, not a number >= 0")


def _kind(value) -> str:
    """A response field's JSON type for a message, never its value."""
    return {str: "a string", bool: "a boolean", list: "a list", dict: "an object", float: "a fraction"}.get(
        type(value), "not a number")
