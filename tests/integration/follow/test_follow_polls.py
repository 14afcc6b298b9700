"""Poll records end to end (docs/continuous.md, "Quiet tables"): the real follower on moto_server,
stream reads through the Streams stand-in, days passed on the follower's and the stand-in's clocks
(no sleeping). A quiet table followed from cron writes poll records and no follower_down gap; a
real outage still gives its gap; restore --at reaches a quiet table's last poll."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.errors import UsageError
from ddbvault.follow import FollowMemory, FollowOptions, follow_table
from ddbvault.format import change_log as cl
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.point_in_time import restore_at
from ddbvault.vault.change_log import ChangeLog, read_change_log, utc_text
from tests.integration.follow.test_follow_standin import options, put, standin, table, vault  # noqa: F401
from tests.support import change_logs
from tests.support.change_logs import create_streamed
from tests.support.tables import canonical_items, scan_all, wire

pytestmark = pytest.mark.integration
H = 3600


def polls(store, table: str) -> list[cl.PollRecord]:
    return [cl.parse_poll(store.get(cl.changes_prefix("", table) + key))
            for key in change_logs.log_keys(store, "", table) if "/polls/" in key]


def later(hours: float):
    return lambda: time.time() + hours * H


def test_a_quiet_table_followed_from_cron_gets_poll_records_and_no_gap(ddb, standin, table, vault):  # noqa: F811
    dest, store = vault
    put(ddb, table, ["q1"])
    first = follow_table(options(table, dest))
    assert (first.records, first.polls, first.gaps) == (1, 0, [])  # the segment is new: no poll yet
    [(header, _)] = change_logs.segments(store, "", table)
    standin.now = later(12)
    noon = follow_table(options(table, dest, clock=later(12)))
    assert (noon.records, noon.polls, noon.gaps) == (0, 1, [])
    [poll] = polls(store, table)
    assert poll.shards == {header.shard_id: header.last_sequence}
    assert abs(poll.polled_at - (time.time() + 12 * H)) <= 10
    again = follow_table(options(table, dest, clock=later(12.5)))  # within the hour: no second poll
    assert (again.polls, again.gaps) == (0, [])
    standin.now = later(25)  # q1 is over 24 h old: trimmed, but the poll vouches nothing followed it
    next_day = follow_table(options(table, dest, clock=later(25)))
    assert next_day.gaps == [] and next_day.polls == 1 and next_day.records == 0
    assert change_logs.gaps(store, "", table) == []
    standin.now = lambda: time.time() + 25 * H + 5  # the log goes on: q2 is read after the trimmed q1
    standin.add_records(table, [{"dynamodb": {"Keys": {"pk": {"S": "q2"}}, "NewImage": {"pk": {"S": "q2"}}}}])
    assert follow_table(options(table, dest, clock=later(25))).records == 1
    assert [r.keys["pk"]["S"] for r in change_logs.records(store, "", table)] == ["q1", "q2"]


def test_passes_with_a_memory_write_poll_records_without_listing(ddb, standin, table, vault):  # noqa: F811
    dest, store = vault
    memory = FollowMemory()
    put(ddb, table, ["m1"])
    follow_table(options(table, dest), memory=memory)
    for hours in (6, 12, 18, 25, 30):
        standin.now = later(hours)
        result = follow_table(options(table, dest, clock=later(hours)), memory=memory)
        assert result.gaps == [] and result.polls == 1
    assert len(polls(store, table)) == 5 and change_logs.gaps(store, "", table) == []


def test_a_follower_down_for_a_day_after_its_last_poll_still_records_a_gap(ddb, standin, table, vault):  # noqa: F811
    dest, store = vault
    put(ddb, table, ["o1"])
    follow_table(options(table, dest))
    standin.now = later(2)
    assert follow_table(options(table, dest, clock=later(2))).polls == 1
    put(ddb, table, ["o2"])  # written, then the follower is down for 25 h: o2 is trimmed unread
    standin.now = later(27)
    result = follow_table(options(table, dest, clock=later(27)))
    [gap] = result.gaps
    before, after = polls(store, table)  # the poll of 2 h, then this run's, after its gap
    assert gap["reason"] == "follower_down" and cl.parse_utc(gap["from"]) == before.polled_at
    assert result.records == 0 and after.polled_at > cl.parse_utc(gap["to"])


def test_records_trimmed_after_a_recent_poll_still_give_a_gap(ddb, standin, table, vault):  # noqa: F811
    dest, store = vault
    put(ddb, table, ["t1"])
    follow_table(options(table, dest, poll_record_interval_s=0))
    assert len(polls(store, table)) == 1
    put(ddb, table, ["t2", "t3"])
    standin.trim_before(0)  # not retention: t2 and t3 are gone unread though the poll is recent
    put(ddb, table, ["t4"])
    result = follow_table(options(table, dest, poll_record_interval_s=0))
    assert [gap["reason"] for gap in result.gaps] == ["trimmed"] and result.records == 1


def test_restore_at_reaches_a_quiet_tables_last_poll(ddb, aws_env, tmp_path, monkeypatch):
    """A write, a base backup, more writes, then quiet: a time after the last write and before
    the poll's polled_at is restorable and equals the table; after polled_at it is refused.
    The follower's clock runs 3 minutes ahead, so the poll lies ahead of every write."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    name, dest = "polls-restore", str(tmp_path / "vault")
    create_streamed(ddb, name)
    follow = replace(FollowOptions(table=name, destination=dest, until_idle=True, poll_interval_s=0.05),
                     poll_record_interval_s=60)
    follow_table(follow)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"N": "1"}})
    time.sleep(1.1)
    backup_table(name, dest, BackupOptions(read_rcu=100000))
    time.sleep(1.1)
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "v": {"S": "late"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    last_write = int(time.time())
    follow_table(follow)
    assert follow_table(replace(follow, clock=lambda: time.time() + 180)).polls == 1
    # readers cap the log's end at their own clock (a future written_at proves nothing): run it
    # as far ahead as the follower's
    monkeypatch.setattr(ChangeLog, "clock", staticmethod(lambda: time.time() + 180))
    log = read_change_log(LocalStoreOf(dest), "", name)
    polled = log.polled_until()
    assert polled is not None and polled >= last_write + 170 and log.known_until() == polled
    at = last_write + 120  # after the last write and the last segment, before polled_at
    restore_at(f"{dest}/{name}", "polls-restored", utc_text(at), RestoreOptions(write_wcu=100000), restore_backup)
    assert canonical_items(wire(scan_all(ddb, "polls-restored"))) == canonical_items(wire(scan_all(ddb, name)))
    with pytest.raises(UsageError, match="known complete only"):
        restore_at(f"{dest}/{name}", "polls-never", utc_text(polled + 1), RestoreOptions(), restore_backup)


def LocalStoreOf(path: str):
    from ddbvault.storage.local import LocalStore
    return LocalStore(path)
