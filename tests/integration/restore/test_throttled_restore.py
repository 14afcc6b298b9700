"""Restores through write throttling and UnprocessedItems: nothing lost, or a loud failure.

dynalite (realistic ConsumedCapacity) behind tests/support/throttle_proxy.py, which returns real
ProvisionedThroughputExceededException above a WCU/s limit and withholds half of a
BatchWriteItem's items as UnprocessedItems when told to.
"""

from __future__ import annotations

import boto3
import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.aws.retry import RetryPolicy
from ddbvault.errors import RetriesExhaustedError
from ddbvault.restore import RestoreOptions, restore_backup
from tests.support.tables import canonical_items, create_table, fill_table, scan_all, wire
from tests.support.throttle_proxy import ThrottleProxy

pytestmark = pytest.mark.integration
ITEMS = 600


@pytest.fixture(scope="module")
def env(dynalite_aws, tmp_path_factory):
    dynalite_aws.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    ddb = boto3.client("dynamodb")
    create_table(ddb, "wsource", rcu=10000)
    fill_table(ddb, "wsource", ITEMS, edge_cases=False, payload_bytes=700)
    backup = backup_table("wsource", str(tmp_path_factory.mktemp("bk")), BackupOptions(read_rcu=100000))
    return dynalite_aws, ddb, backup


def _restore(proxy: ThrottleProxy, patch, backup, table: str, **options):
    patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
    try:
        return restore_backup(backup.url, table, RestoreOptions(**options))
    finally:
        patch.delenv("AWS_ENDPOINT_URL_DYNAMODB")


def test_unprocessed_items_and_throttling_lose_nothing(dynalite, env):
    patch, ddb, backup = env
    with ThrottleProxy(dynalite.url, write_wcu_per_s=150, unprocessed_every=3) as proxy:
        result = _restore(proxy, patch, backup, "wcopy", write_wcu=400)
    assert proxy.injected_unprocessed > 0 and proxy.throttled.get("BatchWriteItem", 0) > 0
    assert result.items == ITEMS
    # Every throttle was retried (by botocore inside the call, or by restore), and each is counted.
    assert result.throttle_retries == sum(proxy.throttled.values())
    assert canonical_items(wire(scan_all(ddb, "wcopy"))) == canonical_items(wire(scan_all(ddb, "wsource")))


def test_stays_under_the_write_cap(dynalite, env):
    patch, ddb, backup = env
    with ThrottleProxy(dynalite.url, write_wcu_per_s=1000) as proxy:
        result = _restore(proxy, patch, backup, "wcapped", write_wcu=200)
    consumed = sum(units for _, units in proxy.consumed("write"))
    assert consumed == pytest.approx(result.consumed_wcu) and consumed >= ITEMS
    assert proxy.max_rate("write") <= 200 * 1.2 + 25  # burst 0.2 s, plus one batch in flight
    assert len(scan_all(ddb, "wcapped")) == ITEMS


def test_unprocessed_retries_that_make_progress_do_not_use_up_the_budget(dynalite, env):
    """Every attempt writes half of what is left: slow, but never stuck, so it must finish even
    with a budget of 2 attempts (today each attempt counts, and this fails)."""
    patch, ddb, backup = env
    with ThrottleProxy(dynalite.url, unprocessed_every=1) as proxy:
        result = _restore(proxy, patch, backup, "wslow", write_wcu=100000, workers=1,
                          retry=RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002))
    assert proxy.injected_unprocessed > 0
    assert result.items == result.written == ITEMS == len(scan_all(ddb, "wslow"))


def test_exhausted_throttling_fails_saying_how_many_are_missing_and_what_to_do(dynalite, env):
    patch, ddb, backup = env
    with ThrottleProxy(dynalite.url, write_wcu_per_s=0.0001, window_s=36000) as proxy:
        with pytest.raises(RetriesExhaustedError) as info:
            _restore(proxy, patch, backup, "wfail", write_wcu=100000, workers=1,
                     retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02))
    assert proxy.throttled.get("BatchWriteItem", 0) > 0
    message, hint = info.value.message, info.value.hint
    written = len(scan_all(ddb, "wfail"))
    assert written < ITEMS and f"{ITEMS - written} of {ITEMS} items are not written" in message
    assert "--write-share/--write-wcu" in hint and "--resume" in hint and "--read-" not in message + hint
