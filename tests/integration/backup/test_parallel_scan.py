"""Parallel scan: across all segments, every item of the table appears exactly once."""

from __future__ import annotations

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.storage.destination import parse_destination
from ddbvault.storage import open_store
from tests.support.tables import create_table, fill_table, key_of, read_backup, scan_all, wire

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "parallel")
    fill_table(ddb, "parallel", 1500, edge_cases=False, payload_bytes=800)
    return "parallel"


@pytest.mark.parametrize("segments,workers", [(1, 1), (7, 3), (16, 4)])
def test_each_item_exactly_once(table, ddb, aws_env, tmp_path, segments, workers):
    result = backup_table(table, str(tmp_path), BackupOptions(segments=segments, workers=workers,
                                                              read_rcu=100000))
    manifest, items = read_backup(open_store(parse_destination(str(tmp_path))), f"{table}/{result.backup_id}")
    keys = [key_of(item) for item in items]
    assert len(keys) == len(set(keys)), "an item was written twice"
    assert set(keys) == {key_of(item) for item in wire(scan_all(ddb, table))}
    assert manifest.options["segments"] == segments
    assert {int(o.key[5:11]) for o in manifest.objects} <= set(range(segments))


def test_objects_roll_over_at_object_size(table, aws_env, tmp_path):
    result = backup_table(table, str(tmp_path), BackupOptions(segments=1, workers=1, read_rcu=100000,
                                                              compression="none", object_size=1024 * 1024))
    manifest, items = read_backup(open_store(parse_destination(str(tmp_path))), f"{table}/{result.backup_id}")
    assert len(items) == 1500
    # ~1500 items x ~1.3 KB ~ 2 MB uncompressed: at least two objects of one segment
    assert [o.key for o in manifest.objects][:2] == ["data/000000-0000.json", "data/000000-0001.json"]
    assert all(o.size >= 1024 * 1024 for o in manifest.objects[:-1])
