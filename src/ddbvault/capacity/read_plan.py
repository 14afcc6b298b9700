"""How fast and how wide a backup reads: the RCU/s cap (rates.py with READ), the segment count,
the page size.

Pure: takes DescribeTable's output (a dict), options and the pages read, returns numbers. No boto3.

Read-rate rules (documented in docs/backup.md):
- `read_rcu` given: that many RCU/s, whatever the billing mode.
- PROVISIONED table: `read_share` x the table's ReadCapacityUnits.
- On-demand table: ON_DEMAND_DEFAULT_RCU RCU/s, or `read_share` x the table's
  OnDemandThroughput.MaxReadRequestUnits when that is set and lower.
"""

from __future__ import annotations

import collections
import math
import threading

import orjson

from ..errors import UsageError
from .rates import CapacityKind, CapacityRate, plan_rate

ON_DEMAND_DEFAULT_RCU = 1000.0
GIB = 1024 ** 3
MAX_SEGMENTS = 1_000_000
# A Scan page holds at most 1 MB: 128 RCU eventually consistent, 256 strongly consistent; the
# item that crosses 1 MB is still returned, so a page reads up to 1 MB plus one item.
MAX_PAGE_UNITS_EVENTUAL = 128.0
MAX_PAGE_BYTES = 1024 ** 2
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit
RECENT_ITEMS = 1000  # how many of the last items read the largest-item estimate looks back on
WARMUP_ITEMS = 100  # until this many items were read, one page at a time across all segments
PROBE_POLL_S = 0.05


READ = CapacityKind("RCU", "read", "ReadCapacityUnits", "MaxReadRequestUnits", ON_DEMAND_DEFAULT_RCU)


def plan_read_rate(table: dict, read_share: float | None, read_rcu: float | None) -> CapacityRate:
    return plan_rate(table, read_share, read_rcu, READ)


def plan_segments(table: dict, workers: int, requested: int | None) -> int:
    """~1 segment per GiB of table, at least `workers`; or the requested count."""
    if requested is not None:
        if not 1 <= requested <= MAX_SEGMENTS:
            raise UsageError(f"--segments must be 1..{MAX_SEGMENTS}, got {requested}")
        return requested
    size = table.get("TableSizeBytes") or 0
    return min(MAX_SEGMENTS, max(workers, math.ceil(size / GIB)))


def units_from_bytes(body_bytes: int, consistent: bool) -> float:
    """What reading `body_bytes` costs: 0.5 RCU per started 4 KiB (1 RCU strongly consistent).
    Also the estimate when a server does not report ConsumedCapacity."""
    return math.ceil(body_bytes / 4096) * (1.0 if consistent else 0.5)


class PageSizer:
    """Chooses each Scan page's `Limit` and the units it reserves, for every segment of one run.

    Pessimistic, so that a page does not cost more than it reserved, whatever DescribeTable's
    (often stale) average item size says:
    - a page of Limit L reserves what L items as large as the largest of the last RECENT_ITEMS
      items read (in any segment) would cost. An item's size is taken as the larger of its
      wire-JSON length, which is never smaller than DynamoDB's own size of the item, and the
      size its page's real ConsumedCapacity implies per item;
    - before any item has been read, one page at a time (the probe) is one item and reserves
      the largest item DynamoDB allows (400 KB); the other segments wait for what it learns.
      Then Limit grows to at most twice the items read so far, so an early small sample cannot
      size a large page;
    - L is chosen so the page costs about `target_units` (the limiter's burst, at most one
      1 MB page), and never below 1.
    When the burst holds the most any page can cost (1 MB plus one 400 KB item: WHOLE_PAGE_UNITS,
    at rates of about 900 RCU/s and up with the default 0.2 s burst), pages need no Limit: each
    reserves that bound and settles what it consumed, so no page can exceed its reservation and
    no probing or item sizing is needed. Small pages would only add Scan requests.
    A page costs more than it reserved only if it holds an item larger than every one of the
    last RECENT_ITEMS items. Thread-safe: one per run, shared by every segment worker; every
    plan() must be followed by one observe() (with no items if the page failed). With an
    unlimited rate it sets no Limit and reserves nothing (DynamoDB's 1 MB page rules).
    """

    def __init__(self, rate: float, burst: float, consistent: bool):
        self.unlimited = math.isinf(rate)
        self.consistent = consistent
        self._unit = 1.0 if consistent else 0.5  # units per started 4 KiB
        self.target_units = min(MAX_PAGE_UNITS_EVENTUAL * (2.0 if consistent else 1.0), burst)
        self.whole_page_units = units_from_bytes(MAX_PAGE_BYTES + MAX_ITEM_BYTES, consistent)
        self.whole_pages = not self.unlimited and self.whole_page_units <= burst
        self._recent: collections.deque[tuple[int, int]] = collections.deque()  # (items, largest bytes)
        self._recent_items = 0
        self._seen = 0
        self._probing = False
        self._changed = threading.Condition()

    def plan(self) -> tuple[int | None, float]:
        """(Limit, units to reserve) for the next page; (None, 0) when the rate is unlimited.
        Blocks while another segment's probe is in flight."""
        if self.unlimited:
            return None, 0.0
        if self.whole_pages:
            return None, self.whole_page_units
        with self._changed:
            while self._seen < WARMUP_ITEMS and self._probing:
                self._changed.wait(PROBE_POLL_S)
            self._probing = self._seen < WARMUP_ITEMS
            largest = max((size for _, size in self._recent), default=MAX_ITEM_BYTES)
            seen = self._seen
        per_item = largest / 4096 * self._unit  # a page rounds its total up to 4 KiB, not each item
        limit = max(1, min(int(self.target_units / per_item), 2 * seen))
        return limit, units_from_bytes(min(limit * largest, MAX_PAGE_BYTES + largest), self.consistent)

    def observe(self, items: list[dict], units: float) -> None:
        """Learn from a page read: its items (wire form) and the units it consumed."""
        if self.unlimited or self.whole_pages:
            return
        self.observe_sizes(len(items), max((len(orjson.dumps(item)) for item in items), default=0), units)

    def observe_sizes(self, count: int, largest_bytes: int, units: float) -> None:
        """Learn from a page read: how many items, the largest one's wire-JSON length (bytes),
        and the units (RCU) it consumed."""
        if self.unlimited or self.whole_pages:
            return
        largest = 0
        if count:
            # The page's own cost proves its items average at least this size (less its rounding).
            implied = max(units / self._unit - 1, 0) * 4096 / count
            largest = max(int(implied), largest_bytes)
        with self._changed:
            self._probing = False
            if count:
                self._recent.append((count, largest))
                self._recent_items += count
                self._seen += count
                while self._recent_items - self._recent[0][0] >= RECENT_ITEMS:
                    self._recent_items -= self._recent.popleft()[0]
            self._changed.notify_all()
