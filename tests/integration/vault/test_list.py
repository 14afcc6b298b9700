"""`ddbvault list`: every backup under a destination, newest first, complete or not.

Real moto_server; backups on a local directory and on moto's S3, with chosen backup ids so
the order is known.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.exit_codes import ExitCode
from ddbvault.format.layout import new_backup_id
from ddbvault.vault.listing import list_backups
from ddbvault.storage.s3 import S3Store
from tests.support.recording_proxy import RecordingProxy
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration
OPTIONS = BackupOptions(segments=2, read_rcu=100000)
IDS = [new_backup_id(datetime(2026, 3, day, 8, 0, tzinfo=timezone.utc), suffix=f"{day:06x}")
       for day in (1, 2, 3, 4)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def run_cli_within(memory: int, *args: str) -> subprocess.CompletedProcess:
    """run_cli with the process's address space capped at `memory` bytes: a read without a
    bound fails fast instead of filling the machine."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run([sys.executable, "-m", "ddbvault", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120, preexec_fn=cap)


@pytest.fixture(scope="module")
def tables(ddb):
    for name, count in (("listed-a", 30), ("listed-b", 45)):
        create_table(ddb, name)
        fill_table(ddb, name, count, edge_cases=False, payload_bytes=50)
    return "listed-a", "listed-b"


def _back_up(table: str, dest: str, backup_id: str):
    return backup_table(table, dest, replace(OPTIONS, backup_id=backup_id))


@pytest.fixture(scope="module")
def local_dest(tables, aws_env, tmp_path_factory) -> Path:
    """listed-a on days 1 and 3, listed-b on day 2, and an incomplete listed-a on day 4."""
    dest = tmp_path_factory.mktemp("listing")
    a, b = tables
    for table, backup_id in ((a, IDS[0]), (b, IDS[1]), (a, IDS[2]), (a, IDS[3])):
        _back_up(table, str(dest), backup_id)
    (dest / a / IDS[3] / "manifest.json").unlink()
    (dest / "notes.txt").write_text("not a backup")
    return dest


def test_newest_first_with_status_items_and_sizes(local_dest):
    entries = list_backups(str(local_dest))
    assert [(e.table, e.backup_id, e.status) for e in entries] == [
        ("listed-a", IDS[3], "incomplete"), ("listed-a", IDS[2], "complete"),
        ("listed-b", IDS[1], "complete"), ("listed-a", IDS[0], "complete")]
    assert [e.items for e in entries] == [None, 30, 45, 30]
    assert entries[0].bytes is None and entries[0].objects == 2  # the data objects found
    for entry in entries[1:]:
        manifest = json.loads(Path(entry.url, "manifest.json").read_bytes())
        assert entry.bytes == manifest["totals"]["bytes"] > 0
        assert entry.finished_at == manifest["finished_at"]
    assert entries[3].time == "2026-03-01T08:00:00Z"
    assert entries[3].url == str(local_dest / "listed-a" / IDS[0])


def test_cli_table_is_newest_first_and_filters_by_table(local_dest):
    proc = run_cli("list", str(local_dest))
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["TABLE", "BACKUP", "ID", "TIME", "ITEMS", "SIZE", "STATUS"]
    assert [row.split()[1] for row in rows] == [IDS[3], IDS[2], IDS[1], IDS[0]]
    assert rows[0].split()[-1] == "incomplete" and rows[2].split()[3] == "45"
    proc = run_cli("list", str(local_dest), "--table", "listed-b")
    assert proc.returncode == 0, proc.stderr
    assert [row.split()[:2] for row in proc.stdout.splitlines()[1:]] == [["listed-b", IDS[1]]]


def test_json_is_a_list_of_entries(local_dest):
    proc = run_cli("list", str(local_dest), "--json", "--table", "listed-a")
    assert proc.returncode == 0, proc.stderr
    entries = json.loads(proc.stdout)
    assert [e["backup_id"] for e in entries] == [IDS[3], IDS[2], IDS[0]]
    assert set(entries[1]) == {"table", "backup_id", "url", "time", "status", "items", "bytes",
                               "objects", "finished_at", "error", "partial", "schema_only", "tier",
                               "expires_at", "expired", "engine", "window", "started_at", "export_time",
                               "change_log"}
    assert entries[1]["started_at"] and entries[1]["export_time"] is None and entries[1]["change_log"] is None
    assert entries[1]["status"] == "complete" and entries[1]["items"] == 30
    assert entries[1]["engine"] == "scan" and entries[1]["window"] is None
    assert entries[1]["schema_only"] is False
    assert entries[0]["status"] == "incomplete" and entries[0]["items"] is None


