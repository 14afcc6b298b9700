"""Backups under throttling, 5xx and connection resets: finish with every item, within the limit.

dynalite reports realistic ConsumedCapacity; tests/support/throttle_proxy.py in front of it
returns DynamoDB's real ProvisionedThroughputExceededException above a set RCU/s.
"""

from __future__ import annotations

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.aws.retry import RetryPolicy
from ddbvault.errors import RetriesExhaustedError
from ddbvault.storage.destination import parse_destination
from ddbvault.storage import open_store
from tests.support.tables import create_table, fill_table, key_of, read_backup
from tests.support.throttle_proxy import ThrottleProxy

pytestmark = pytest.mark.integration
ITEMS = 1200


@pytest.fixture(scope="module")
def dynalite_env(dynalite_aws):
    import boto3

    ddb = boto3.client("dynamodb")
    create_table(ddb, "throttled", rcu=10000)
    fill_table(ddb, "throttled", ITEMS, edge_cases=False, payload_bytes=700)
    return dynalite_aws


def _backup(proxy_url: str, dest, patch, **options):
    patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy_url)
    try:
        return backup_table("throttled", str(dest), BackupOptions(segments=4, workers=4, **options))
    finally:
        patch.delenv("AWS_ENDPOINT_URL_DYNAMODB")


def _assert_complete(result, dest) -> None:
    manifest, items = read_backup(open_store(parse_destination(str(dest))), f"throttled/{result.backup_id}")
    keys = {key_of(item) for item in items}
    assert len(items) == len(keys) == ITEMS == result.items == manifest.totals["items"]


def test_stays_under_the_read_cap_measured_from_consumed_capacity(dynalite, dynalite_env, tmp_path):
    with ThrottleProxy(dynalite.url, read_rcu_per_s=60) as proxy:
        result = _backup(proxy.url, tmp_path, dynalite_env, read_rcu=40)
    _assert_complete(result, tmp_path)
    consumed = sum(units for _, units in proxy.consumed("read"))
    assert consumed == pytest.approx(result.consumed_rcu)
    assert consumed > 100  # enough reading that the cap mattered
    # at most rate x (1 + burst 0.2 s) in any 1 s window (docs/backup.md)
    assert proxy.max_rate("read") <= 40 * 1.2
    assert proxy.throttled.get("Scan", 0) == 0
    assert result.seconds >= consumed / 40 * 0.8


def test_throttling_is_retried_and_no_item_is_lost(dynalite, dynalite_env, tmp_path):
    with ThrottleProxy(dynalite.url, read_rcu_per_s=15) as proxy:
        result = _backup(proxy.url, tmp_path, dynalite_env, read_rcu=200)
    assert proxy.throttled.get("Scan", 0) > 0
    assert result.throttle_retries > 0
    _assert_complete(result, tmp_path)


def test_every_retry_is_counted_botocores_own_included(dynalite, dynalite_env, tmp_path):
    # botocore's standard mode retries throttles and 500s before aws/retry.py sees them; each
    # injected fault is followed by one more attempt, so each must be counted exactly once
    with ThrottleProxy(dynalite.url, read_rcu_per_s=30, error_every=2, error_status=500) as proxy:
        result = _backup(proxy.url, tmp_path, dynalite_env, read_rcu=300)
    _assert_complete(result, tmp_path)
    throttled = sum(proxy.throttled.values())
    assert throttled >= 3 and proxy.injected_errors >= 3
    manifest, _ = read_backup(open_store(parse_destination(str(tmp_path))), f"throttled/{result.backup_id}")
    assert result.throttle_retries == manifest.consumed_capacity["throttle_retries"] == throttled
    assert manifest.consumed_capacity["transient_retries"] == proxy.injected_errors


def test_5xx_and_connection_resets_are_retried(dynalite, dynalite_env, tmp_path):
    with ThrottleProxy(dynalite.url, error_every=5, error_status=500, reset_every=7) as proxy:
        result = _backup(proxy.url, tmp_path, dynalite_env, read_rcu=100000)
    assert proxy.injected_errors > 0 and proxy.injected_resets > 0
    _assert_complete(result, tmp_path)


def test_exhausted_retries_fail_loudly_without_manifest(dynalite, dynalite_env, tmp_path):
    # after the first page, every Scan is throttled for a long while; DescribeTable is not
    with ThrottleProxy(dynalite.url, read_rcu_per_s=0.001, window_s=60) as proxy:
        with pytest.raises(RetriesExhaustedError) as info:
            _backup(proxy.url, tmp_path, dynalite_env, read_rcu=5,
                    retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    message = str(info.value)
    assert "Scan" in message and "table/throttled" in message and "retries exhausted" in message
    assert "ProvisionedThroughputExceededException" in message
    assert not list(tmp_path.rglob("manifest.json"))
