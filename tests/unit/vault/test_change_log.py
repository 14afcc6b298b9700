"""vault/change_log.py on hand-built logs: de-duplication of overlapping segments, lineage order
across a split, the restorable window and gaps, hostile objects, and bounds."""

from __future__ import annotations

import gzip
import time

import orjson
import pytest

from ddbvault.errors import IntegrityError, NotFoundError, UsageError
from ddbvault.format import change_log as fmt
from ddbvault.format.dataline import KeySpec
from ddbvault.storage.local import LocalStore
from ddbvault.vault.change_log import Base, newest_changes, read_change_log, utc_text
from tests.support.change_log_vault import (LABEL, T0, TABLE, MemoryStore, key, put_gap, put_segment, put_start,
                                            record, segment)

SPEC = KeySpec((("pk", "S"), ("sk", "N")))


@pytest.fixture()
def store(tmp_path) -> LocalStore:
    return LocalStore(str(tmp_path))


def v(n) -> dict:
    return {"v": {"N": str(n)}}


def sequences(log, since=0, until=2 ** 40) -> list[int]:
    return [r.sequence for r in log.records(since, until)]


def test_overlapping_segments_give_each_record_once_and_a_contained_one_is_never_read(store):
    records = [record(seq, T0 + seq, f"k{seq % 3}", v(seq)) for seq in range(1, 21)]
    put_start(store, T0)
    put_segment(store, records[0:10])   # 1-10
    put_segment(store, records[0:5])    # 1-5: inside 1-10 (a second follower's segment)
    put_segment(store, records[4:15], continues="4")   # 5-15: overlaps
    put_segment(store, records[10:20], continues="10")  # 11-20
    log = read_change_log(store, "", TABLE)
    assert log.segment_count == 4
    assert sequences(log) == list(range(1, 21))
    assert log.reads == 3  # 1-5 is never read
    newest = newest_changes(log, 0, T0 + 100, SPEC)
    assert {fp: r.sequence for fp, r in newest.items()} == {
        r.change.fingerprint: r.sequence for r in (log.records(0, 2 ** 40))
        if r.sequence in (18, 19, 20)}


def test_lineage_orders_a_child_shard_after_its_parent_whatever_the_sequences(store):
    put_start(store, T0)
    put_segment(store, [record(500, T0 + 1, "a", v(1)), record(501, T0 + 2, "b", v(1))], shard="shardId-parent")
    # the child, split off the parent, has smaller sequence numbers: lineage still makes it newer
    put_segment(store, [record(100, T0 + 3, "a", v(2))], shard="shardId-child", parent="shardId-parent")
    put_segment(store, [record(200, T0 + 3, "b", None)], shard="shardId-other")  # unrelated: sequence decides
    log = read_change_log(store, "", TABLE)
    newest = newest_changes(log, 0, T0 + 10, SPEC)
    by_pk = {r.change.keys["pk"]["S"]: r for r in newest.values()}
    assert (by_pk["a"].shard_id, by_pk["a"].change.new_image["v"]) == ("shardId-child", {"N": "2"})
    assert by_pk["b"].shard_id == "shardId-parent"  # 501 > 200, no lineage between them
    # as of T0 + 2 the child's record is not yet there
    assert newest_changes(log, 0, T0 + 2, SPEC)[by_pk["a"].change.fingerprint].shard_id == "shardId-parent"


def test_a_later_stream_wins_over_an_earlier_one(store):
    put_start(store, T0)
    put_start(store, T0 + 50, label="2026-11-30T11:00:00.000")
    put_segment(store, [record(900, T0 + 10, "a", v(1))])
    put_segment(store, [record(1, T0 + 60, "a", None)], label="2026-11-30T11:00:00.000")
    log = read_change_log(store, "", TABLE)
    (only,) = newest_changes(log, 0, T0 + 100, SPEC).values()
    assert only.change.new_image is None and only.label == "2026-11-30T11:00:00.000"


