"""How fast a restore writes: the WCU/s cap, and what a batch is expected to cost. Pure.

Rules (documented in docs/restore.md):
- `write_wcu` given: that many WCU/s.
- PROVISIONED target: `write_share` (default 0.5) x its WriteCapacityUnits.
- On-demand target: ON_DEMAND_DEFAULT_WCU, or `write_share` x MaxWriteRequestUnits when that
  is set and lower.
"""

from __future__ import annotations

import math

from .readplan import CapacityKind, CapacityRate, plan_rate

ON_DEMAND_DEFAULT_WCU = 1000.0
WRITE = CapacityKind("WCU", "write", "WriteCapacityUnits", "MaxWriteRequestUnits", ON_DEMAND_DEFAULT_WCU)


def plan_write_rate(table: dict, write_share: float | None, write_wcu: float | None) -> CapacityRate:
    return plan_rate(table, write_share, write_wcu, WRITE)


def estimate_wcu(requests: list[bytes]) -> float:
    """WCU a batch of PutRequests is expected to cost: 1 per started KB of each item. The JSON
    is larger than DynamoDB's item size, so this errs high; the bucket is settled with the
    ConsumedCapacity DynamoDB reports."""
    return float(sum(math.ceil(len(r) / 1024) for r in requests))
