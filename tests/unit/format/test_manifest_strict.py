"""Reading a manifest strictly: every mistyped or hostile field is one IntegrityError naming the
field; fields a later 1.x version adds are accepted (docs/format.md)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Callable

import orjson
import pytest

from ddbvault.errors import IntegrityError
from ddbvault.format.manifest import DataObject, Manifest
from tests.support.documents import set_at as _set

SHA = "ab" * 32


def _body() -> dict:
    manifest = Manifest(tool_version="0.1.0", backup_id="20261127T081900Z-3f9a1c", source={"table_name": "t"},
                        schema={"KeySchema": []}, options={}, started_at="a", finished_at="b",
                        objects=[DataObject("data/000000-0000.json.gz", 3, 10, SHA),
                                 DataObject("data/000001-0000.json.gz", 2, 7, SHA)],
                        consumed_capacity={"read_capacity_units": 1.0})
    return orjson.loads(manifest.to_json())


def _drop(name: str) -> Callable[[dict], None]:
    return lambda body: body.pop(name)


def _load(change: Callable[[dict], None]) -> Manifest:
    body = copy.deepcopy(_body())
    change(body)
    return Manifest.from_json(orjson.dumps(body), where="s3://b/t/id/manifest.json")


@pytest.mark.parametrize("change,field", [
    (_set("objects.0.items", "3"), "objects.0.items"),
    (_set("objects.0.items", 3.0), "objects.0.items"),
    (_set("objects.0.items", True), "objects.0.items"),
    (_set("objects.0.items", -1), "objects.0.items"),
    (_set("objects.0.items", None), "objects.0.items"),
    (_set("objects.1.bytes", "7"), "objects.1.bytes"),
    (_set("objects.1.bytes", -1), "objects.1.bytes"),
    (_set("objects.0.sha256", ""), "objects.0.sha256"),
    (_set("objects.0.sha256", "AB" * 32), "objects.0.sha256"),
    (_set("objects.0.sha256", "ab" * 31), "objects.0.sha256"),
    (_set("objects.0.sha256", 12), "objects.0.sha256"),
    (_set("objects.0.key", 7), "objects.0.key"),
    (_set("objects.0", "data/000000-0000.json.gz"), "objects.0"),
    (_set("objects", {}), "objects"),
    (_set("objects", None), "objects"),
    (_set("totals", []), "totals"),
    (_set("totals.items", "5"), "totals.items"),
    (_set("totals.bytes", -17), "totals.bytes"),
    (_drop("totals"), "totals"),
    (_set("schema", None), "schema"),
    (_set("schema", []), "schema"),
    (_set("source", "t"), "source"),
    (_set("options", 1), "options"),
    (_set("consumed_capacity", []), "consumed_capacity"),
    (_set("started_at", 1700000000), "started_at"),
    (_set("backup_id", "20261399T999999Z-abcdef"), "backup_id"),
    (_drop("objects"), "objects"),
    (_drop("tool_version"), "tool_version"),
])
def test_mistyped_fields_are_one_integrity_error_naming_the_field(change, field):
    with pytest.raises(IntegrityError) as err:
        _load(change)
    assert err.value.message.startswith("s3://b/t/id/manifest.json is invalid: " + field)
    assert err.value.hint


@pytest.mark.parametrize("key", [
    "../../../elsewhere/data/000000-0000.json.gz", "/etc/hostname", "data/../x.json.gz",
    "data//x.json.gz", "data\\x.json.gz", "x.json.gz", "data/000000-0000.txt",
])
def test_object_keys_that_leave_the_backup_are_rejected_on_load(key):
    with pytest.raises(IntegrityError, match="objects.0.key") as err:
        _load(_set("objects.0.key", key))
    assert repr(key)[:40] in err.value.message


def test_an_object_listed_twice_is_rejected():
    with pytest.raises(IntegrityError, match="listed twice"):
        _load(_set("objects.1.key", "data/000000-0000.json.gz"))


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.42"])
def test_fields_of_a_later_minor_version_are_ignored(version):
    def later(body: dict) -> None:
        body["format_version"] = version
        body["replication"] = {"days": 30}  # (retention is known since 1.2: test_retention.py)
        body["totals"]["logical_bytes"] = 99
        for obj in body["objects"]:
            obj["md5"] = "1B2M2Y8AsgTpgAmY7PhCfg=="
    manifest = _load(later)
    assert [o.key for o in manifest.objects] == ["data/000000-0000.json.gz", "data/000001-0000.json.gz"]
    assert manifest.totals == {"items": 5, "bytes": 17, "objects": 2}


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b'"manifest"', b"{", b"\xff\xfe"])
def test_a_manifest_that_is_not_a_json_object_is_an_integrity_error(data):
    with pytest.raises(IntegrityError):
        Manifest.from_json(data)


def test_error_messages_never_quote_field_values():
    with pytest.raises(IntegrityError) as err:
        _load(_set("source", "SECRET-VALUE"))
    assert "SECRET-VALUE" not in err.value.message


def test_a_manifest_over_the_cap_is_refused_naming_it_and_the_cap():
    from ddbvault.format.manifest import MANIFEST_MAX_BYTES

    with pytest.raises(IntegrityError, match=f"s3://b/m.json: manifest over {MANIFEST_MAX_BYTES:,} bytes"):
        Manifest.from_json(b" " * (MANIFEST_MAX_BYTES + 1), where="s3://b/m.json")


def test_a_manifest_belongs_to_the_backup_id_of_its_path():
    from ddbvault.format.manifest import check_backup_id

    manifest = Manifest.from_json(orjson.dumps(_body()))
    check_backup_id(manifest, "20261127T081900Z-3f9a1c", "m")
    with pytest.raises(IntegrityError, match="'20261127T081900Z-3f9a1c' differs from the backup id "
                                             "'20991231T000000Z-dddddd' in its path"):
        check_backup_id(manifest, "20991231T000000Z-dddddd", "m")


def test_a_backup_never_writes_a_manifest_that_readers_would_refuse():
    from ddbvault.backup.commit import manifest_bytes as _manifest_bytes
    from ddbvault.errors import UsageError
    from ddbvault.format.manifest import MANIFEST_MAX_BYTES

    small = Manifest.from_json(orjson.dumps(_body()))
    assert Manifest.from_json(_manifest_bytes(small, "/v/t/id")) == small
    big = dataclasses.replace(small, source={"padding": "x" * MANIFEST_MAX_BYTES})
    with pytest.raises(UsageError, match=r"backup /v/t/id: its manifest would be [\d,]+ bytes for 2 data "
                                         "objects, over the") as caught:
        _manifest_bytes(big, "/v/t/id")
    assert "--object-size" in caught.value.hint


def _schema_only_body() -> dict:
    body = _body()
    body["options"] = {"schema_only": True}
    body["objects"], body["totals"] = [], {"items": 0, "bytes": 0, "objects": 0}
    return body


def test_schema_only_manifest_reads_back_as_schema_only():
    manifest = Manifest.from_json(orjson.dumps(_schema_only_body()))
    assert manifest.schema_only and manifest.objects == [] and manifest.totals["items"] == 0
    assert not Manifest.from_json(orjson.dumps(_body())).schema_only  # absent: a data backup


@pytest.mark.parametrize("change, named", [
    (lambda b: b["options"].update(schema_only="true"), "options.schema_only: Input should be a valid boolean"),
    (lambda b: b.update(objects=_body()["objects"], totals=_body()["totals"]), "lists no data objects"),
    (lambda b: b["totals"].update(objects=1), "lists no data objects"),
])
def test_schema_only_manifest_that_holds_data_is_refused(change, named):
    body = _schema_only_body()
    change(body)
    with pytest.raises(IntegrityError, match="manifest.json is invalid") as info:
        Manifest.from_json(orjson.dumps(body), where="s3://b/t/id/manifest.json")
    assert named in str(info.value)