def _log_with_gap(store):
    put_start(store, T0)
    put_segment(store, [record(s, T0 + s, "a", v(s)) for s in range(1, 400, 10)], written_at=T0 + 500)
    put_gap(store, T0 + 200, T0 + 300)
    return read_change_log(store, "", TABLE)


def test_window_and_gap_refusal_name_the_gap_and_the_nearest_times(store):
    log = _log_with_gap(store)
    bases = [Base("b1", T0 + 100, T0 + 110), Base("b2", T0 + 310, T0 + 320)]
    assert log.known_until() == T0 + 500
    assert log.window(bases) == [(T0 + 110, T0 + 200), (T0 + 320, T0 + 500)]
    assert log.base_for(T0 + 150, bases).url == "b1"
    assert log.base_for(T0 + 400, bases).url == "b2"
    with pytest.raises(UsageError) as refused:
        log.base_for(T0 + 250, bases)
    assert f"gap from {utc_text(T0 + 200)} to {utc_text(T0 + 300)} (follower_down)" in refused.value.message
    assert utc_text(T0 + 200) in refused.value.hint and utc_text(T0 + 320) in refused.value.hint
    with pytest.raises(UsageError, match="known complete only"):
        log.base_for(T0 + 501, bases)
    with pytest.raises(NotFoundError, match="no complete full backup"):
        log.base_for(T0 + 105, bases)


def test_a_base_older_than_the_log_coverage_is_not_a_start(store):
    put_start(store, T0 + 50)
    put_segment(store, [record(1, T0 + 60, "a", v(1))], written_at=T0 + 100)
    log = read_change_log(store, "", TABLE)
    assert log.window([Base("old", T0 + 10, T0 + 20)]) == []
    with pytest.raises(NotFoundError, match="covers only from"):
        log.base_for(T0 + 90, [Base("old", T0 + 10, T0 + 20)])
    assert log.window([Base("new", T0 + 55, T0 + 58)]) == [(T0 + 58, T0 + 100)]


def test_a_gap_with_no_start_blocks_everything_before_its_end(store):
    put_start(store, T0)
    put_segment(store, [record(1, T0 + 60, "a", v(1))], written_at=T0 + 100)
    put_gap(store, None, T0 + 30, "trimmed")
    log = read_change_log(store, "", TABLE)
    assert log.window([Base("b", T0 + 10, T0 + 20), Base("c", T0 + 40, T0 + 45)]) == [(T0 + 45, T0 + 100)]


def test_only_the_segments_in_range_are_read(store):
    put_start(store, T0)
    for n in range(20):
        put_segment(store, [record(n * 10 + 1, T0 + n * 10, "a", v(n))], continues=str(n * 10 - 9) if n else None)
    log = read_change_log(store, "", TABLE)
    assert sequences(log, T0 + 100, T0 + 120) == [101, 111, 121]
    # the three in range, and the one on each side whose header the bisection trusted
    assert log.reads == 5 and log.header_reads <= 2 * 5  # two bisections of 20 headers


def test_a_segment_whose_records_do_not_match_its_sha256_is_refused(store):
    put_start(store, T0)
    name = put_segment(store, [record(1, T0, "a", v(7))])
    head, body = gzip.decompress(store.get(name)).split(b"\n", 1)
    tampered = body.replace(b'"N":"7"', b'"N":"8"', 1)
    assert tampered != body
    path = store.path_of(name)
    path.unlink()
    store.put_new(name, gzip.compress(head + b"\n" + tampered))
    log = read_change_log(store, "", TABLE)
    with pytest.raises(IntegrityError, match="records_sha256") as refused:
        list(log.records(0, 2 ** 40))
    assert name in refused.value.message


def test_a_segment_of_another_table_is_refused(store):
    put_start(store, T0)
    put_segment(store, [record(1, T0, "a", v(1))], table="another", under=TABLE)
    log = read_change_log(store, "", TABLE)
    with pytest.raises(IntegrityError, match="another table"):
        list(log.records(0, 2 ** 40))