def test_an_unreadable_manifest_is_listed_as_invalid(tables, aws_env, tmp_path):
    _back_up(tables[0], str(tmp_path), IDS[0])
    (tmp_path / tables[0] / IDS[0] / "manifest.json").write_text('{"format": "something-else"}')
    entry, = list_backups(str(tmp_path))
    assert entry.status == "invalid" and "not a ddbvault manifest" in entry.error


def _copy_backup(source: Path, table_dir: Path, backup_id: str) -> Path:
    copy = table_dir / backup_id
    shutil.copytree(source, copy)
    return copy


def test_a_hostile_or_misplaced_manifest_is_listed_as_invalid_never_a_crash(local_dest, tmp_path):
    """A link to /dev/zero, a sparse file over the cap, a directory, and a manifest copied under
    another backup id: each one INVALID, saying why, in a process held to 1 GiB of memory."""
    from ddbvault.format.manifest import MANIFEST_MAX_BYTES

    dest = tmp_path / "hostile"
    good = local_dest / "listed-b" / IDS[1]
    table_dir = dest / "listed-b"
    zero, sparse, folder, empty, moved = (new_backup_id(datetime(2026, 4, day, tzinfo=timezone.utc),
                                                        suffix=f"{day:06x}") for day in (1, 2, 3, 4, 5))
    (_copy_backup(good, table_dir, zero) / "manifest.json").unlink()
    (table_dir / zero / "manifest.json").symlink_to("/dev/zero")
    with open(_copy_backup(good, table_dir, sparse) / "manifest.json", "r+b") as manifest:
        manifest.truncate(MANIFEST_MAX_BYTES + 1)
    (_copy_backup(good, table_dir, folder) / "manifest.json").unlink()
    (table_dir / folder / "manifest.json" / "x").mkdir(parents=True)
    (table_dir / empty / "manifest.json").mkdir(parents=True)
    _copy_backup(good, table_dir, moved)
    _copy_backup(good, table_dir, IDS[1])  # the original, where it belongs: complete
    _copy_backup(good, dest / "listed-c", IDS[1])  # listed-b's backup under another table's name

    proc = run_cli_within(1 << 30, "list", str(dest), "--json")
    assert proc.returncode == 0, proc.stderr
    by_id = {e["backup_id"]: e for e in json.loads(proc.stdout) if e["table"] == "listed-b"}
    other_table = next(e for e in json.loads(proc.stdout) if e["table"] == "listed-c")
    assert other_table["status"] == "invalid" and other_table["error"] == (
        f"{dest / 'listed-c' / IDS[1] / 'manifest.json'} is a backup of table 'listed-b', stored under 'listed-c'")
    assert set(by_id) == {zero, sparse, folder, empty, moved, IDS[1]}
    assert by_id[IDS[1]]["status"] == "complete"
    errors = {i: by_id[i]["error"] for i in (zero, sparse, folder, empty, moved)}
    assert all(by_id[i]["status"] == "invalid" for i in errors), errors
    assert f"{table_dir / zero / 'manifest.json'} is not a regular file" in errors[zero]
    assert f"manifest over {MANIFEST_MAX_BYTES:,} bytes" in errors[sparse]
    assert f"{table_dir / folder / 'manifest.json'} is a directory" in errors[folder]
    assert f"{table_dir / empty / 'manifest.json'} is a directory" in errors[empty]
    assert f"backup_id {IDS[1]!r} differs from the backup id {moved!r}" in errors[moved]


def test_s3_prefix_lists_only_backups_under_it(tables, aws_env, s3):
    s3.create_bucket(Bucket="listing-bucket")
    a, b = tables
    _back_up(a, "s3://listing-bucket/team/prod", IDS[0])
    _back_up(b, "s3://listing-bucket/team/prod", IDS[1])
    _back_up(a, "s3://listing-bucket/other", IDS[2])
    s3.put_object(Bucket="listing-bucket", Key="team/prod/README", Body=b"x")
    entries = list_backups("s3://listing-bucket/team/prod")
    assert [(e.table, e.backup_id) for e in entries] == [(b, IDS[1]), (a, IDS[0])]
    assert entries[0].url == f"s3://listing-bucket/team/prod/{b}/{IDS[1]}"
    assert entries[0].status == "complete" and entries[0].items == 45
    proc = run_cli("list", "s3://listing-bucket/team/prod", "--table", a, "--json")
    assert proc.returncode == 0, proc.stderr
    assert [e["url"] for e in json.loads(proc.stdout)] == [f"s3://listing-bucket/team/prod/{a}/{IDS[0]}"]


