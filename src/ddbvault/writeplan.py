"""How fast a restore writes: the WCU/s cap, and what a batch is expected to cost. Pure.

Rules (documented in docs/restore.md):
- `write_wcu` given: that many WCU/s.
- PROVISIONED target: `write_share` (default 0.5) x its WriteCapacityUnits.
- On-demand target: ON_DEMAND_DEFAULT_WCU, or `write_share` x MaxWriteRequestUnits when that
  is set and lower.
"""

from __future__ import annotations

import math

from .errors import UsageError
from .readplan import ReadRate as WriteRate

ON_DEMAND_DEFAULT_WCU = 1000.0


def plan_write_rate(table: dict, write_share: float | None, write_wcu: float | None) -> WriteRate:
    if write_wcu is not None:
        if not write_wcu > 0:
            raise UsageError(f"--write-wcu must be > 0, got {write_wcu}")
        return WriteRate(float(write_wcu), f"--write-wcu {write_wcu:g}")
    share = 0.5 if write_share is None else write_share
    if not 0 < share <= 1:
        raise UsageError(f"--write-share must be in (0, 1], got {share}")
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    provisioned = (table.get("ProvisionedThroughput") or {}).get("WriteCapacityUnits") or 0
    if billing == "PROVISIONED" and provisioned > 0:
        return WriteRate(share * provisioned, f"{share:g} x {provisioned} provisioned WCU")
    max_units = (table.get("OnDemandThroughput") or {}).get("MaxWriteRequestUnits") or 0
    if max_units > 0 and share * max_units < ON_DEMAND_DEFAULT_WCU:
        return WriteRate(share * max_units, f"{share:g} x {max_units} MaxWriteRequestUnits (on-demand)")
    return WriteRate(ON_DEMAND_DEFAULT_WCU, f"on-demand default {ON_DEMAND_DEFAULT_WCU:g} WCU/s "
                                            "(set --write-wcu to change)")


def estimate_wcu(requests: list[bytes]) -> float:
    """WCU a batch of PutRequests is expected to cost: 1 per started KB of each item. The JSON
    is larger than DynamoDB's item size, so this errs high; the bucket is settled with the
    ConsumedCapacity DynamoDB reports."""
    return float(sum(math.ceil(len(r) / 1024) for r in requests))
