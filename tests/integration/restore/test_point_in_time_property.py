"""Property: restore --at T equals a model of the table at T, for random writes and random T.

The base is a real scan backup of a moto table; the change log is hand-built with
format/change_log's own builders (tests/support/change_log_vault.py), so its timestamps are
whole seconds chosen by the test (moto's own stream runs in real time: the follower's
end-to-end test is tests/integration/restore/test_point_in_time.py). Drawn: puts, updates
(a MODIFY with the whole new image), deletes and batch writes (several records in one second)
over a small key pool; writes before the base are applied to the table and logged too; the
records cut into segments at random, with overlapping duplicate segments (a second or
restarted follower), and a shard split (the child's sequence numbers start below the parent's:
lineage, not sequence, orders them). The model of the table at T applies every write stamped at
or before T; the restored table must equal it, every attribute.
"""

from __future__ import annotations

import base64
import itertools
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.demo import load_items
from ddbvault.errors import IntegrityError
from ddbvault.format import change_log as fmt
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.point_in_time import restore_at
from ddbvault.storage.local import LocalStore
from ddbvault.vault.change_log import ChangeLog, seconds_of, utc_text
from ddbvault.vault.reader import open_backup
from tests.support.change_log_vault import put_closed, put_segment, put_start, record
from tests.support.tables import canonical_items, create_table, scan_all, wire

pytestmark = pytest.mark.integration
_counter = itertools.count()

KEYS = [("a", "1"), ("a", "2"), ("b", "1"), ("c", "7"), ("d", "1")]
values = st.one_of(st.text(max_size=8).map(lambda s: {"S": s}),
                   st.integers(-10 ** 6, 10 ** 6).map(lambda n: {"N": str(n)}),
                   st.binary(max_size=6).map(lambda b: {"B": base64.b64encode(b).decode()}),
                   st.lists(st.integers(0, 9).map(lambda n: {"N": str(n)}), max_size=3).map(lambda v: {"L": v}))
images = st.dictionaries(st.sampled_from(["x", "y", "z"]), values, max_size=3)
# one write: (key index, image or None for a delete, seconds after the previous write: 0 = same second)
writes = st.lists(st.tuples(st.integers(0, len(KEYS) - 1), st.one_of(st.none(), images), st.integers(0, 2)),
                  min_size=1, max_size=25)


def _item(key: tuple[str, str], image: dict) -> dict:
    return {**image, "pk": {"S": key[0]}, "sk": {"N": key[1]}}


def _model(writes_at: list[tuple[int, tuple, dict | None]], at: int) -> dict:
    table = {}
    for t, key, image in writes_at:
        if t <= at:
            if image is None:
                table.pop(key, None)
            else:
                table[key] = _item(key, image)
    return canonical_items(list(table.values()))


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(before=writes, after=writes, cuts=st.lists(st.integers(1, 6), min_size=1, max_size=10),
       overlaps=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 6)), max_size=3),
       split=st.one_of(st.none(), st.integers(0, 25)), picks=st.lists(st.floats(0, 1), min_size=1, max_size=2))
def test_restore_at_equals_the_model(before, after, cuts, overlaps, split, picks, ddb, aws_env,
                                     tmp_path_factory, monkeypatch):
    n = next(_counter)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    # the hand-built log stamps the writes after the base up to minutes ahead of this clock; a
    # reader never takes the log as complete past its own "now", so it is moved past them
    monkeypatch.setattr(ChangeLog, "clock", staticmethod(lambda: time.time() + 86400))
    source, dest = f"pit-src-{n}", tmp_path_factory.mktemp("vault")
    create_table(ddb, source)
    # writes before the base: applied to the table, and logged 100 s before it (the log starts earlier)
    state: dict = {}
    for index, image, _ in before:
        if image is None:
            state.pop(KEYS[index], None)
        else:
            state[KEYS[index]] = _item(KEYS[index], image)
    load_items(ddb, source, [_client(item) for item in state.values()])
    base = backup_table(source, str(dest), BackupOptions(read_rcu=100000, segments=1))
    manifest = open_backup(base.url).manifest
    start, finished = seconds_of(manifest.started_at), seconds_of(manifest.finished_at) + 1
    timed = [(start - 100 + i, KEYS[i2], image) for i, (i2, image, _) in enumerate(before)]
    t = finished - 1  # writes after the base begin in its last second (the scan is fuzzy: they are replayed)
    for index, image, step in after:
        t += step
        timed.append((t, KEYS[index], image))
    _write_log(LocalStore(str(dest)), source, timed, cuts, overlaps, split, covered_from=start - 200)
    end = t + 1  # the last segment's written_at
    for number, pick in enumerate(picks):
        at = finished + round(pick * (end - finished))
        target = f"pit-dst-{n}-{number}"
        restore_at(f"{dest}/{source}", target, utc_text(at), RestoreOptions(write_wcu=100000), restore_backup)
        assert canonical_items(wire(scan_all(ddb, target))) == _model(timed, at), f"at {at - finished}s"
        ddb.delete_table(TableName=target)
    ddb.delete_table(TableName=source)


def _client(value):
    """A wire-form item (or value) as the boto3 client takes it: B as bytes, not base64."""
    if isinstance(value, dict) and set(value) == {"B"}:
        return {"B": base64.b64decode(value["B"])}
    if isinstance(value, dict) and set(value) == {"L"}:
        return {"L": [_client(v) for v in value["L"]]}
    return {name: _client(v) for name, v in value.items()} if "pk" in value else value


def _write_log(store: LocalStore, table: str, timed: list, cuts: list[int], overlaps: list, split: int | None,
               covered_from: int) -> None:
    """The writes as stream records cut into segments (see the module docstring)."""
    put_start(store, covered_from, table=table)
    shards: dict[str, list[bytes]] = {"shardId-1": [], "shardId-2": []}
    for i, (t, key, image) in enumerate(timed):
        child = split is not None and i >= split
        shard = "shardId-2" if child else "shardId-1"
        seq = (i + 1 if not child else i - split + 1) + (0 if child else 1000)
        shards[shard].append(record(seq, t, key[0], image, sk=key[1]))
    for shard, records in shards.items():
        if not records:
            continue
        parent = "shardId-1" if shard == "shardId-2" and shards["shardId-1"] else None
        position, cut, previous = 0, 0, None
        while position < len(records):
            size = cuts[cut % len(cuts)]
            chunk = records[position:position + size]
            put_segment(store, chunk, table=table, shard=shard, parent=parent, continues=previous)
            previous = str(fmt.parse_record(chunk[-1], shard).sequence)
            position, cut = position + size, cut + 1
        for offset, size in overlaps:  # a second follower's segment over the same records
            chunk = records[offset % len(records):offset % len(records) + size]
            try:
                put_segment(store, chunk, table=table, shard=shard, parent=parent)
            except IntegrityError as exc:  # the very same range exists: the same data, as a racing follower finds
                assert "existing object" in exc.message
        if shard == "shardId-1" and split is not None and shards["shardId-2"]:
            # a split closes the parent: the follower read it to its end (closed.json), so the
            # log's end is the child's, not held back by a parent that looks open
            last_time = max(t for t, _, _ in timed[:split]) if split else covered_from
            put_closed(store, int(previous), last_time + 1, shard=shard, table=table)
