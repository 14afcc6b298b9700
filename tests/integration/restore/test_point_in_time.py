"""restore --at, --key, history and get end to end on moto_server's DynamoDB Streams: writes, a
base backup mid-stream, more writes, `follow` runs, and the table restored as of several times
equals the table as it was then (every attribute, compared after each second was crossed).

moto's stream times carry milliseconds; the log keeps whole seconds, so every phase of writes
ends by crossing a second boundary before the table is read as "the table at T". moto's stream
records base64-encode binaries twice, so no B value is written here (the property test, with a
hand-built log, covers them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA
from ddbvault.errors import NotFoundError, UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.follow import FollowOptions, follow_table
from ddbvault.restore import RestoreOptions, restore_backup
from ddbvault.restore.item_history import item_at, item_history
from ddbvault.restore.point_in_time import restore_at
from ddbvault.storage.local import LocalStore
from ddbvault.vault.change_log import utc_text
from tests.support.change_log_vault import put_gap
from tests.support.tables import canonical_items, scan_all, wire

pytestmark = pytest.mark.integration
TABLE = "pit-live"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def key(pk: str, sk: int) -> dict:
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def next_second() -> int:
    """Sleep past the next second boundary; returns the second just ended (every write made
    before the call is stamped at or before it)."""
    now = time.time()
    time.sleep(int(now) + 1.05 - now)
    return int(now)


def follow(dest) -> None:
    follow_table(FollowOptions(table=TABLE, destination=str(dest), until_idle=True, poll_interval_s=0.05))


@pytest.fixture(scope="module")
def history_of_a_table(ddb, aws_env, tmp_path_factory):
    """The table's states at several seconds, and the vault: (states by T, vault dir, base end)."""
    dest = tmp_path_factory.mktemp("vault")
    ddb.create_table(TableName=TABLE, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES,
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    follow(dest)  # start.json: the log covers the table from its stream's creation
    states = {}
    for n in range(6):
        ddb.put_item(TableName=TABLE, Item={**key("a", n), "v": {"N": str(n)}, "m": {"M": {"x": {"S": "é"}}}})
    states["before"] = (next_second(), scan_all(ddb, TABLE))
    backup_table(TABLE, str(dest), BackupOptions(read_rcu=100000, segments=2))
    next_second()
    ddb.update_item(TableName=TABLE, Key=key("a", 1), UpdateExpression="SET v = :v, l = :l",
                    ExpressionAttributeValues={":v": {"N": "-1.5"}, ":l": {"L": [{"NULL": True}, {"BOOL": False}]}})
    ddb.delete_item(TableName=TABLE, Key=key("a", 2))
    ddb.batch_write_item(RequestItems={TABLE: [
        {"PutRequest": {"Item": {**key("b", 1), "s": {"SS": ["x", "y"]}}}},
        {"DeleteRequest": {"Key": key("a", 3)}},
        {"PutRequest": {"Item": {**key("a", 4), "v": {"N": "12345678901234567890123456789012345678"}}}}]})
    states["t2"] = (next_second(), scan_all(ddb, TABLE))
    follow(dest)
    ddb.put_item(TableName=TABLE, Item={**key("a", 2), "v": {"S": "back"}})
    ddb.update_item(TableName=TABLE, Key=key("c", 9), UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"NS": ["1", "2"]}})  # creates: moto's two INSERTs
    ddb.delete_item(TableName=TABLE, Key=key("a", 1))
    ddb.put_item(TableName=TABLE, Item={**key("a", 5), "v": {"S": "five"}})
    states["t3"] = (next_second(), scan_all(ddb, TABLE))
    follow(dest)
    follow(dest)  # a second run finds nothing new and writes nothing
    return states, dest


def restored(ddb, target: str) -> dict:
    return canonical_items(wire(scan_all(ddb, target)))


