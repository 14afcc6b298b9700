"""The pure pieces that `ddbvault list --rpo` and `ddbvault status` share (service/rpo.py): a
Protection's state, which listed entry carries its table's verdict, and how it is shown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ddbvault.service.rpo import Protection, rpo_fields, rpo_mark, rpo_marks
from ddbvault.vault.listing import COMPLETE, INCOMPLETE, INVALID, BackupEntry

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
DAY = 24 * 3600


def _entry(table: str, hours_ago: float, status: str = COMPLETE) -> BackupEntry:
    start = NOW - timedelta(hours=hours_ago)
    backup_id = start.strftime("%Y%m%dT%H%M%SZ") + "-000000"
    return BackupEntry(table=table, backup_id=backup_id, url=f"/v/{table}/{backup_id}",
                       time=start.isoformat().replace("+00:00", "Z"), status=status)


def test_each_table_is_judged_on_its_newest_complete_backup():
    fresh, old, running = _entry("orders", 5), _entry("orders", 30), _entry("orders", 1, INCOMPLETE)
    stale, stale_older = _entry("users", 30), _entry("users", 50)
    marks = rpo_marks([running, fresh, stale, old, stale_older], 26 * 3600, NOW)
    assert set(marks) == {fresh.url, stale.url}
    assert marks[fresh.url].within and marks[fresh.url].age_seconds == 5 * 3600
    assert marks[fresh.url].job == marks[fresh.url].table == "orders"
    assert not marks[stale.url].within and marks[stale.url].age_seconds == 30 * 3600


def test_a_table_with_no_complete_backup_is_out_on_its_newest_entry():
    newest, older = _entry("orders", 1, INCOMPLETE), _entry("orders", 3, INVALID)
    marks = rpo_marks([older, newest], DAY, NOW)
    assert list(marks) == [newest.url]
    assert marks[newest.url].state == "out" and marks[newest.url].last_good_at is None
    assert rpo_marks([], DAY, NOW) == {}


def test_the_json_fields_carry_the_verdict_or_nulls():
    within = Protection("t", "t", DAY, NOW, NOW - timedelta(hours=2), "/v/t/x")
    assert rpo_fields(within) == {"within_rpo": True, "age_seconds": 7200.0}
    assert rpo_fields(Protection("t", "t", DAY, NOW)) == {"within_rpo": False, "age_seconds": None}
    assert rpo_fields(None) == {"within_rpo": None, "age_seconds": None}


def test_the_marks_and_states_say_within_out_or_unknown():
    within = Protection("t", "t", DAY, NOW, NOW - timedelta(hours=5), "/v/t/x")
    late = Protection("t", "t", DAY, NOW, NOW - timedelta(hours=30), "/v/t/x")
    never = Protection("t", "t", DAY, NOW)
    unlisted = Protection("t", "t", DAY, NOW, error="access denied")
    assert [rpo_mark(p) for p in (within, late, never)] == [
        "within (5h old)", "OUT (30h old)", "OUT (no backup yet)"]
    assert [p.state for p in (within, late, never, unlisted)] == ["within", "out", "out", "unknown"]