def test_a_segment_whose_count_is_wrong_is_refused(store):
    put_start(store, T0)
    name = put_segment(store, [record(1, T0, "a", v(1)), record(2, T0, "b", v(1))])
    head, body = gzip.decompress(store.get(name)).split(b"\n", 1)
    header = orjson.loads(head)
    header["count"] = 3
    store.path_of(name).unlink()
    store.put_new(name, gzip.compress(orjson.dumps(header) + b"\n" + body))
    with pytest.raises(IntegrityError, match="record lines, its header says 3"):
        list(read_change_log(store, "", TABLE).records(0, 2 ** 40))


def test_a_segment_whose_key_names_another_range_is_refused(store):
    put_start(store, T0)
    name = fmt.segment_key("", TABLE, LABEL, "shardId-1", 1, 5)
    store.put_new(name, segment([record(1, T0, "a", v(1))]))
    with pytest.raises(IntegrityError, match="sequence range differs from its key"):
        list(read_change_log(store, "", TABLE).records(0, 2 ** 40))


def test_keys_that_are_no_log_keys_are_ignored_and_never_read():
    store = MemoryStore()
    put_start(store, T0)
    put_segment(store, [record(1, T0, "a", v(1))])
    planted = [f"{TABLE}/changes/{LABEL}/../../../etc/passwd", f"{TABLE}/changes/{LABEL}/shardId-1/x.jsonl.gz",
               f"{TABLE}/changes/gaps/../start.json"]
    for name in planted:
        store.objects[name] = b"junk"
    log = read_change_log(store, "", TABLE)
    assert sorted(log.ignored) == sorted(planted)
    assert sequences(log) == [1]
    assert not set(planted) & set(store.gets)


def test_a_gap_or_start_of_another_table_is_refused(store):
    put_start(store, T0)
    put_gap(store, T0, T0 + 1, table="another", under=TABLE)
    with pytest.raises(IntegrityError, match="another table"):
        read_change_log(store, "", TABLE)


def test_200000_tiny_segments_are_listed_within_bounds_and_bisected():
    count = 200_000
    names = [fmt.segment_key("", TABLE, LABEL, "shardId-1", n, n) for n in range(1, count + 1)]

    def make(name: str) -> bytes:
        n = fmt.parse_log_key(name.split("/changes/", 1)[1]).first_seq
        return segment([record(n, T0 + n, "k", v(n))], continues=str(n - 1) if n > 1 else None)

    store = MemoryStore(names, make)
    put_start(store, T0)
    started = time.monotonic()
    log = read_change_log(store, "", TABLE)
    assert log.segment_count == count
    assert sequences(log, T0 + 150_000, T0 + 150_002) == [150_000, 150_001, 150_002]
    assert log.known_until() == T0 + count + 1
    assert len(store.gets) < 62  # bisection: 2 x 18 headers, 3 + 2 segments, start.json, the newest header
    assert time.monotonic() - started < 30
    with pytest.raises(IntegrityError, match="more than 100,000 objects"):
        read_change_log(store, "", TABLE, max_keys=100_000)


def test_bases_are_complete_full_backups_with_their_span():
    from ddbvault.vault.change_log import bases_of
    from ddbvault.vault.listing import BackupEntry

    def entry(backup_id: str, **fields) -> BackupEntry:
        return BackupEntry(table=TABLE, backup_id=backup_id, url=backup_id, time="", status=fields.pop("status", "complete"),
                           **fields)

    entries = [entry("scan", started_at="2026-11-30T10:00:00.900Z", finished_at="2026-11-30T10:00:05.100Z"),
               entry("whole", started_at="2026-11-30T10:00:00Z", finished_at="2026-11-30T10:00:05Z"),
               entry("export", started_at="2026-11-30T11:00:00Z", finished_at="2026-11-30T11:09:00Z",
                     export_time="2026-11-30T10:30:00Z", engine="export"),
               entry("incremental", started_at="x", finished_at="x", window={"from": "a", "to": "b"}),
               entry("schema", started_at="2026-11-30T10:00:00Z", finished_at="2026-11-30T10:00:01Z", schema_only=True),
               entry("expired", started_at="2026-11-30T10:00:00Z", finished_at="2026-11-30T10:00:01Z", expired=True),
               entry("running", status="incomplete"),
               entry("odd", started_at="yesterday", finished_at="today")]
    t = 1796032800  # 2026-11-30T10:00:00Z
    assert bases_of(entries) == [Base("scan", t, t + 6), Base("whole", t, t + 5), Base("export", t + 1800, t + 1800)]


