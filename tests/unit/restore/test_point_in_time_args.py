"""restore --at's arguments: T in whole seconds, DEST/TABLE, keys and keys files, the CLI forms;
and what `list` reads of a log (never every segment)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ddbvault.errors import NotFoundError, UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.format.dataline import KeySpec
from ddbvault.restore.point_in_time import Vault, parse_at, read_keys, restore_at
from ddbvault.storage.local import LocalStore
from ddbvault.vault.change_log import Base, read_change_log, summary, utc_text
from tests.support.change_log_vault import T0, TABLE, put_gap, put_segment, put_start, record

SPEC = KeySpec((("pk", "S"), ("sk", "N")))


def test_t_is_whole_seconds_utc():
    assert parse_at("2026-11-30T10:15:00Z") == parse_at("2026-11-30T10:15:00+00:00") == 1796033700
    for bad in ("2026-11-30T10:15:00.5Z", "2026-11-30", "2026-11-30T10:15:00+01:00", "2026-13-30T10:15:00Z",
                "now", "2026-11-30T10:15:00"):
        with pytest.raises(UsageError, match="whole seconds"):
            parse_at(bad)


@pytest.mark.parametrize(("bad", "hint"), [
    ("2026-11-30T10:15:00.5Z", "drop the fraction"), ("2026-11-30T10:15:00+01:00", "convert the time to UTC"),
    ("2026-11-30T10:15:00-0500", "convert the time to UTC"), ("2026-11-30", "add the time of day"),
    ("2026-11-30T10:15:00", "end the time in Z"), ("2016-12-31T23:59:60Z", "no leap second"),
    ("0000-01-01T00:00:00Z", "years 0001-9999"), ("", "YYYY-MM-DDTHH:MM:SSZ"),
    ("\uff12\uff10\uff12\uff16-11-30T10:15:00Z", "YYYY-MM-DDTHH:MM:SSZ"),
])
def test_a_refused_t_gets_the_hint_for_what_is_wrong(bad, hint):
    with pytest.raises(UsageError, match="whole seconds") as refused:
        parse_at(bad)
    assert hint in refused.value.hint
    assert parse_at("9999-12-31T23:59:59Z") == 253402300799 and parse_at("0001-01-01T00:00:00Z") < 0


def test_a_backup_url_or_a_dest_alone_is_named_as_such_with_at(tmp_path):
    at = "2026-11-30T10:15:00Z"
    with pytest.raises(UsageError, match="names one backup; with --at, BACKUP_URL is the table's folder") as refused:
        restore_at(f"{tmp_path}/orders/20261130T100000Z-abcdef", "orders-restored", at)
    assert refused.value.hint.startswith(f"ddbvault restore {tmp_path}/orders --at")
    (tmp_path / "orders").mkdir()
    with pytest.raises(NotFoundError, match=f"{tmp_path} holds no backup and no change log of table "
                                            f"{tmp_path.name}") as refused:
        restore_at(str(tmp_path), "orders-restored", at)  # DEST alone: its last folder taken as the table
    assert "ddbvault list" in refused.value.hint


def test_dest_table_is_checked(tmp_path):
    assert Vault(f"{tmp_path}/orders").table == Vault(f"{tmp_path}//orders/").table == "orders"
    assert Vault("/orders").store.path_of("orders/changes") == Vault(f"file:///orders").store.path_of("orders/changes")
    assert Vault(f"{tmp_path}/orders").store.path_of("orders/changes") == tmp_path / "orders" / "changes"
    for bad in ("orders", f"{tmp_path}/o", f"{tmp_path}/bad name", "s3://vault", "s3://vault/", "file://"):
        with pytest.raises(UsageError):
            Vault(bad)


def test_keys_and_keys_files(tmp_path):
    path = tmp_path / "keys"
    path.write_bytes(b'{"pk":{"S":"b"},"sk":{"N":"2"}}\n' + b'{"pk":{"S":"' + b"x" * 10_000 + b'"}}\n')
    with pytest.raises(UsageError, match="line 2: .*at most 4096"):
        read_keys(["pk=a,sk=1"], str(path), SPEC)
    path.write_bytes(b'{"pk":{"S":"b"},"sk":{"N":"2"}}\n')
    assert read_keys(["pk=a,sk=1"], str(path), SPEC) == [{"pk": {"S": "a"}, "sk": {"N": "1"}},
                                                       {"pk": {"S": "b"}, "sk": {"N": "2"}}]
    with pytest.raises(UsageError, match="--keys-file .*No such file"):
        read_keys([], str(tmp_path / "missing"), SPEC)
    path.write_bytes(b"\n")
    with pytest.raises(UsageError, match="holds no key"):
        read_keys([], str(path), SPEC)
    path.write_bytes(bytes(range(256)) * 64)  # a binary file
    with pytest.raises(UsageError, match="--keys-file .*line 1") as refused:
        read_keys([], str(path), SPEC)
    assert "split a longer one" in refused.value.hint
    path.write_bytes(b'{"pk":{"S":"b"},"sk":{"N":"2"}}\n' * 100_001)
    with pytest.raises(UsageError, match="more than 100,000 keys") as refused:
        read_keys([], str(path), SPEC)
    assert "split a longer one" in refused.value.hint
    with pytest.raises(UsageError, match="--key: .*N is not a number") as refused:
        read_keys(["pk=a,sk=secret"], None, SPEC)
    assert "secret" not in refused.value.message


@pytest.mark.parametrize(("args", "problem"), [
    (["--key", "pk=a", "x/orders", "--table", "t-1"], "they need --at"),
    (["x/orders", "--table", "t-1", "--at", "2026-11-30T10:15:00Z", "--then", "y"], "cannot be combined"),
    (["x/orders", "--table", "t-1", "--at", "2026-11-30T10:15:00Z", "--schema-only"], "cannot be combined"),
    (["x/orders", "--table", "t-1", "--at", ""], "--at must be a UTC time"),  # not "no --at"
    (["x/orders", "--table", "t-1", "--at", "", "--then", "y"], "cannot be combined"),
])
def test_cli_forms(args, problem):
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "restore", *args], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == ExitCode.USAGE and problem in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_reads_no_segment_whole_and_only_the_newest_headers(tmp_path):
    store = LocalStore(str(tmp_path))
    put_start(store, T0)
    for n in range(30):
        put_segment(store, [record(n + 1, T0 + n, "a", {"v": {"N": str(n)}})], continues=str(n) if n else None,
                    written_at=T0 + n + 1)
    put_segment(store, [record(1, T0 + 5, "b", None)], shard="shardId-closed", written_at=T0 + 6)
    (tmp_path / TABLE / "changes" / "2026-11-30T10:00:00.000" / "shardId-closed" / "closed.json").write_bytes(b"{}")
    put_gap(store, T0 + 10, T0 + 12)
    log = read_change_log(store, "", TABLE)
    found = summary(log, [Base("b", T0 + 1, T0 + 2)])
    assert found["window"] == [{"from": utc_text(T0 + 2), "to": utc_text(T0 + 10)}]  # the gap cuts it
    assert found["gaps"] == [{"from": utc_text(T0 + 10), "to": utc_text(T0 + 12), "reason": "follower_down"}]
    assert (found["known_until"], found["covered_from"]) == (utc_text(T0 + 30), utc_text(T0))
    assert found["segments"] == 31
    assert (log.reads, log.header_reads) == (0, 1)  # the open shard's furthest segment; a closed one is not read


def test_list_shows_a_damaged_log_on_its_table_and_summarises_the_others(tmp_path):
    from types import SimpleNamespace

    from ddbvault.vault.change_log import attach_summaries, format_summary

    store = LocalStore(str(tmp_path))
    put_start(store, T0)
    put_segment(store, [record(1, T0 + 5, "a", {"v": {"N": "1"}})], written_at=T0 + 6)
    put_start(store, T0, table="invoices")
    put_segment(store, [record(1, T0 + 5, "a", {"v": {"N": "1"}})], table="other", under="invoices")
    entries = [SimpleNamespace(table=name, status="complete", schema_only=False, window=None, expired=False,
                               export_time=None, started_at=utc_text(T0 + 1), finished_at=utc_text(T0 + 2),
                               url=f"{tmp_path}/{name}/b", change_log=None) for name in ("invoices", TABLE)]
    found = attach_summaries(str(tmp_path), entries)  # before: the listing stopped with exit 6
    assert found[TABLE]["window"] == [{"from": utc_text(T0 + 2), "to": utc_text(T0 + 6)}]
    assert found["invoices"]["window"] == [] and "another table than invoices" in found["invoices"]["error"]
    assert entries[0].change_log is found["invoices"]
    (line,) = format_summary("invoices", found["invoices"])
    assert line.startswith("invoices: restorable (--at): none: the change log cannot be read: segment ")
