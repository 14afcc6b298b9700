"""The pure parts of `ddbvault list`: grouping listed keys into backups, order, rendering."""

from __future__ import annotations

from ddbvault.vault.listing import (COMPLETE, INCOMPLETE, BackupEntry, add_partial, format_rows,
                              group_keys, human_size, newest_first, time_of)

A1, A2, B1 = "20260301T080000Z-aaaaaa", "20260302T090000Z-bbbbbb", "20260301T080000Z-cccccc"


def test_keys_group_into_backups_with_manifest_and_data_count():
    keys = [f"pre/orders/{A1}/data/000000-0000.json.gz", f"pre/orders/{A1}/data/000001-0000.json.gz",
            f"pre/orders/{A1}/manifest.json", f"pre/orders/{A2}/data/000000-0000.json.gz",
            f"pre/users/{B1}/manifest.json"]
    found = group_keys(keys, "pre")
    assert set(found) == {("orders", A1), ("orders", A2), ("users", B1)}
    assert (found[("orders", A1)].manifest, found[("orders", A1)].data_objects) == (True, 2)
    assert (found[("orders", A2)].manifest, found[("orders", A2)].data_objects) == (False, 1)
    assert (found[("users", B1)].manifest, found[("users", B1)].data_objects) == (True, 0)


def test_keys_of_no_backup_are_ignored():
    keys = ["pre/README", "pre/orders/notes.txt", "pre/orders/not-an-id/manifest.json",
            f"other/orders/{A1}/manifest.json", f"pre/orders/{A1}/manifest.json.bak",
            f"pre/orders/{A1}/sub/manifest.json", f"pre/orders/{A1}"]
    found = group_keys(keys, "pre/")
    assert set(found) == {("orders", A1)} and not found[("orders", A1)].manifest


def test_empty_prefix_groups_from_the_root():
    assert set(group_keys([f"orders/{A1}/manifest.json"], "")) == {("orders", A1)}


def _entry(table: str, backup_id: str, status: str = COMPLETE, items=None, size=None) -> BackupEntry:
    return BackupEntry(table, backup_id, f"/d/{table}/{backup_id}", time_of(backup_id), status,
                       items=items, bytes=size)


def test_newest_first_then_by_table():
    entries = [_entry("orders", A1), _entry("zeta", A2), _entry("orders", A2), _entry("users", B1)]
    ordered = newest_first(entries)
    assert [(e.table, e.backup_id) for e in ordered] == [
        ("orders", A2), ("zeta", A2), ("users", B1), ("orders", A1)]


def test_time_of_an_id_is_iso_utc():
    assert time_of(A2) == "2026-03-02T09:00:00Z"


def test_rows_are_aligned_with_a_header():
    rows = format_rows([_entry("orders", A2, INCOMPLETE),
                        _entry("a-much-longer-table", A1, items=1234567, size=3 * 1024 ** 3)])
    assert rows[0].split() == ["TABLE", "BACKUP", "ID", "TIME", "ITEMS", "SIZE", "STATUS"]
    assert rows[1].split() == ["orders", A2, "2026-03-02T09:00:00Z", "-", "-", "incomplete"]
    assert rows[2].split() == ["a-much-longer-table", A1, "2026-03-01T08:00:00Z", "1,234,567",
                               "3.0", "GiB", "complete"]
    status_column = rows[0].index("STATUS")
    assert all(row[status_column:].split()[0] in ("STATUS", "incomplete", "complete") for row in rows)


def test_human_size():
    assert [human_size(n) for n in (None, 0, 1023, 1024, 1536, 5 * 1024 ** 2)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB"]


def test_unfinished_writes_join_their_backup_or_make_one():
    found = group_keys([f"pre/orders/{A1}/manifest.json"], "pre")
    add_partial(found, [f"pre/orders/{A1}/data/000002-0000.json.gz.partial-0a0b0c0d",
                        f"pre/users/{B1}/data/000000-0000.json.gz", "pre/users/not-an-id/x.partial-1"], "pre")
    assert found[("orders", A1)].manifest and found[("orders", A1)].partial == [
        "data/000002-0000.json.gz.partial-0a0b0c0d"]
    assert not found[("users", B1)].manifest and found[("users", B1)].data_objects == 0
    assert found[("users", B1)].partial == ["data/000000-0000.json.gz"]
    assert len(found) == 2


def test_rows_count_the_unfinished_writes():
    entry = _entry("orders", A1, INCOMPLETE)
    entry.partial = ["data/a.partial-1", "data/b.partial-2"]
    assert format_rows([entry])[1].endswith("incomplete (2 partial)")


def test_an_extra_column_is_last_with_cells_by_url_and_blanks_for_the_rest():
    entries = [_entry("orders", A2, INCOMPLETE), _entry("orders", A1)]
    plain = format_rows(entries)
    rows = format_rows(entries, ("RPO 26h", {entries[1].url: "within (5h old)"}))
    assert rows[0].split()[-2:] == ["RPO", "26h"] and rows[0].startswith(plain[0])
    assert rows[1] == plain[1]  # a blank last cell is stripped: the row is as without the column
    assert rows[2].startswith(plain[2]) and rows[2].endswith("  within (5h old)")
    assert rows[0].index("RPO") == rows[2].index("within")


def test_a_directory_or_folder_named_manifest_json_is_seen_and_folders_are_no_objects():
    keys = [f"pre/orders/{A1}/manifest.json/", f"pre/orders/{A2}/manifest.json/x",
            f"pre/orders/{A2}/data/", f"pre/users/{B1}/"]
    found = group_keys(keys, "pre")
    assert set(found) == {("orders", A1), ("orders", A2)}  # an empty backup directory holds nothing
    assert found[("orders", A1)].folder and not found[("orders", A1)].manifest
    assert (found[("orders", A2)].folder, found[("orders", A2)].data_objects) == (True, 0)