def test_a_start_of_another_stream_is_refused(store):
    put_start(store, T0, label="2026-11-30T11:00:00.000", under=TABLE)
    from pathlib import Path

    moved = Path(store.path_of(fmt.start_key("", TABLE, LABEL)))
    moved.parent.mkdir(parents=True)
    Path(store.path_of(fmt.start_key("", TABLE, "2026-11-30T11:00:00.000"))).rename(moved)
    with pytest.raises(IntegrityError, match="another stream"):
        read_change_log(store, "", TABLE)


def test_without_a_log_nothing_is_restorable_and_the_refusal_says_why(store):
    log = read_change_log(store, "", TABLE)
    assert log.empty and log.window([Base("b", T0, T0 + 1)]) == []
    with pytest.raises(NotFoundError, match="has no change log"):
        log.base_for(T0 + 5, [Base("b", T0, T0 + 1)])


def test_a_restore_to_the_base_end_itself_needs_no_change(store):
    put_start(store, T0)
    put_segment(store, [record(1, T0 + 1, "a", v(1))], written_at=T0 + 20)
    log = read_change_log(store, "", TABLE)
    bases = [Base("old", T0 + 2, T0 + 3), Base("new", T0 + 10, T0 + 12)]
    assert log.base_for(T0 + 3, bases).url == "old"
    assert log.base_for(T0 + 12, bases).url == "new"  # the newest base that ended wins
    assert log.window(bases) == [(T0 + 3, T0 + 20)]


def test_overlapping_segments_that_disagree_on_a_sequence_are_refused_not_picked_from(store):
    put_start(store, T0)
    put_segment(store, [record(seq, T0 + seq, "a", v(seq)) for seq in range(1, 11)])  # 1-10
    # a second follower's copy of 5-15: other eventIDs (record() draws them) but the same changes: fine
    put_segment(store, [record(seq, T0 + seq, "a", v(seq)) for seq in range(5, 16)], continues="4")
    assert sequences(read_change_log(store, "", TABLE)) == list(range(1, 16))
    # a third copy, 7-20, whose sequence 9 holds another image than 1-10 and 5-15 do
    forged = [record(seq, T0 + seq, "a", v(seq if seq != 9 else 999_999)) for seq in range(7, 21)]
    put_segment(store, forged, continues="6")
    with pytest.raises(IntegrityError, match="holds sequence 9 of shard shardId-1 with another change") as refused:
        sequences(read_change_log(store, "", TABLE))
    assert "999999" not in refused.value.message
    # the same disagreement in the event or the time is refused too
    other = LocalStore(str(store.path_of("") / "other"))
    put_start(other, T0)
    put_segment(other, [record(seq, T0 + seq, "a", v(seq)) for seq in range(1, 11)])
    put_segment(other, [record(seq, T0 + seq + (seq == 10), "a", v(seq)) for seq in range(10, 12)], continues="9")
    with pytest.raises(IntegrityError, match="holds sequence 10"):
        sequences(read_change_log(other, "", TABLE))


def _rewrite_header(store, name: str, **fields) -> None:
    """Replace fields of a stored segment's header line (not covered by records_sha256)."""
    head, body = gzip.decompress(store.get(name)).split(b"\n", 1)
    header = {**orjson.loads(head), **fields}
    store.path_of(name).unlink()
    store.put_new(name, gzip.compress(orjson.dumps(header) + b"\n" + body))


