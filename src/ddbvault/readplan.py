"""How fast and how wide a backup reads: the RCU/s cap, the segment count, the page size.

Pure: takes DescribeTable's output (a dict) and options, returns numbers. No boto3.

Read-rate rules (documented in docs/backup.md):
- `read_rcu` given: that many RCU/s, whatever the billing mode.
- PROVISIONED table: `read_share` x the table's ReadCapacityUnits.
- On-demand table: ON_DEMAND_DEFAULT_RCU RCU/s, or `read_share` x the table's
  OnDemandThroughput.MaxReadRequestUnits when that is set and lower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import UsageError

ON_DEMAND_DEFAULT_RCU = 1000.0
GIB = 1024 ** 3
MAX_SEGMENTS = 1_000_000
# A Scan page holds at most 1 MB: 128 RCU eventually consistent, 256 strongly consistent.
MAX_PAGE_UNITS_EVENTUAL = 128.0
FALLBACK_ITEM_BYTES = 1024.0


@dataclass(frozen=True)
class CapacityRate:
    units_per_s: float  # capacity units per second; math.inf: no limit
    reason: str


@dataclass(frozen=True)
class CapacityKind:
    """Read or write: the names that differ between the two, and the on-demand default."""

    unit: str  # "RCU" / "WCU"
    option: str  # "read" / "write": --read-share, --read-rcu ...
    provisioned_key: str
    max_key: str
    on_demand_default: float


READ = CapacityKind("RCU", "read", "ReadCapacityUnits", "MaxReadRequestUnits", ON_DEMAND_DEFAULT_RCU)


def plan_rate(table: dict, share: float | None, absolute: float | None, kind: CapacityKind) -> CapacityRate:
    """The capacity-unit cap for reading (backup) or writing (restore) `table`; see the rules
    in the module docstring, which are the same for both with RCU and WCU swapped."""
    flag = f"--{kind.option}-{kind.unit.lower()}"
    if absolute is not None:
        if not (math.isfinite(absolute) and absolute > 0):  # inf would switch the cap off
            raise UsageError(f"{flag} must be a finite number > 0, got {absolute}", hint=f"e.g. {flag} 500")
        return CapacityRate(float(absolute), f"{flag} {absolute:g}")
    share = 0.5 if share is None else share
    if not 0 < share <= 1:
        raise UsageError(f"--{kind.option}-share must be in (0, 1], got {share}",
                         hint=f"e.g. --{kind.option}-share 0.25 to use a quarter of the table's capacity")
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = (table.get("ProvisionedThroughput") or {}).get(kind.provisioned_key) or 0
    if billing == "PROVISIONED" and provisioned > 0:
        return CapacityRate(share * provisioned, f"{share:g} x {provisioned} provisioned {kind.unit}")
    max_units = (table.get("OnDemandThroughput") or {}).get(kind.max_key) or 0
    if max_units > 0 and share * max_units < kind.on_demand_default:
        return CapacityRate(share * max_units, f"{share:g} x {max_units} {kind.max_key} (on-demand)")
    return CapacityRate(kind.on_demand_default, f"on-demand default {kind.on_demand_default:g} "
                                            f"{kind.unit}/s (set {flag} to change)")


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
    """Estimate when a server does not report ConsumedCapacity: 0.5 RCU per 4 KiB read
    (1 RCU strongly consistent)."""
    return math.ceil(body_bytes / 4096) * (1.0 if consistent else 0.5)


def average_item_bytes(table: dict) -> float:
    count, size = table.get("ItemCount") or 0, table.get("TableSizeBytes") or 0
    return size / count if count and size else FALLBACK_ITEM_BYTES


class PageSizer:
    """Chooses each Scan page's `Limit` so a page costs about `target_units`.

    Learns the real cost per item from each page's ConsumedCapacity. Not thread-safe: one per
    segment worker. With an unlimited rate it never sets a Limit (DynamoDB's 1 MB page rules).
    """

    def __init__(self, rate: float, burst: float, item_bytes: float, consistent: bool):
        self.unlimited = math.isinf(rate)
        factor = 2.0 if consistent else 1.0
        self.target_units = min(MAX_PAGE_UNITS_EVENTUAL * factor, burst)
        self.units_per_item = max(item_bytes / 4096 * 0.5 * factor, 1e-6)

    def limit(self) -> int | None:
        if self.unlimited:
            return None
        return max(1, int(self.target_units / self.units_per_item))

    def estimate(self, limit: int | None) -> float:
        """Units a page of `limit` items is expected to consume (what the bucket reserves)."""
        if limit is None:
            return self.target_units
        return min(self.target_units, limit * self.units_per_item) or self.units_per_item

    def observe(self, items: int, units: float) -> None:
        if items > 0 and units > 0:
            # Smooth, so one page of unusually big items does not swing the next page's size.
            self.units_per_item = 0.5 * self.units_per_item + 0.5 * (units / items)
