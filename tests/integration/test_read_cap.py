"""The read cap's promise, measured from real ConsumedCapacity: no one-second window above 1.2x the
cap, even when items are far larger than DescribeTable's average (dynalite reports 0 bytes and 0
items, so the average says nothing) and larger than the bucket's burst (40 RCU/s: burst 8 RCU, a
100 KB item costs 12.5 RCU).

dynalite reports realistic ConsumedCapacity (a 1 MB Scan page is about 127.5 RCU);
tests/support/throttle_proxy.py in front of it records each page's units at the time its request
arrived, which the client's limiter had already reserved (so a loaded machine's delays in
delivering responses cannot move a page into another window).
"""

from __future__ import annotations

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.local_servers import local_aws_env
from tests.support.tables import create_table
from tests.support.throttle_proxy import ThrottleProxy

pytestmark = pytest.mark.integration
CAP = 40
LARGE, SMALL = 16, 40


@pytest.fixture(scope="module")
def dynalite_env(dynalite):
    import boto3

    with pytest.MonkeyPatch.context() as patch:
        for name, value in local_aws_env(dynalite.url).items():
            patch.setenv(name, value)
        ddb = boto3.client("dynamodb")
        create_table(ddb, "large-items", rcu=10000)
        items = [{"pk": {"S": f"big{i}"}, "sk": {"N": str(i)}, "v": {"S": "y" * 100_000}} for i in range(LARGE)]
        items += [{"pk": {"S": f"small{i}"}, "sk": {"N": str(i)}, "v": {"S": "x" * 200}} for i in range(SMALL)]
        for start in range(0, len(items), 25):
            ddb.batch_write_item(RequestItems={"large-items": [{"PutRequest": {"Item": item}}
                                                               for item in items[start:start + 25]]})
        yield patch


@pytest.mark.parametrize("segments", [1, 8])
def test_no_second_above_1_2x_the_cap_with_items_larger_than_the_burst(dynalite, dynalite_env, tmp_path,
                                                                       segments):
    with ThrottleProxy(dynalite.url) as proxy:
        dynalite_env.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        try:
            result = backup_table("large-items", str(tmp_path),
                                  BackupOptions(segments=segments, workers=segments, read_rcu=CAP))
        finally:
            dynalite_env.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    assert result.items == LARGE + SMALL
    consumed = sum(units for _, units in proxy.consumed("read"))
    assert consumed == pytest.approx(result.consumed_rcu)
    assert consumed >= LARGE * 12  # the large items alone: ~200 RCU, five seconds at the cap
    assert proxy.max_rate("read") <= CAP * 1.2