@pytest.mark.parametrize("moment", ["t2", "t3"])
def test_restore_at_equals_the_table_then(history_of_a_table, ddb, moment, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    states, dest = history_of_a_table
    at, items = states[moment]
    result = restore_at(f"{dest}/{TABLE}", f"pit-{moment}", utc_text(at), RestoreOptions(write_wcu=100000),
                        restore_backup)
    assert restored(ddb, f"pit-{moment}") == canonical_items(wire(items))
    assert result.point_in_time["at"] == utc_text(at) and result.point_in_time["changes"] >= 4
    assert "whole seconds" in result.point_in_time["granularity"]


def test_the_cli_restores_at_a_time_and_states_its_granularity(history_of_a_table, ddb, tmp_path):
    states, dest = history_of_a_table
    at, items = states["t2"]
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(at), "--table", "pit-cli", "--write-wcu", "1000",
                   "--checkpoint", str(tmp_path / "cp.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert f"as of {utc_text(at)}" in proc.stdout and "granularity: whole seconds" in proc.stdout
    assert restored(ddb, "pit-cli") == canonical_items(wire(items))


def test_a_time_before_any_base_and_a_time_past_the_log_are_refused(history_of_a_table):
    states, dest = history_of_a_table
    with pytest.raises(NotFoundError, match="no complete full backup"):
        restore_at(f"{dest}/{TABLE}", "pit-never", utc_text(states["before"][0] - 5), RestoreOptions(), restore_backup)
    with pytest.raises(UsageError, match="known complete only") as refused:
        restore_at(f"{dest}/{TABLE}", "pit-never", utc_text(states["t3"][0] + 3600), RestoreOptions(), restore_backup)
    assert "nearest restorable time before" in refused.value.hint


def test_key_restores_roll_back_only_those_items_of_the_live_table(history_of_a_table, ddb, tmp_path):
    states, dest = history_of_a_table
    at, then = states["t2"]
    _, now = states["t3"]
    # a-1 existed at t2 and is deleted now: it comes back; a-2 did not exist at t2: it is deleted
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(at), "--table", "pit-copy", "--key", "pk=a,sk=1",
                   "--key", '{"pk":{"S":"a"},"sk":{"N":"2"}}')
    assert proc.returncode == 0, proc.stderr
    assert restored(ddb, "pit-copy") == {k: v for k, v in canonical_items(wire(then)).items() if k in (("a", "1"),)}
    (tmp_path / "keys").write_text('{"pk":{"S":"a"},"sk":{"N":"1"}}\n\n{"sk":{"N":"2"},"pk":{"S":"a"}}\n')
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(at), "--table", TABLE, "--keys-file",
                   str(tmp_path / "keys"), "--no-create", "--allow-non-empty", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["point_in_time"]
    assert (report["keys"], report["puts"], report["deletes"]) == (2, 1, 1)
    expected = canonical_items(wire(now))
    expected.pop(("a", "2"))
    expected[("a", "1")] = canonical_items(wire(then))[("a", "1")]
    assert restored(ddb, TABLE) == expected


def test_a_key_given_twice_is_one_item_not_an_absent_one(history_of_a_table, ddb, tmp_path):
    states, dest = history_of_a_table
    at, items = states["t2"]
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(at), "--table", "pit-twice", "--key", "pk=a,sk=5",
                   "--key", "sk=5,pk=a", "--key", '{"pk":{"S":"a"},"sk":{"N":"5.0"}}', "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)["point_in_time"]
    assert (report["keys"], report["puts"], report["absent"], report["repeated_keys"]) == (1, 1, 0, 2)
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(at), "--table", "pit-twice", "--key", "pk=a,sk=5",
                   "--key", "sk=5,pk=a", "--no-create", "--allow-non-empty")
    assert "restored 1 of 1 item " in proc.stdout and "0 absent then" in proc.stdout, proc.stdout
    assert "1 key named an item already given" in proc.stdout
    (item,) = [i for i in items if (i["pk"], i["sk"]) == ({"S": "a"}, {"N": "5"})]
    assert restored(ddb, "pit-twice") == canonical_items(wire([item]))


def test_get_and_history_read_an_item_from_the_vault(history_of_a_table):
    states, dest = history_of_a_table
    at, then = states["t2"]
    item, when = item_at(f"{dest}/{TABLE}", "pk=a,sk=1", utc_text(at))
    assert when == utc_text(at) and canonical_items(wire([item])) == {("a", "1"): canonical_items(wire(then))[("a", "1")]}
    proc = run_cli("get", TABLE, "--from", str(dest), "--key", "pk=a,sk=1", "--at", utc_text(at))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == item
    proc = run_cli("get", TABLE, "--from", str(dest), "--key", "pk=a,sk=3", "--at", utc_text(at))
    assert proc.returncode == ExitCode.NOT_FOUND and proc.stdout == "" and "did not exist" in proc.stderr
    versions = item_history(f"{dest}/{TABLE}", "pk=a,sk=1")
    assert [v["event"] for v in versions] == ["INSERT", "MODIFY", "REMOVE"]
    assert versions[1]["image"]["v"] == {"N": "-1.5"} and versions[2]["image"] is None
    assert [int(v["sequence"]) for v in versions] == sorted(int(v["sequence"]) for v in versions)
    proc = run_cli("history", TABLE, "--from", str(dest), "--key", "pk=a,sk=1", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout) == versions
    proc = run_cli("get", TABLE, "--from", str(dest), "--key", "pk=a,sk=1", "--at", "2026-01-01T00:00:00.5Z")
    assert proc.returncode == ExitCode.USAGE and "whole seconds" in proc.stderr and proc.stdout == ""


