"""Self-test of tests/support/throttle_proxy.py against a real dynalite."""

from __future__ import annotations

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from ddbvault.devtools.local_servers import dynalite, local_aws_env

from tests.support.throttle_proxy import ThrottleProxy

pytestmark = pytest.mark.integration

TABLE = "proxy-test"
ITEMS = 300
PAD = "x" * 1000  # ~1 KB items


def client(url: str, **retries):
    """A dynamodb client, by default without retries. Beware: botocore's `max_attempts` counts
    retries (max_attempts=1 means two attempts); `total_max_attempts` counts attempts."""
    retries = retries or {"total_max_attempts": 1}
    env = local_aws_env(url)
    return boto3.client(
        "dynamodb", endpoint_url=url, region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"mode": "standard", **retries},
                      connect_timeout=5, read_timeout=30))


@pytest.fixture(scope="module")
def upstream():
    with dynalite() as server:
        ddb = client(server.url)
        ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         ProvisionedThroughput={"ReadCapacityUnits": 1000, "WriteCapacityUnits": 1000})
        ddb.get_waiter("table_exists").wait(TableName=TABLE, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        for start in range(0, ITEMS, 25):
            requests = [{"PutRequest": {"Item": {"pk": {"S": f"item-{i:04d}"}, "pad": {"S": PAD}}}}
                        for i in range(start, min(start + 25, ITEMS))]
            assert not ddb.batch_write_item(RequestItems={TABLE: requests})["UnprocessedItems"]
        yield server.url


def test_scan_loop_is_throttled_and_capacity_is_recorded(upstream):
    with ThrottleProxy(upstream, read_rcu_per_s=20) as proxy:
        # the brief's config: max_attempts=1 is ONE RETRY in botocore (two attempts per call)
        ddb, code, pages, reported = client(proxy.url, max_attempts=1), None, 0, 0.0
        deadline = time.monotonic() + 10
        while code is None and time.monotonic() < deadline:
            try:
                page = ddb.scan(TableName=TABLE, Limit=25, ProjectionExpression="pk", ReturnConsumedCapacity="TOTAL")
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            else:
                pages += 1
                reported += page["ConsumedCapacity"]["CapacityUnits"]
        assert code == "ProvisionedThroughputExceededException"
        assert status == 400
        assert proxy.throttled["Scan"] >= 1
        assert proxy.requests == {"Scan": pages + proxy.throttled["Scan"]}
        # units come from ConsumedCapacity (charged on whole items), not from the small body
        assert sum(u for _, u in proxy.consumed("read")) == pytest.approx(reported)
        # with one retry the loop can outlive a window or two before both attempts are throttled
        assert reported >= 20
        assert proxy.max_rate("read") <= 20 + max(u for _, u in proxy.consumed("read"))


def test_estimate_without_consumed_capacity(upstream):
    with ThrottleProxy(upstream) as proxy:
        client(proxy.url).scan(TableName=TABLE, Limit=10)  # 10 items of ~1 KB: 3 started 4 KiB blocks
        client(proxy.url).put_item(TableName=TABLE, Item={"pk": {"S": "extra"}, "pad": {"S": PAD * 2}})
        assert [u for _, u in proxy.consumed("read")] == [1.5]
        assert [u for _, u in proxy.consumed("write")] == [3.0]  # request body just over 2 KiB


def test_max_rate_stays_bounded(upstream):
    limit, duration = 20.0, 3.0
    with ThrottleProxy(upstream, read_rcu_per_s=limit) as proxy:
        ddb, key, end = client(proxy.url), None, time.monotonic() + duration
        while time.monotonic() < end:
            kwargs = {"ExclusiveStartKey": key} if key else {}
            try:
                page = ddb.scan(TableName=TABLE, Limit=25, ReturnConsumedCapacity="TOTAL", **kwargs)
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
                time.sleep(0.01)
                continue
            key = page.get("LastEvaluatedKey")
        largest = max(u for _, u in proxy.consumed("read"))
        total = sum(u for _, u in proxy.consumed("read"))
        assert sum(proxy.throttled.values()) > 0
        assert proxy.max_rate("read") <= limit + largest
        assert total >= limit * (duration - 1)  # the client was actually driving the limit


def test_frozen_clock_throttles_until_the_window_passes(upstream):
    now = [100.0]
    with ThrottleProxy(upstream, write_wcu_per_s=2, clock=lambda: now[0]) as proxy:
        ddb = client(proxy.url)
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "clock"}, "pad": {"S": PAD * 2}})  # 3 WCU
        with pytest.raises(ClientError) as info:
            ddb.put_item(TableName=TABLE, Item={"pk": {"S": "clock"}})
        assert info.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        now[0] += 1.0
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "clock"}})
        assert proxy.throttled == {"PutItem": 1} and proxy.requests == {"PutItem": 3}
        assert proxy.max_rate("write") == 3.0 and proxy.max_rate("write", window_s=2.0) == 2.0


