"""Property on moto_server's real stream: for random puts, updates, deletes and batch writes, a base
backup taken mid-stream, follower runs cut short (max_seconds) and a second, stale follower whose
segments overlap the first's, `restore --at T` equals a model of the table at T.

The model is a dict of wire-form items, updated by each write as DynamoDB applies it. Stream
times are whole seconds in the log (moto's carry milliseconds), so the model is sampled only
after crossing a second boundary: "the table at T" is the model when second T has ended. Each
example crosses a few seconds, so there are few examples (the test stays under a minute).
"""

from __future__ import annotations

import itertools
import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA
from ddbvault.follow import FollowOptions, follow_table
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.point_in_time import restore_at
from ddbvault.vault.change_log import utc_text
from tests.support.tables import canonical_items, scan_all, wire

pytestmark = pytest.mark.integration
_counter = itertools.count()

KEYS = [("a", "1"), ("a", "2"), ("b", "1"), ("c", "3")]
values = st.one_of(st.text(max_size=6).map(lambda s: {"S": s}),
                   st.integers(-999, 999).map(lambda n: {"N": str(n)}),
                   st.booleans().map(lambda b: {"BOOL": b}),
                   st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=3, unique=True).map(lambda v: {"SS": v}))
images = st.dictionaries(st.sampled_from(["x", "y"]), values, max_size=2)
key_index = st.integers(0, len(KEYS) - 1)
write = st.one_of(
    st.tuples(st.just("put"), key_index, images),
    st.tuples(st.just("update"), key_index, values),
    st.tuples(st.just("delete"), key_index, st.none()),
    st.tuples(st.just("batch"), st.lists(st.tuples(key_index, st.one_of(st.none(), images)), min_size=1, max_size=3,
                                         unique_by=lambda w: w[0]), st.none()))
# what the follower does after a phase: read until idle, run cut short, or a stale second follower
follower = st.sampled_from(["idle", "short", "stale"])
phases = st.lists(st.tuples(st.lists(write, min_size=1, max_size=4), follower), min_size=1, max_size=2)


def _key(index: int) -> dict:
    pk, sk = KEYS[index]
    return {"pk": {"S": pk}, "sk": {"N": sk}}


def _apply(ddb, table: str, model: dict, step) -> None:
    """One write, on the table and on the model."""
    kind, what, value = step
    if kind == "put":
        item = {**value, **_key(what)}
        ddb.put_item(TableName=table, Item=item)
        model[KEYS[what]] = item
    elif kind == "update":
        ddb.update_item(TableName=table, Key=_key(what), UpdateExpression="SET x = :x",
                        ExpressionAttributeValues={":x": value})
        model[KEYS[what]] = {**model.get(KEYS[what], _key(what)), "x": value}
    elif kind == "delete":
        ddb.delete_item(TableName=table, Key=_key(what))
        model.pop(KEYS[what], None)
    else:
        requests = []
        for index, image in what:
            if image is None:
                requests.append({"DeleteRequest": {"Key": _key(index)}})
                model.pop(KEYS[index], None)
            else:
                requests.append({"PutRequest": {"Item": {**image, **_key(index)}}})
                model[KEYS[index]] = {**image, **_key(index)}
        ddb.batch_write_item(RequestItems={table: requests})


def _second_ended() -> int:
    now = time.time()
    time.sleep(int(now) + 1.02 - now)
    return int(now)


def _follow(table: str, dest, how: str, stale) -> None:
    if how == "stale":  # a second follower, on an old view of the vault: its segments overlap
        follow_table(FollowOptions(table=table, destination=str(stale), until_idle=True, poll_interval_s=0.02))
        for root, _, files in os.walk(stale):
            for name in files:
                there = os.path.join(dest, os.path.relpath(os.path.join(root, name), stale))
                if not os.path.exists(there):
                    os.makedirs(os.path.dirname(there), exist_ok=True)
                    shutil.copyfile(os.path.join(root, name), there)
    else:
        follow_table(FollowOptions(table=table, destination=str(dest), until_idle=how == "idle",
                                   max_seconds=0.05 if how == "short" else None, poll_interval_s=0.02))


@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(before=st.lists(write, max_size=4), during=st.lists(write, max_size=3), after=phases)
def test_restore_at_equals_the_model_on_a_real_stream(before, during, after, ddb, aws_env, tmp_path_factory,
                                                      monkeypatch):
    n = next(_counter)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    table, dest, stale = f"pits-{n}", tmp_path_factory.mktemp("vault"), tmp_path_factory.mktemp("stale")
    ddb.create_table(TableName=table, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES,
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    model: dict = {}
    _follow(table, dest, "idle", stale)
    shutil.copytree(dest, stale, dirs_exist_ok=True)  # the stale follower's view: start.json only
    for step in before:
        _apply(ddb, table, model, step)
    _follow(table, dest, "short", stale)  # cut short: the next run continues after the vault's last sequence
    backup_table(table, str(dest), BackupOptions(read_rcu=100000, segments=1))
    for step in during:  # in the second the base ended, or just after: replayed
        _apply(ddb, table, model, step)
    _second_ended()
    samples = []
    for steps, how in after:
        for step in steps:
            _apply(ddb, table, model, step)
        samples.append((_second_ended(), canonical_items(list(model.values()))))
        _follow(table, dest, how, stale)
    _follow(table, dest, "idle", stale)
    for number, (at, expected) in enumerate(samples):
        target = f"pits-{n}-{number}"
        restore_at(f"{dest}/{table}", target, utc_text(at), RestoreOptions(write_wcu=100000), restore_backup)
        assert canonical_items(wire(scan_all(ddb, target))) == expected
        ddb.delete_table(TableName=target)
    ddb.delete_table(TableName=table)