@pytest.mark.parametrize(("liar", "shift"), [(4, -1000), (5, -1000), (5, 1000), (6, 1000)])
def test_a_header_that_lies_about_its_times_cannot_hide_records_from_a_restore(store, liar, shift):
    put_start(store, T0)
    names = [put_segment(store, [record(n * 10 + 1, T0 + n * 10, "a", v(n))],
                         continues=str(n * 10 - 9) if n else None) for n in range(10)]
    assert sequences(read_change_log(store, "", TABLE), T0 + 50, T0 + 50) == [51]
    # segment `liar` says it holds older or newer records than it does: 5 would be bisected out of
    # [T0+50, T0+50] and its record dropped; 4 and 6 are the neighbours the bisection trusts
    _rewrite_header(store, names[liar], first_time=utc_text(T0 + liar * 10 + shift),
                    last_time=utc_text(T0 + liar * 10 + shift))
    with pytest.raises(IntegrityError, match="first_time/last_time are not the records'"):
        sequences(read_change_log(store, "", TABLE), T0 + 50, T0 + 50)


def test_a_segment_written_in_the_future_does_not_make_the_future_restorable(store):
    put_start(store, T0)
    future = int(time.time()) + 365 * 86400
    put_segment(store, [record(1, T0 + 5, "a", v(1))], written_at=future)
    log = read_change_log(store, "", TABLE)
    assert log.known_until() <= time.time()
    with pytest.raises(UsageError, match="known complete only up to"):
        log.base_for(future - 10, [Base("b", T0 + 1, T0 + 2)])
    assert log.base_for(T0 + 10, [Base("b", T0 + 1, T0 + 2)]).url == "b"


def test_segments_of_one_shard_that_disagree_on_its_parent_are_refused(store):
    put_start(store, T0)
    put_segment(store, [record(1, T0 + 1, "a", v(1))], shard="shardId-child", parent="shardId-p1")
    put_segment(store, [record(2, T0 + 2, "a", v(2))], shard="shardId-child", parent="shardId-p2", continues="1")
    with pytest.raises(IntegrityError, match="another parent shard than the shard's other segments"):
        sequences(read_change_log(store, "", TABLE))


def test_shards_that_are_each_others_parent_stop_a_restore(store):
    put_start(store, T0)
    put_segment(store, [record(5, T0 + 1, "a", v(1))], shard="shardId-a", parent="shardId-b")
    put_segment(store, [record(6, T0 + 2, "a", v(2))], shard="shardId-b", parent="shardId-a")
    log = read_change_log(store, "", TABLE)
    with pytest.raises(IntegrityError, match="loop"):
        newest_changes(log, 0, T0 + 10, SPEC)


def test_the_follower_writes_no_log_longer_than_readers_read(store, monkeypatch):
    from ddbvault.follow import vault_state
    from ddbvault.vault import change_log

    # one bound for both sides: a follower that listed 1.5 million keys used to carry on writing a
    # log that restore, list and history then refused whole
    assert vault_state.MAX_LOG_KEYS == change_log.MAX_KEYS == fmt.MAX_LOG_KEYS
    put_start(store, T0)
    for n in range(1, 4):
        put_segment(store, [record(n, T0 + n, "a", v(n))], continues=str(n - 1) if n > 1 else None)
    monkeypatch.setattr(vault_state, "MAX_LOG_KEYS", 3)
    with pytest.raises(IntegrityError, match="more than 3 objects, the most ddbvault lists") as refused:
        vault_state.read_log_state(store, "", TABLE)
    assert "new destination prefix" in refused.value.hint
    with pytest.raises(IntegrityError, match="more than 3 objects, the most ddbvault lists") as refused:
        read_change_log(store, "", TABLE, max_keys=3)
    assert "--segment-max-seconds" not in refused.value.hint  # no such option


