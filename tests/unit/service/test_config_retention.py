"""A service job's `retention:` keep policy: the same keys and rules as `backup --keep`, inherited
from `defaults`, handed to the backup as BackupOptions.keep; a malformed one refused."""

from __future__ import annotations

import pytest

from ddbvault.errors import UsageError
from ddbvault.format.retention import KeepPolicy
from ddbvault.service.jobs import backup_options
from tests.support.service_config import load_text as _load


def test_retention_reaches_the_backup_and_is_inherited(tmp_path):
    config = _load(tmp_path, "defaults: {destination: /v, retention: {daily: 7, monthly: 12}}\n"
                             "jobs:\n- {name: a, table: orders, interval_seconds: 60}\n"
                             "- {name: b, table: users, interval_seconds: 60, retention: {weekly: 4}}\n")
    a, b = (backup_options(config.effective(job)) for job in config.jobs)
    assert a.keep == KeepPolicy(daily=7, monthly=12)
    assert b.keep == KeepPolicy(weekly=4)


def test_no_retention_means_no_policy(tmp_path):
    config = _load(tmp_path, "jobs: [{name: a, table: orders, interval_seconds: 60, destination: /v}]\n")
    assert backup_options(config.effective(config.jobs[0])).keep is None


@pytest.mark.parametrize("value, why", [("{hourly: 3}", "unknown tier 'hourly'"), ("{daily: '7'}", "whole number"),
                                        ("{daily: 0}", "keeps nothing"), ("daily=7", "valid dictionary")])
def test_a_malformed_retention_is_refused_naming_the_field(tmp_path, value, why):
    with pytest.raises(UsageError) as caught:
        _load(tmp_path, f"jobs: [{{name: a, table: orders, interval_seconds: 60, destination: /v, "
                        f"retention: {value}}}]\n")
    assert "retention" in caught.value.message and why in caught.value.message