def test_unprocessed_items_are_returned_and_land_after_retry(upstream):
    keys = [f"unprocessed-{i:02d}" for i in range(25)]
    pending = {TABLE: [{"PutRequest": {"Item": {"pk": {"S": k}, "n": {"N": str(i)}}}} for i, k in enumerate(keys)]}
    with ThrottleProxy(upstream, unprocessed_every=1) as proxy:
        ddb, rounds = client(proxy.url), 0
        first = ddb.batch_write_item(RequestItems=pending)["UnprocessedItems"]
        assert list(first) == [TABLE] and first[TABLE] == pending[TABLE][13:]
        pending = first
        while pending:
            rounds += 1
            assert rounds < 10
            pending = ddb.batch_write_item(RequestItems=pending)["UnprocessedItems"]
        assert proxy.injected_unprocessed == rounds  # 12 -> 6 -> 3 -> 1 -> 0
    direct = client(upstream)
    for i, k in enumerate(keys):
        item = direct.get_item(TableName=TABLE, Key={"pk": {"S": k}}, ConsistentRead=True).get("Item")
        assert item == {"pk": {"S": k}, "n": {"N": str(i)}}, k


@pytest.mark.parametrize("status, code", [(500, "InternalServerError"), (503, "ServiceUnavailable")])
def test_injected_server_errors(upstream, status, code):
    with ThrottleProxy(upstream, error_every=2, error_status=status) as proxy:
        ddb = client(proxy.url)
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": "item-0001"}})
        with pytest.raises(ClientError) as info:
            ddb.get_item(TableName=TABLE, Key={"pk": {"S": "item-0001"}})
        assert info.value.response["Error"]["Code"] == code
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": "item-0001"}})
        assert proxy.injected_errors == 1
        # botocore's standard retries absorb it
        assert client(proxy.url, total_max_attempts=3).get_item(TableName=TABLE, Key={"pk": {"S": "item-0002"}})["Item"]
        assert proxy.injected_errors == 2


def test_injected_connection_resets(upstream):
    with ThrottleProxy(upstream, reset_every=2) as proxy:
        ddb = client(proxy.url)
        ddb.describe_table(TableName=TABLE)
        with pytest.raises(ConnectionClosedError):
            ddb.describe_table(TableName=TABLE)
        ddb.describe_table(TableName=TABLE)
        assert proxy.injected_resets == 1 and proxy.requests == {"DescribeTable": 3}
        assert client(proxy.url, total_max_attempts=3).describe_table(TableName=TABLE)["Table"]["TableName"] == TABLE
        assert proxy.injected_resets == 2


def test_upstream_errors_pass_through(upstream):
    with ThrottleProxy(upstream) as proxy:
        with pytest.raises(ClientError) as info:
            client(proxy.url).describe_table(TableName="no-such-table")
        assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert proxy.requests == {"DescribeTable": 1} and proxy.throttled == {}


def test_stop_is_idempotent_and_closes_keep_alive_connections(upstream):
    proxy = ThrottleProxy(upstream).start()
    ddb = client(proxy.url)
    ddb.describe_table(TableName=TABLE)
    proxy.stop()
    proxy.stop()
    with pytest.raises((EndpointConnectionError, ConnectionClosedError)):
        ddb.describe_table(TableName=TABLE)