def test_a_table_filter_reads_only_the_manifests_of_the_tables_it_keeps(tables, aws_env, s3, monkeypatch):
    """restore --from --tables reads the matched tables' manifests only, not the whole vault's."""
    s3.create_bucket(Bucket="filtered-listing")
    a, b = tables
    _back_up(a, "s3://filtered-listing/v", IDS[0])
    _back_up(b, "s3://filtered-listing/v", IDS[1])
    with RecordingProxy(aws_env) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", proxy.url)
        entries = list_backups("s3://filtered-listing/v", tables=lambda name: name == b)
    assert [(e.table, e.status, e.items) for e in entries] == [(b, "complete", 45)]
    reads = [path for method, path, _ in proxy.requests if method == "GET" and path.endswith("manifest.json")]
    assert len(reads) == 1 and f"/{b}/" in reads[0]


def test_listed_url_is_what_verify_takes(local_dest):
    entry = list_backups(str(local_dest), table="listed-b")[0]
    proc = run_cli("verify", entry.url)
    assert proc.returncode == 0, proc.stderr


def test_missing_directory_and_bucket_exit_3(aws_env, tmp_path):
    proc = run_cli("list", str(tmp_path / "nowhere"))
    assert proc.returncode == ExitCode.NOT_FOUND and "nowhere" in proc.stderr
    proc = run_cli("list", "s3://no-such-listing-bucket/x", "--json")
    assert proc.returncode == ExitCode.NOT_FOUND, proc.stderr
    assert "no-such-listing-bucket" in json.loads(proc.stdout)["message"]


def test_a_killed_local_backup_is_listed_with_its_unfinished_files(tables, aws_env, tmp_path):
    """kill -9 before the first data object was committed leaves only `.partial-*` files."""
    _back_up(tables[0], str(tmp_path), IDS[0])
    killed = tmp_path / tables[1] / IDS[1] / "data"
    killed.mkdir(parents=True)
    (killed / "000000-0000.json.gz.partial-0a1b2c3d").write_bytes(b"\x1f\x8b half a gzip")
    (killed / "000001-0000.json.gz.partial-4e5f6a7b").write_bytes(b"")
    stale = tmp_path / tables[0] / IDS[0] / "data" / "000001-0001.json.gz.partial-00000000"
    stale.write_bytes(b"")  # an unfinished write beside a complete backup is named too
    first, second = list_backups(str(tmp_path))
    assert (first.table, first.status, first.objects) == (tables[1], "incomplete", 0)
    assert first.partial == ["data/000000-0000.json.gz.partial-0a1b2c3d",
                             "data/000001-0000.json.gz.partial-4e5f6a7b"]
    assert second.status == "complete" and second.partial == ["data/000001-0001.json.gz.partial-00000000"]
    proc = run_cli("list", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].endswith("incomplete (2 partial)")
    proc = run_cli("list", str(tmp_path), "--json")
    assert json.loads(proc.stdout)[0]["partial"] == first.partial


def test_an_open_multipart_upload_is_listed_as_partial(tables, aws_env, s3):
    s3.create_bucket(Bucket="listing-partial")
    store = S3Store(s3, "listing-partial")
    writer = store.open_writer(f"p/{tables[0]}/{IDS[2]}/data/000000-0000.json.gz")
    writer.write(b"x" * (9 * 1024 * 1024))  # one part sent: the upload is open, as a kill leaves it
    entry, = list_backups("s3://listing-partial/p")
    assert entry.status == "incomplete" and entry.partial == ["data/000000-0000.json.gz"]
    writer.abort()
    assert list_backups("s3://listing-partial/p") == []


def _hours_ago(hours: float, n: int) -> str:
    return new_backup_id(datetime.now(timezone.utc) - timedelta(hours=hours), suffix=f"{n:06x}")


