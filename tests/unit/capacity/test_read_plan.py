"""Read-rate, segment and page-size planning from DescribeTable output."""

from __future__ import annotations

import math
import threading

import pytest

from ddbvault.errors import UsageError
from ddbvault.capacity.read_plan import (ON_DEMAND_DEFAULT_RCU, RECENT_ITEMS, WARMUP_ITEMS, PageSizer, plan_read_rate, plan_segments,
                               units_from_bytes)

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


def item(size: int) -> dict:
    """A wire-form item whose JSON is about `size` bytes."""
    return {"pk": {"S": "k"}, "v": {"S": "x" * max(size - 30, 0)}}


def test_page_sizer_probes_with_one_item_reserving_the_largest_possible():
    sizer = PageSizer(rate=40, burst=8, consistent=False)
    assert sizer.plan() == (1, 50.0)  # 400 KB, eventually consistent: 100 x 0.5 RCU


def test_page_sizer_grows_slowly_then_fills_the_burst():
    sizer = PageSizer(rate=750, burst=150, consistent=False)  # a whole page (178 RCU) does not fit
    sizer.plan()
    sizer.observe([item(400)], 0.5)
    assert sizer.plan()[0] == 2  # at most twice the items seen so far
    sizer.observe([item(400)] * 2, 0.5)
    assert sizer.plan()[0] == 6
    sizer.observe([item(400)] * 2000, 100.0)
    limit, reserved = sizer.plan()
    assert 0.9 * 2621 < limit <= 2621  # one 1 MB page (128 RCU) of ~400 B items
    assert 120 < reserved <= 128


@pytest.mark.parametrize("consistent, bound", [(False, 178.0), (True, 356.0)])
def test_page_sizer_sets_no_limit_when_the_burst_holds_the_costliest_page(consistent, bound):
    # 1 MB plus one 400 KB item: 356 started 4 KiB blocks, the most one Scan page can read
    sizer = PageSizer(rate=5 * bound, burst=bound, consistent=consistent)
    assert sizer.plan() == (None, bound)
    sizer.observe([item(400 * 1024)] * 3, 3 * 50.0)  # whatever it reads, the bound stays
    assert sizer.plan() == (None, bound)
    assert PageSizer(rate=5 * bound, burst=bound - 0.5, consistent=consistent).plan()[0] == 1  # probes


def read(sizer: PageSizer, items: list[dict], units: float) -> tuple[int | None, float]:
    """One page: its plan, then what was read. Returns the plan."""
    plan = sizer.plan()
    sizer.observe(items, units)
    return plan


def test_page_sizer_reserves_for_the_largest_recent_item_not_the_average():
    # small items, then one 100 KB item (12.5 RCU): pages must shrink to one item, and each
    # reservation must cover a page of items no larger than the largest seen
    sizer = PageSizer(rate=40, burst=8, consistent=False)
    read(sizer, [item(200)] * 50, 3.0)
    assert read(sizer, [item(200)] * 3 + [item(100_000)], 13.0)[0] > 1
    limit, reserved = read(sizer, [item(200)], 0.5)
    assert limit == 1 and reserved >= units_from_bytes(100_000, False) == 12.5
    for _ in range(RECENT_ITEMS // 10 - 1):  # the large item stays the estimate for RECENT_ITEMS
        assert read(sizer, [item(200)] * 10, 0.5)[0] == 1
    read(sizer, [item(200)] * 10, 0.5)  # over RECENT_ITEMS items since the large one
    assert sizer.plan()[0] > 1


def test_page_sizer_trusts_consumed_capacity_when_it_says_items_are_larger():
    sizer = PageSizer(rate=40, burst=8, consistent=False)
    sizer.plan()
    sizer.observe([item(100)] * 4, 50.0)  # 50 RCU for 4 items: ~100 KB each, whatever the JSON says
    assert sizer.plan()[0] == 1


def test_page_sizer_lets_one_page_at_a_time_go_until_warmed_up():
    sizer = PageSizer(rate=40, burst=8, consistent=False)
    assert sizer.plan() == (1, 50.0)
    plans: list = []
    waiter = threading.Thread(target=lambda: plans.append(sizer.plan()))
    waiter.start()
    waiter.join(timeout=0.3)
    assert waiter.is_alive() and not plans  # blocked while the probe is in flight
    sizer.observe([item(100_000)], 12.5)
    waiter.join(timeout=5)
    assert plans == [(1, 12.5)]
    sizer.observe([item(100_000)] * (WARMUP_ITEMS - 1), 12.5 * (WARMUP_ITEMS - 1))
    assert sizer.plan() == sizer.plan() == (1, 12.5)  # warmed up: segments plan side by side


def test_page_sizer_probes_again_after_an_empty_or_failed_page():
    sizer = PageSizer(rate=40, burst=8, consistent=False)
    sizer.plan()
    sizer.observe([], 0.5)  # an empty segment: nothing learned
    assert sizer.plan() == (1, 50.0)


def test_page_sizer_unlimited_sets_no_limit():
    sizer = PageSizer(rate=math.inf, burst=math.inf, consistent=True)
    assert sizer.plan() == (None, 0.0)