def test_a_missing_segment_in_the_range_stops_the_read_instead_of_skipping_its_records(store):
    put_start(store, T0)
    names = [put_segment(store, [record(n * 10 + 1, T0 + n * 10, "a", v(n))],
                         continues=str(n * 10 - 9) if n else None) for n in range(10)]
    store.path_of(names[5]).unlink()  # lost, or deleted by a lifecycle rule
    log = read_change_log(store, "", TABLE)
    with pytest.raises(IntegrityError, match=r"continues from sequence 51 of shard shardId-1, but the vault holds "
                                             r"that shard only up to 41 before it: a segment is missing"):
        sequences(log, T0 + 30, T0 + 80)
    assert sequences(log, T0 + 61, T0 + 80) == [71, 81]  # the hole is stamped before what is needed
    store.path_of(names[0]).unlink()  # the oldest gone: only what preceded it would be missed
    assert sequences(read_change_log(store, "", TABLE), T0 + 20, T0 + 39) == [21, 31]
    with pytest.raises(IntegrityError, match="continues from sequence 51"):  # 51-60 may hold second T0+40
        sequences(read_change_log(store, "", TABLE), T0 + 20, T0 + 40)
    with pytest.raises(IntegrityError, match="only up to nothing before it"):
        sequences(read_change_log(store, "", TABLE), T0 + 5, T0 + 40)


def test_an_ignored_key_cannot_forge_log_lines(caplog):
    store = MemoryStore()
    put_start(store, T0)
    store.objects[f"{TABLE}/changes/x\n2026-11-30 ERROR forged\x1b[2J" + "y" * 1000] = b"junk"
    with caplog.at_level("WARNING"):
        read_change_log(store, "", TABLE)
    (message,) = [r.getMessage() for r in caplog.records if "not a change-log object" in r.getMessage()]
    assert "\n" not in message and "\x1b" not in message and "\\n2026-11-30 ERROR forged" in message
    assert len(message) < 400


def test_a_hole_between_two_streams_blocks_a_restore_even_without_its_gap_object(store):
    later = "2026-11-30T11:00:00.000"
    put_start(store, T0)
    put_segment(store, [record(900, T0 + 10, "a", v(1))], written_at=T0 + 11)
    put_start(store, T0 + 50, label=later)  # the stream replaced: nothing logged from T0+11 to T0+50
    put_segment(store, [record(1, T0 + 60, "b", v(2))], label=later, written_at=T0 + 61)
    base = [Base("b", T0 + 1, T0 + 2)]
    log = read_change_log(store, "", TABLE)  # its stream_replaced gap object is lost
    assert log.window(base) == [(T0 + 2, T0 + 11)]
    with pytest.raises(UsageError, match=f"a gap from {utc_text(T0 + 11)} to {utc_text(T0 + 50)} "
                                         r"\(stream_replaced\)"):
        log.base_for(T0 + 55, base)
    assert log.base_for(T0 + 55, [Base("b2", T0 + 51, T0 + 52)]).url == "b2"  # a base after the hole
    # a stream with no segment is known to reach its start.json's written_at
    other = LocalStore(str(store.path_of("") / "other"))
    put_start(other, T0)
    put_start(other, T0 + 50, label=later)
    put_segment(other, [record(1, T0 + 60, "b", v(2))], label=later, written_at=T0 + 61)
    assert read_change_log(other, "", TABLE).implied_gaps()[0].start == T0
    assert read_change_log(other, "", TABLE).window(base) == []


def test_the_log_is_known_complete_only_as_far_as_its_most_behind_open_shard(store):
    put_start(store, T0)
    # two open shards (a table of two partitions): shard A's last segment was written at T0+20,
    # then the follower stopped with A's next records buffered; shard B's was written at T0+60
    put_segment(store, [record(1, T0 + 10, "a", v(1))], shard="shardId-A", written_at=T0 + 20)
    put_segment(store, [record(1, T0 + 50, "b", v(1))], shard="shardId-B", written_at=T0 + 60)
    base = [Base("b", T0 + 1, T0 + 2)]
    log = read_change_log(store, "", TABLE)
    assert log.known_until() == T0 + 20  # was T0+60: A's changes in (T0+20, T0+60] may be missing
    assert log.window(base) == [(T0 + 2, T0 + 20)]
    with pytest.raises(UsageError, match=f"known complete only up to {utc_text(T0 + 20)}"):
        log.base_for(T0 + 40, base)
    # once A is closed (read to its end), B alone bounds it
    (store.path_of("") / TABLE / "changes" / LABEL / "shardId-A" / "closed.json").write_bytes(b"{}")
    assert read_change_log(store, "", TABLE).known_until() == T0 + 60
