"""How fast a restore writes: the WCU/s cap, and what a batch is expected to cost. Pure.

Rules (documented in docs/restore.md):
- `write_wcu` given: that many WCU/s.
- Otherwise the slowest of the table and each of its GSIs, each planned as follows:
  - PROVISIONED: `write_share` (default 0.5) x its WriteCapacityUnits;
  - on-demand: ON_DEMAND_DEFAULT_WCU, or `write_share` x its MaxWriteRequestUnits when that is
    set and lower.
  Every write to the table is also a write to each GSI the item projects into, and the
  limiter is charged with the WCU BatchWriteItem reports for the table and its indexes together
  (ReturnConsumedCapacity TOTAL). So with the cap at the slowest index, no index receives more
  than its share: a 5 WCU GSI under a 1,000 WCU table caps the restore at 2.5 WCU/s.
"""

from __future__ import annotations

import math

from .rates import CapacityKind, CapacityRate, plan_rate

ON_DEMAND_DEFAULT_WCU = 1000.0
WRITE = CapacityKind("WCU", "write", "WriteCapacityUnits", "MaxWriteRequestUnits", ON_DEMAND_DEFAULT_WCU)


def plan_write_rate(table: dict, write_share: float | None, write_wcu: float | None) -> CapacityRate:
    """The WCU/s cap for restoring into `table` (DescribeTable's Table); see the module's rules.
    Raises UsageError on a share or cap out of range."""
    rates = [plan_rate(table, write_share, write_wcu, WRITE)]
    if write_wcu is None:
        for index in table.get("GlobalSecondaryIndexes") or []:
            # A GSI has the table's billing mode and its own throughput.
            as_table = {"BillingModeSummary": table.get("BillingModeSummary"),
                        "ProvisionedThroughput": index.get("ProvisionedThroughput"),
                        "OnDemandThroughput": index.get("OnDemandThroughput")}
            rate = plan_rate(as_table, write_share, None, WRITE)
            rates.append(CapacityRate(rate.units_per_s, f"{rate.reason} of GSI {index.get('IndexName')}"))
    return min(rates, key=lambda rate: rate.units_per_s)  # the first (the table) on a tie


def estimate_wcu(requests: list[bytes]) -> float:
    """WCU a batch of PutRequests is expected to cost: 1 per started KB of each item. The JSON
    is larger than DynamoDB's item size, so this errs high; the limiter is settled with the
    ConsumedCapacity DynamoDB reports."""
    return float(sum(math.ceil(len(r) / 1024) for r in requests))
