"""Manifest format 1.3: an export-engine backup's `export` object, its objects' MD5s and keys under
export/AWSDynamoDB/<export-id>/data/, read back strictly."""

from __future__ import annotations

import copy

import orjson
import pytest

from ddbvault.errors import IntegrityError
from ddbvault.format.layout import check_object_key
from ddbvault.format.manifest import DataObject, Manifest

SHA, MD5 = "ab" * 32, "q83vEjRWeJCrze8SNFZ4kA=="
EXPORT_ID = "01764512345678-abcdef12"
ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/t/export/{EXPORT_ID}"
KEY = f"export/AWSDynamoDB/{EXPORT_ID}/data/abc.json.gz"


def _manifest(export: dict | None = None) -> Manifest:
    export = export or {"arn": ARN, "type": "FULL_EXPORT", "export_time": "2026-11-30T10:00:00Z",
                        "item_count": 3, "billed_size_bytes": 99, "s3_prefix": "p/t/20261130T100000Z-abcdef/export"}
    return Manifest(tool_version="0.1.0", backup_id="20261130T100000Z-abcdef", source={"table_name": "t"},
                    schema={"KeySchema": []}, options={"engine": "export"}, started_at="a", finished_at="b",
                    objects=[DataObject(KEY, 3, 10, SHA, MD5)], consumed_capacity={}, export=export)


def _load(body: dict) -> Manifest:
    return Manifest.from_json(orjson.dumps(body), where="m")


def test_round_trip_is_format_1_3_with_md5_and_export():
    manifest = _manifest()
    body = orjson.loads(manifest.to_json())
    assert body["format_version"] == "1.3" and body["objects"][0]["md5"] == MD5
    assert list(body)[list(body).index("options") + 1] == "export"
    again = _load(body)
    assert again.export == manifest.export and again.objects == manifest.objects
    assert again.engine == "export" and not again.incremental
    assert again.data_dir == f"export/AWSDynamoDB/{EXPORT_ID}/data"


def test_incremental_round_trip_keeps_from_and_to():
    manifest = _manifest({"arn": ARN, "type": "INCREMENTAL_EXPORT", "from": "2026-11-30T10:00:00Z",
                          "to": "2026-11-30T11:00:00Z", "view_type": "NEW_AND_OLD_IMAGES", "item_count": 3,
                          "billed_size_bytes": 1, "s3_prefix": "p"})
    again = _load(orjson.loads(manifest.to_json()))
    assert again.incremental and again.export["from"] == "2026-11-30T10:00:00Z" and again.export["to"] == "2026-11-30T11:00:00Z"


def test_a_scan_manifest_has_no_export_and_stays_1_0():
    body = orjson.loads(_manifest().to_json())
    del body["export"]
    body["options"] = {}
    body["objects"][0]["key"] = "data/000000-0000.json.gz"
    manifest = _load(body)
    assert manifest.engine == "scan" and manifest.data_dir == "data"
    assert b'"export"' not in Manifest(**{**manifest.__dict__, "format_version": "1.0"}).to_json()


@pytest.mark.parametrize("change,message", [
    (lambda b: b["export"].update(type="SNAPSHOT"), "export.type"),
    (lambda b: b["export"].pop("export_time"), "records its export_time"),
    (lambda b: b["export"].update(arn="arn:aws:dynamodb:x:1:table/t"), "export ARN"),
    (lambda b: b["export"].update(item_count="3"), "export.item_count"),
    (lambda b: b["export"].update(export_time="yesterday"), "export.export_time"),
    (lambda b: b["export"].update(type="INCREMENTAL_EXPORT"), "records from, to and view_type"),
    (lambda b: b["export"].update(type="INCREMENTAL_EXPORT", view_type="NEW_IMAGE", **{
        "from": "2026-11-30T11:00:00Z", "to": "2026-11-30T10:00:00Z"}), "from must be before to"),
    (lambda b: b["objects"][0].update(md5="not base64"), "objects.0.md5"),
    (lambda b: b["objects"][0].update(key="data/abc.json.gz"), "is not under export/AWSDynamoDB"),
    (lambda b: b["objects"][0].update(key="export/AWSDynamoDB/other-id/data/abc.json.gz"), "is not under"),
    (lambda b: b["options"].update(engine="scan"), "options.engine"),
    (lambda b: b.pop("export"), "options.engine"),
])
def test_hostile_export_fields_are_one_integrity_error(change, message):
    body = copy.deepcopy(orjson.loads(_manifest().to_json()))
    change(body)
    with pytest.raises(IntegrityError, match=message):
        _load(body)


@pytest.mark.parametrize("key", [
    "export/AWSDynamoDB/id/data",  # no name
    "export/AWSDynamoDB/../data/x.json.gz",
    "export/AWSDynamoDB/id/other/x.json.gz",
    "export/x/id/data/x.json.gz",
    "export/AWSDynamoDB/a b/data/x.json.gz",
])
def test_export_keys_outside_an_exports_data_are_refused(key):
    with pytest.raises(ValueError):
        check_object_key(key)
    assert check_object_key(KEY) == KEY


def test_fields_of_a_later_minor_version_are_ignored_in_an_earlier_one():
    """A field means something only from the minor version that defined it (docs/format.md): a
    1.1 manifest carrying `md5` on its objects (a wrong one, too) or a `retention` is read as 1.1
    readers read it; the same fields in 1.3 / 1.2 manifests are checked."""
    body = orjson.loads(_manifest().to_json())
    scan = {**body, "format_version": "1.1", "export": None, "options": {}}
    scan["objects"] = [{**body["objects"][0], "key": "data/000000-0000.json.gz",
                        "md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}]
    scan["retention"] = {"tier": "bogus", "expires_at": "soon", "policy": {}}
    del scan["export"]
    old = _load(scan)
    assert old.objects[0].md5 is None and old.retention is None and old.export is None
    with pytest.raises(IntegrityError):
        _load({**scan, "format_version": "1.2"})  # 1.2 defines retention: a bogus one is refused
    assert _load(body).objects[0].md5 == MD5
