"""The read cap's promise, measured from real ConsumedCapacity: no one-second window above 1.2x the
cap (with its one documented exception), even when items are far larger than DescribeTable's average (dynalite reports 0 bytes and 0
items, so the average says nothing) and larger than the limiter's burst (40 RCU/s: burst 8 RCU, a
100 KB item costs 12.5 RCU).

dynalite reports realistic ConsumedCapacity (a 1 MB Scan page is about 127.5 RCU);
tests/support/throttle_proxy.py in front of it records each page's units at the time its request
arrived, which the client's limiter had already reserved (so a loaded machine's delays in
delivering responses cannot move a page into another window).
"""

from __future__ import annotations

import pytest

from ddbvault import BackupOptions, backup_table
from tests.support.tables import create_table
from tests.support.throttle_proxy import ThrottleProxy

pytestmark = pytest.mark.integration
CAP = 40
LARGE, SMALL = 16, 40


@pytest.fixture(scope="module")
def dynalite_env(dynalite_aws):
    import boto3

    ddb = boto3.client("dynamodb")
    large = [{"pk": {"S": f"big{i}"}, "sk": {"N": str(i)}, "v": {"S": "y" * 100_000}} for i in range(LARGE)]
    small = [{"pk": {"S": f"small{i}"}, "sk": {"N": str(i)}, "v": {"S": "x" * 200}} for i in range(SMALL)]
    for table, items in (("large-items", large), ("mixed-items", large + small)):
        create_table(ddb, table, rcu=10000)
        for start in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}}
                                                       for item in items[start:start + 25]]})
    return dynalite_aws


def _backup(dynalite, patch, tmp_path, table: str, segments: int):
    with ThrottleProxy(dynalite.url) as proxy:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        try:
            result = backup_table(table, str(tmp_path), BackupOptions(segments=segments, workers=segments,
                                                                      read_rcu=CAP))
        finally:
            patch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    consumed = sum(units for _, units in proxy.consumed("read"))
    assert consumed == pytest.approx(result.consumed_rcu)
    assert consumed >= LARGE * 12  # the large items alone: ~200 RCU, five seconds at the cap
    return result, proxy


@pytest.mark.parametrize("segments", [1, 8])
def test_no_second_above_1_2x_the_cap_with_items_larger_than_the_burst(dynalite, dynalite_env, tmp_path,
                                                                       segments):
    """Items far larger than DescribeTable's average and than the burst: the promise holds exactly
    (the first page reserves the largest item DynamoDB allows; later pages are sized from it)."""
    result, proxy = _backup(dynalite, dynalite_env, tmp_path, "large-items", segments)
    assert result.items == LARGE
    assert proxy.max_rate("read") <= CAP * 1.2


@pytest.mark.parametrize("segments", [1, 8])
def test_small_items_then_large_ones_exceed_the_window_by_at_most_one_page(dynalite, dynalite_env, tmp_path,
                                                                           segments):
    """docs/backup.md's one exception: a page may cost more than it reserved when it holds an item
    larger than every item read before it. Here every large item is the same size, and under 100
    items one page is in flight at a time, so at most one page of the run is such a surprise:
    no window holds more than 1.2x the cap plus one page."""
    result, proxy = _backup(dynalite, dynalite_env, tmp_path, "mixed-items", segments)
    assert result.items == LARGE + SMALL
    largest_page = max(units for _, units in proxy.consumed("read"))
    assert proxy.max_rate("read") <= CAP * 1.2 + largest_page
