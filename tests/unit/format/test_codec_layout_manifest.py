"""Pure format pieces: data lines and compression, key layout, manifest versioning."""

from __future__ import annotations

import base64
import gzip
from datetime import datetime, timezone

import orjson
import pytest

from ddbvault.format.codec import Compressor, decode_lines, decompress, encode_lines, item_to_wire, key_for_client
from ddbvault.errors import IntegrityError, UsageError
from ddbvault.format.layout import BackupLayout, is_backup_id, new_backup_id
from ddbvault.storage.destination import parse_destination
from ddbvault.format.manifest import DataObject, Manifest
from ddbvault.devtools.sample_data import edge_case_items, sample_item

ITEMS = [item_to_wire(i) for i in edge_case_items() + [sample_item(n) for n in range(20)]]


def test_lines_are_dynamodb_export_lines():
    data = encode_lines(ITEMS[:2])
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3
    assert orjson.loads(lines[0]) == {"Item": ITEMS[0]}


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_compress_decode_round_trip_is_exact(compression):
    comp = Compressor(compression)
    data = b"".join(comp.feed(encode_lines([item])) for item in ITEMS) + comp.finish()
    assert list(decode_lines(decompress(data, compression))) == ITEMS


def test_gzip_output_is_a_standard_gzip_stream():
    comp = Compressor("gzip")
    data = comp.feed(encode_lines(ITEMS)) + comp.finish()
    assert gzip.decompress(data) == encode_lines(ITEMS)


def test_wire_form_keeps_bytes_and_numbers_exact():
    wire = item_to_wire({"b": {"B": bytes(range(256))}, "n": {"N": "1.000000000000000000000000000000000001"},
                         "bs": {"BS": [b"\x00", b"\xff"]}})
    assert base64.b64decode(wire["b"]["B"]) == bytes(range(256))
    assert wire["n"]["N"] == "1.000000000000000000000000000000000001"
    assert wire["bs"]["BS"] == ["AA==", "/w=="]
    assert key_for_client({"k": {"B": "AP8="}, "s": {"S": "x"}}) == {"k": {"B": b"\x00\xff"}, "s": {"S": "x"}}


def test_decode_rejects_non_data_lines():
    with pytest.raises(ValueError, match="line 2"):
        list(decode_lines(b'{"Item":{}}\n{"x":1}\n'))


def test_backup_ids_sort_by_time():
    a = new_backup_id(datetime(2026, 11, 27, 8, 19, tzinfo=timezone.utc))
    b = new_backup_id(datetime(2026, 11, 27, 8, 20, tzinfo=timezone.utc))
    assert a.startswith("20261127T081900Z-") and is_backup_id(a) and a < b


def test_backup_ids_of_one_second_differ_by_24_random_bits():
    """Ids minted in the same second are told apart by a 24-bit random suffix. Demanding that N
    of them be all distinct fails by chance (200 ids: ~1 run in 840), so this checks what 24
    independent fair bits promise, with bounds a true source misses less than once in 10^8 runs:
    each bit is 1 in 40-60% of 4,000 ids (12 standard deviations), and the ids collide no more
    than 24 bits predict (expected 0.48 colliding pairs; <= 8 allowed). A suffix with fewer
    random bits fails: a fixed bit fails the first check, 16 bits give ~120 collisions."""
    now, n = datetime(2026, 11, 27, 8, 19, tzinfo=timezone.utc), 4000
    ids = [new_backup_id(now) for _ in range(n)]
    assert all(is_backup_id(i) and i.startswith("20261127T081900Z-") for i in ids)
    suffixes = [int(i.rsplit("-", 1)[1], 16) for i in ids]
    for bit in range(24):
        ones = sum(s >> bit & 1 for s in suffixes)
        assert 0.4 * n < ones < 0.6 * n, (bit, ones)
    assert n - len(set(suffixes)) <= 8


def test_layout_keys():
    layout = BackupLayout("prod/", "orders", "20261127T081900Z-3f9a1c")
    assert layout.manifest_key == "prod/orders/20261127T081900Z-3f9a1c/manifest.json"
    assert layout.data_prefix == "prod/orders/20261127T081900Z-3f9a1c/data/"
    assert layout.data_key(3, 1, ".json.gz").endswith("/data/000003-0001.json.gz")
    assert layout.relative(layout.data_key(3, 1, ".json")) == "data/000003-0001.json"


def test_parse_destination():
    assert parse_destination("s3://bucket/a/b/").prefix == "a/b"
    assert parse_destination("s3://bucket").url == "s3://bucket"
    assert parse_destination("./x").kind == "local"
    for bad in ("s3://Bad_Bucket/x", "gs://b/x", ""):
        with pytest.raises(UsageError):
            parse_destination(bad)


def _manifest() -> Manifest:
    return Manifest(tool_version="0.1.0", backup_id="20261127T081900Z-3f9a1c", source={"table_name": "t"},
                    schema={}, options={}, started_at="a", finished_at="b",
                    objects=[DataObject("data/000000-0000.json.gz", 3, 10, "ab" * 32)],
                    consumed_capacity={"read_capacity_units": 1.0})


def test_manifest_round_trip():
    manifest = _manifest()
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest and again.totals == {"items": 3, "bytes": 10, "objects": 1}


@pytest.mark.parametrize("version,ok", [("1.0", True), ("1.7", True), ("2.0", False), ("x", False)])
def test_manifest_major_version_gate(version, ok):
    body = orjson.loads(_manifest().to_json())
    body["format_version"] = version
    if ok:
        Manifest.from_json(orjson.dumps(body))
    else:
        with pytest.raises(IntegrityError, match="format version"):
            Manifest.from_json(orjson.dumps(body))


def test_manifest_rejects_counts_that_do_not_add_up():
    body = orjson.loads(_manifest().to_json())
    body["totals"]["items"] = 4
    with pytest.raises(IntegrityError, match="add up"):
        Manifest.from_json(orjson.dumps(body))
