"""Read-rate, segment and page-size planning from DescribeTable output."""

from __future__ import annotations

import math

import pytest

from ddbvault.errors import UsageError
from ddbvault.readplan import ON_DEMAND_DEFAULT_RCU, PageSizer, plan_read_rate, plan_segments

PROVISIONED = {"BillingModeSummary": {"BillingMode": "PROVISIONED"},
               "ProvisionedThroughput": {"ReadCapacityUnits": 400}, "TableSizeBytes": 5 * 1024 ** 3,
               "ItemCount": 5_000_000}
ON_DEMAND = {"BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
             "ProvisionedThroughput": {"ReadCapacityUnits": 0}}


def test_provisioned_uses_share_of_rcu():
    assert plan_read_rate(PROVISIONED, None, None).units_per_s == 200
    assert plan_read_rate(PROVISIONED, 0.25, None).units_per_s == 100


def test_explicit_rcu_wins():
    assert plan_read_rate(PROVISIONED, 0.25, 42).units_per_s == 42


def test_on_demand_default_and_max_read_units():
    assert plan_read_rate(ON_DEMAND, None, None).units_per_s == ON_DEMAND_DEFAULT_RCU
    capped = {**ON_DEMAND, "OnDemandThroughput": {"MaxReadRequestUnits": 600}}
    assert plan_read_rate(capped, None, None).units_per_s == 300
    roomy = {**ON_DEMAND, "OnDemandThroughput": {"MaxReadRequestUnits": 100000}}
    assert plan_read_rate(roomy, None, None).units_per_s == ON_DEMAND_DEFAULT_RCU


@pytest.mark.parametrize("share,rcu", [(0, None), (1.5, None), (None, 0), (None, -3)])
def test_bad_rates_are_usage_errors(share, rcu):
    with pytest.raises(UsageError):
        plan_read_rate(PROVISIONED, share, rcu)


def test_segments_about_one_per_gib_at_least_workers():
    assert plan_segments(PROVISIONED, 4, None) == 5
    assert plan_segments(PROVISIONED, 8, None) == 8
    assert plan_segments({}, 4, None) == 4
    assert plan_segments(PROVISIONED, 4, 3) == 3
    with pytest.raises(UsageError):
        plan_segments(PROVISIONED, 4, 0)


def test_page_sizer_limits_pages_to_the_burst_and_learns():
    sizer = PageSizer(rate=10, burst=2, item_bytes=1024, consistent=False)
    assert sizer.limit() == 16  # 2 units / (1024/4096 * 0.5)
    sizer.observe(items=16, units=8)  # items were bigger than thought
    assert sizer.limit() < 16
    assert sizer.estimate(sizer.limit()) <= 2


def test_page_sizer_unlimited_sets_no_limit():
    assert PageSizer(rate=math.inf, burst=math.inf, item_bytes=1024, consistent=True).limit() is None
