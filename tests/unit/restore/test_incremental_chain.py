"""restore --then: the chain of incremental windows is checked before any table is touched."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ddbvault.errors import IntegrityError, UsageError
from ddbvault.format.manifest import Manifest
from ddbvault.restore.incremental import check_chain, point_in_time

ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/t"


def _backup(url: str, export: dict | None, started_at: str = "2026-11-30T10:00:00.000Z", table_arn: str = ARN):
    manifest = Manifest(tool_version="x", backup_id="20261130T100000Z-abcdef", source={"table_arn": table_arn},
                        schema={}, options={}, started_at=started_at, finished_at="b", objects=[],
                        consumed_capacity={}, export=export)
    return SimpleNamespace(url=url, manifest=manifest)


def full(time: str = "2026-11-30T10:00:00Z"):
    return _backup("s3://v/t/full", {"arn": f"{ARN}/export/1", "type": "FULL_EXPORT", "export_time": time})


def inc(start: str, end: str, url: str | None = None, table_arn: str = ARN):
    return _backup(url or f"s3://v/t/{start}", {"arn": f"{ARN}/export/2", "type": "INCREMENTAL_EXPORT",
                                                "from": start, "to": end}, table_arn=table_arn)


def test_a_chain_from_the_base_point_in_time_is_accepted():
    check_chain(full(), [inc("2026-11-30T09:50:00Z", "2026-11-30T10:30:00Z"),
                         inc("2026-11-30T10:30:00Z", "2026-11-30T11:00:00Z"),
                         inc("2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z")])
    check_chain(full(), [inc("2026-11-30T10:00:00Z", "2026-11-30T10:15:00Z")])  # from == the base's time


def test_a_scan_base_chains_from_its_start():
    scan = _backup("s3://v/t/scan", None, started_at="2026-11-30T10:00:00.123Z")
    assert point_in_time(scan) == "2026-11-30T10:00:00.123Z"
    check_chain(scan, [inc("2026-11-30T10:00:00Z", "2026-11-30T10:20:00Z")])
    with pytest.raises(UsageError, match="from at or before 2026-11-30T10:00:00.123Z"):
        check_chain(scan, [inc("2026-11-30T10:00:01Z", "2026-11-30T10:20:00Z")])


@pytest.mark.parametrize("chain,message", [
    ([("2026-11-30T10:00:01Z", "2026-11-30T10:30:00Z")], "needs a window from at or before 2026-11-30T10:00:00Z"),
    ([("2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z")], "to after it"),  # ends at the base: nothing after it
    ([("2026-11-30T09:50:00Z", "2026-11-30T10:30:00Z"), ("2026-11-30T10:31:00Z", "2026-11-30T11:00:00Z")],
     "needs a window that starts at 2026-11-30T10:30:00Z"),  # a gap
    ([("2026-11-30T09:50:00Z", "2026-11-30T10:30:00Z"), ("2026-11-30T10:29:00Z", "2026-11-30T11:00:00Z")],
     "needs a window that starts at 2026-11-30T10:30:00Z"),  # an overlap
])
def test_windows_that_do_not_chain_are_refused_naming_the_gap(chain, message):
    with pytest.raises(UsageError, match=message) as raised:
        check_chain(full(), [inc(start, end) for start, end in chain])
    assert "gap or an overlap" in raised.value.message and raised.value.hint


def test_the_base_must_be_full_and_every_then_an_incremental_of_the_same_table():
    with pytest.raises(UsageError, match="the base must be a full backup"):
        check_chain(inc("2026-11-30T09:50:00Z", "2026-11-30T10:30:00Z"), [])
    with pytest.raises(UsageError, match="is not an incremental export"):
        check_chain(full(), [full()])
    with pytest.raises(UsageError, match="is of table arn:aws:dynamodb:us-east-1:123456789012:table/other"):
        check_chain(full(), [inc("2026-11-30T09:50:00Z", "2026-11-30T10:30:00Z",
                                 table_arn="arn:aws:dynamodb:us-east-1:123456789012:table/other")])


def test_a_base_time_that_is_not_a_utc_time_is_one_integrity_error():
    scan = _backup("s3://v/t/scan", None, started_at="yesterday")
    with pytest.raises(IntegrityError, match="s3://v/t/scan: its manifest's point in time is not a UTC time"):
        check_chain(scan, [inc("2026-11-30T10:00:00Z", "2026-11-30T10:20:00Z")])
