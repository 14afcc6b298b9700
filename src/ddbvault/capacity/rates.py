"""The capacity-unit cap of a run, read (backup, verify --against-table) or write (restore):
the rules are the same for both with RCU and WCU swapped (docs/backup.md, docs/restore.md).

- An absolute cap given (--read-rcu / --write-wcu): that many units per second.
- PROVISIONED table: the share (default 0.5) x the table's provisioned units.
- On-demand table: the kind's on-demand default, or the share x the table's
  OnDemandThroughput maximum when that is set and lower
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode-max-throughput.html).

Pure: takes DescribeTable's Table (a dict). No boto3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import UsageError


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