def test_list_shows_the_window_and_a_gap_refuses_a_restore_across_it(history_of_a_table, tmp_path):
    states, dest = history_of_a_table
    proc = run_cli("list", str(dest), "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = [e for e in json.loads(proc.stdout) if e["table"] == TABLE]
    window = entry["change_log"]["window"]
    assert len(window) == 1 and window[0]["from"] <= utc_text(states["t2"][0]) <= utc_text(states["t3"][0]) <= window[0]["to"]
    put_gap(LocalStore(str(dest)), states["t2"][0] + 0, states["t3"][0], "follower_down", table=TABLE)
    proc = run_cli("list", str(dest))
    assert f"gap {utc_text(states['t2'][0])} .. {utc_text(states['t3'][0])} (follower_down)" in proc.stdout
    proc = run_cli("restore", f"{dest}/{TABLE}", "--at", utc_text(states["t3"][0]), "--table", "pit-gap")
    assert proc.returncode == ExitCode.USAGE, proc.stderr
    assert "follower_down" in proc.stderr and "Try: --at" in proc.stderr and utc_text(states["t2"][0]) in proc.stderr


def test_an_s3_vault_restores_at_a_time_and_lists_its_window(ddb, s3, aws_env, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    s3.create_bucket(Bucket="pit-vault")
    dest, table = "s3://pit-vault/prod", "pit-s3"
    ddb.create_table(TableName=table, KeySchema=TABLE_KEY_SCHEMA, AttributeDefinitions=TABLE_ATTRIBUTES,
                     BillingMode="PAY_PER_REQUEST",
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    follow_table(FollowOptions(table=table, destination=dest, until_idle=True, poll_interval_s=0.05))
    ddb.put_item(TableName=table, Item={**key("a", 1), "v": {"S": "one"}})
    backup_table(table, dest, BackupOptions(read_rcu=100000, segments=1))
    next_second()
    ddb.put_item(TableName=table, Item={**key("a", 1), "v": {"S": "two"}})
    ddb.put_item(TableName=table, Item={**key("b", 2), "v": {"S": "new"}})
    at, items = next_second(), scan_all(ddb, table)
    ddb.delete_item(TableName=table, Key=key("b", 2))
    next_second()
    follow_table(FollowOptions(table=table, destination=dest, until_idle=True, poll_interval_s=0.05))
    restore_at(f"{dest}/{table}", "pit-s3-copy", utc_text(at), RestoreOptions(write_wcu=100000), restore_backup)
    assert restored(ddb, "pit-s3-copy") == canonical_items(wire(items))
    proc = run_cli("list", dest, "--table", table)
    assert proc.returncode == 0, proc.stderr
    assert f"{table}: restorable (--at): " in proc.stdout


def test_an_interrupted_replay_is_rerun_as_its_message_says_and_gives_the_same_table(
        history_of_a_table, ddb, tmp_path, monkeypatch):
    from ddbvault.errors import InterruptedRun
    from ddbvault.restore import replay

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    states, dest = history_of_a_table
    at, items = states["t2"]  # (a later test of this module puts a gap after t2)
    real_apply = replay.ChangeSink.apply

    def interrupted(self, changes):  # Ctrl-C after the first batch of the replay
        real_apply(self, changes[:1])
        raise InterruptedRun(f"applying changes to {self.sink.table} was interrupted")

    monkeypatch.setattr(replay.ChangeSink, "apply", interrupted)
    with pytest.raises(InterruptedRun) as stopped:
        restore_at(f"{dest}/{TABLE}", "pit-cut", utc_text(at), RestoreOptions(write_wcu=100000), restore_backup)
    assert "--resume" in stopped.value.hint
    with pytest.raises(InterruptedRun) as stopped:
        restore_at(f"{dest}/{TABLE}", "pit-cut-keys", utc_text(at), RestoreOptions(write_wcu=100000), restore_backup,
                   keys=["pk=a,sk=5", "pk=b,sk=1"])
    assert "--no-create --allow-non-empty" in stopped.value.hint
    monkeypatch.setattr(replay.ChangeSink, "apply", real_apply)
    restore_at(f"{dest}/{TABLE}", "pit-cut", utc_text(at), RestoreOptions(write_wcu=100000, resume=True),
               restore_backup)
    assert restored(ddb, "pit-cut") == canonical_items(wire(items))
    restore_at(f"{dest}/{TABLE}", "pit-cut-keys", utc_text(at),
               RestoreOptions(write_wcu=100000, no_create=True, allow_non_empty=True), restore_backup,
               keys=["pk=a,sk=5", "pk=b,sk=1"])
    wanted = [i for i in items if (i["pk"], i["sk"]) in (({"S": "a"}, {"N": "5"}), ({"S": "b"}, {"N": "1"}))]
    assert restored(ddb, "pit-cut-keys") == canonical_items(wire(wanted)) and len(wanted) == 2