@pytest.fixture(scope="module")
def rpo_dest(tables, aws_env, tmp_path_factory) -> tuple[Path, dict]:
    """listed-a: complete 30 h and 1 h ago, and a newer incomplete one; listed-b: complete 30 h
    ago; listed-c: only an incomplete backup (a data object, no manifest)."""
    dest, a, b = tmp_path_factory.mktemp("rpo-listing"), *tables
    ids = {"a-old": _hours_ago(30, 1), "a-fresh": _hours_ago(1, 2), "a-running": _hours_ago(0.1, 3),
           "b-old": _hours_ago(30, 4), "c-running": _hours_ago(2, 5)}
    for table, name in ((a, "a-old"), (a, "a-fresh"), (a, "a-running"), (b, "b-old")):
        _back_up(table, str(dest), ids[name])
    (dest / a / ids["a-running"] / "manifest.json").unlink()
    (dest / "listed-c" / ids["c-running"] / "data").mkdir(parents=True)
    (dest / "listed-c" / ids["c-running"] / "data" / "000000-0000.json.gz").write_bytes(b"\x1f\x8b")
    return dest, ids


def test_rpo_marks_each_tables_newest_complete_backup(rpo_dest):
    dest, ids = rpo_dest
    plain = run_cli("list", str(dest))
    marked = run_cli("list", str(dest), "--rpo", "26h")
    assert plain.returncode == marked.returncode == 0, marked.stderr
    plain_rows, marked_rows = plain.stdout.splitlines(), marked.stdout.splitlines()
    assert plain_rows[0].split()[-1] == "STATUS" and marked_rows[0].split()[-3:] == ["STATUS", "RPO", "26h"]
    assert len(plain_rows) == len(marked_rows) == 6
    assert all(m.startswith(p) for p, m in zip(plain_rows, marked_rows))  # one column more, nothing else
    marks = {row.split()[1]: row[len(plain_row):].strip() for row, plain_row in zip(marked_rows[1:], plain_rows[1:])}
    assert re.fullmatch(r"within \(6\dm old\)", marks.pop(ids["a-fresh"]))  # an hour, and the seconds since
    assert marks == {ids["a-running"]: "", ids["c-running"]: "OUT (no backup yet)", ids["a-old"]: "",
                     ids["b-old"]: "OUT (30h old)"}


def test_rpo_adds_two_fields_to_the_json_list_and_nothing_else(rpo_dest):
    dest, ids = rpo_dest
    plain = json.loads(run_cli("list", str(dest), "--json").stdout)
    proc = run_cli("list", str(dest), "--json", "--rpo", "90m")
    assert proc.returncode == 0, proc.stderr
    marked = json.loads(proc.stdout)
    assert all(set(p) == {"table", "backup_id", "url", "time", "status", "items", "bytes", "objects",
                          "finished_at", "error", "partial", "schema_only", "tier", "expires_at",
                          "expired", "engine", "window", "started_at", "export_time", "change_log"} for p in plain)
    assert [{k: v for k, v in m.items() if k not in ("within_rpo", "age_seconds")} for m in marked] == plain
    verdicts = {m["backup_id"]: (m["within_rpo"], m["age_seconds"]) for m in marked}
    assert verdicts[ids["a-running"]] == verdicts[ids["a-old"]] == (None, None)
    assert verdicts[ids["c-running"]] == (False, None)
    within, age = verdicts[ids["a-fresh"]]
    assert within is True and 3500 < age < 3900
    within, age = verdicts[ids["b-old"]]
    assert within is False and 30 * 3600 - 60 < age < 30 * 3600 + 300


def test_a_bad_rpo_is_a_usage_error(rpo_dest):
    proc = run_cli("list", str(rpo_dest[0]), "--rpo", "soon", "--json")
    assert proc.returncode == ExitCode.USAGE and "'soon' is not a duration" in proc.stderr
    assert json.loads(proc.stdout)["error"] == "UsageError"


def test_a_named_table_without_backups_is_named_and_out_of_rpo(rpo_dest):
    dest = rpo_dest[0]
    proc = run_cli("list", str(dest), "--table", "never-backed-up", "--rpo", "26h")
    assert proc.returncode == 0 and proc.stdout == ""
    assert f"no backups of table never-backed-up under {dest}; RPO 26h: OUT (no backup yet)" in proc.stderr
    plain = run_cli("list", str(dest), "--table", "never-backed-up")
    assert f"no backups of table never-backed-up under {dest}" in plain.stderr and "RPO" not in plain.stderr
