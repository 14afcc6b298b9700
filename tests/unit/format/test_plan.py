"""The documents of a backup in progress (format/plan.py) are hostile input: a plan.json or a
segments/S.json may come from a crashed run, another backup, or anyone who can write the prefix.
Each wrong field is one IntegrityError that names the field and never its value; a good
document reads back as it was written."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Callable

import orjson
import pytest

from ddbvault.errors import IntegrityError
from ddbvault.format.manifest import DataObject, Manifest
from ddbvault.format.plan import (PLAN_MAX_BYTES, RESULT_MAX_BYTES, BackupPlan, SegmentResult, StagedObject,
                                  staging_key)
from tests.support.documents import Change
from tests.support.documents import drop_at as _drop
from tests.support.documents import set_at as _set

BACKUP_ID = "20261127T081900Z-3f9a1c"
TABLE = "orders"
ROOT = f"prod/{TABLE}/{BACKUP_ID}"
ATTEMPT = "0123456789abcdef"
OTHER_ATTEMPT = "fedcba9876543210"
SEGMENT = 3
EXT = ".json.gz"
SHA = "ab" * 32
PART_SHA = "A" * 43 + "="
# Distinctive values: an error message must never repeat them.
SECRET = "SECRET-7f3a-value"
SECRET_NUMBER = 987654321
WHERE = "s3://vault/prod/orders/20261127T081900Z-3f9a1c/doc.json"


def _plan(**changes: Any) -> BackupPlan:
    plan = BackupPlan(
        backup_id=BACKUP_ID, table=TABLE, created_at="2026-11-27T08:19:00.123Z", segments=8, parallelism=4,
        read_rate_rcu_per_s=100.0, worker_read_rate_rcu_per_s=25.0, read_rate_reason="10% of 1,000 RCU",
        consistent_read=False, compression="gzip", compression_level=2, object_size=256 * 1024 * 1024,
        part_size=8 * 1024 * 1024, acl="bucket-owner-full-control", sse="AES256", kms_key_id=None,
        storage_class=None, source={"table_name": TABLE}, schema={"KeySchema": []}, tool_version="1.2.3",
        retention={"tier": "daily", "expires_at": "2026-12-04T08:19:00Z", "policy": {"daily": 7}})
    return dataclasses.replace(plan, **changes)


def _upload(parts: int = 2) -> dict:
    return {"upload_id": "2~upload.id_-", "parts": [{"PartNumber": n, "ETag": f'"{n:032x}"', "ChecksumSHA256": PART_SHA}
                                                   for n in range(1, parts + 1)]}


def _staged(seq: int, attempt: str = ATTEMPT) -> dict:
    return {"staged": staging_key(ROOT, attempt, f"{SEGMENT:06d}-{seq:04d}{EXT}")}


def _result(*completions: dict) -> SegmentResult:
    completions = completions or (_upload(), _staged(1))
    objects = [StagedObject(f"data/{SEGMENT:06d}-{seq:04d}{EXT}", 2, 100 + seq, SHA, c)
               for seq, c in enumerate(completions)]
    return SegmentResult(backup_id=BACKUP_ID, segment=SEGMENT, attempt_id=ATTEMPT,
                         started_at="2026-11-27T08:19:00.000Z", finished_at="2026-11-27T08:19:02.500Z",
                         seconds=2.5, items=2 * len(objects), raw_bytes=4096, consumed_rcu=12.5, estimated=False,
                         throttle_retries=1, transient_retries=0, objects=objects)


def _read_plan(data: bytes, backup_id: str = BACKUP_ID, table: str = TABLE) -> BackupPlan:
    return BackupPlan.from_json(data, WHERE, backup_id, table)


def _read_result(data: bytes, segment: int = SEGMENT) -> SegmentResult:
    return SegmentResult.from_json(data, WHERE, backup_id=BACKUP_ID, segment=segment, root=ROOT, extension=EXT)


def _changed(document: bytes, change: Change) -> bytes:
    body = copy.deepcopy(orjson.loads(document))
    change(body)
    return orjson.dumps(body)


def _refused(read: Callable[[bytes], Any], data: bytes, *named: str) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        read(data)
    text = str(caught.value)
    for name in named:
        assert name in text, text
    for value in (SECRET, str(SECRET_NUMBER), "\x1b", "../"):
        assert value not in text, text
    assert WHERE in text and caught.value.hint and "\n" not in caught.value.message
    return caught.value


# --- plan.json ---------------------------------------------------------------------------------

@pytest.mark.parametrize("plan", [
    _plan(),
    _plan(read_rate_rcu_per_s=None, worker_read_rate_rcu_per_s=None, retention=None, acl=None, sse=None),
    _plan(compression="zstd", compression_level=22, parallelism=3, worker_read_rate_rcu_per_s=100.0 / 3),
    _plan(compression="none", compression_level=None, created_at="2026-11-27T08:19:00Z"),
])
def test_a_plan_reads_back_as_written(plan):
    assert _read_plan(plan.to_json()) == plan


PLAN_FIELDS = ["format", "format_version", "tool_version", "backup_id", "table", "created_at", "segments",
               "parallelism", "read_rate_rcu_per_s", "worker_read_rate_rcu_per_s", "read_rate_reason",
               "consistent_read", "compression", "compression_level", "object_size", "part_size", "acl", "sse",
               "kms_key_id", "storage_class", "source", "schema"]


@pytest.mark.parametrize("name", PLAN_FIELDS)
def test_a_plan_without_a_field_is_refused_naming_it(name):
    _refused(_read_plan, _changed(_plan().to_json(), _drop(name)), name)


@pytest.mark.parametrize("name, value", [
    (name, value) for name in ("segments", "parallelism", "object_size", "part_size", "compression_level")
    for value in (SECRET, float(SECRET_NUMBER) + 0.5, True, [SECRET], {SECRET: 1})
] + [(name, value) for name in ("format", "format_version", "tool_version", "backup_id", "table", "created_at",
                                "read_rate_reason", "compression", "acl", "sse", "kms_key_id", "storage_class")
     for value in (SECRET_NUMBER, True, [SECRET], {SECRET: 1})]
  + [(name, value) for name in ("read_rate_rcu_per_s", "worker_read_rate_rcu_per_s")
     for value in (SECRET, True, [SECRET_NUMBER])]
  + [("consistent_read", value) for value in (SECRET, 1, None)]
  + [(name, value) for name in ("source", "schema", "retention") for value in (SECRET, [SECRET], SECRET_NUMBER)])
def test_a_plan_field_of_the_wrong_json_type_is_refused_naming_it(name, value):
    _refused(_read_plan, _changed(_plan().to_json(), _set(name, value)), name)


@pytest.mark.parametrize("name, value", [
    ("segments", 0), ("segments", 1_000_001), ("segments", -SECRET_NUMBER),
    ("parallelism", 0), ("parallelism", 10_001),
    ("object_size", 1024 * 1024 - 1), ("part_size", 5 * 1024 * 1024 - 1), ("part_size", 5 * 1024 ** 3 + 1),
    ("compression_level", -1), ("compression_level", 23),
    ("compression_level", 10),  # gzip's levels are 1-9
    ("compression_level", 0),
    ("compression", SECRET), ("format", "ddbvault-backup"), ("format_version", "2.0"), ("format_version", "1.0\n"),
    ("backup_id", SECRET), ("table", "../" + SECRET), ("table", "ab"),
    ("read_rate_rcu_per_s", 0), ("read_rate_rcu_per_s", -1.0),
    ("worker_read_rate_rcu_per_s", 0),
    ("created_at", SECRET), ("created_at", "2026-13-27T08:19:00Z"), ("created_at", "2026-11-27T08:19:00+01:00"),
    ("created_at", "2026-11-27T08:19:00.123Z\x1b[31m"),
    ("tool_version", "x" * 101), ("read_rate_reason", "x" * 501), ("acl", "x" * 101),
])
def test_a_plan_field_out_of_range_is_refused_naming_it(name, value):
    _refused(_read_plan, _changed(_plan().to_json(), _set(name, value)), name)


@pytest.mark.parametrize("cap, worker", [
    (100.0, 100.0),  # each of 4 workers at the whole cap: 4x the cap together
    (100.0, 24.0),
    (100.0, None),   # unlimited workers under a cap
    (None, 25.0),
])
def test_a_per_worker_rate_that_is_not_the_cap_shared_is_refused(cap, worker):
    data = _changed(_plan().to_json(), lambda body: body.update(read_rate_rcu_per_s=cap,
                                                                worker_read_rate_rcu_per_s=worker))
    _refused(_read_plan, data, "worker_read_rate_rcu_per_s")


@pytest.mark.parametrize("change, named", [
    (_set("retention.tier", SECRET), "retention.tier"),
    (_set("retention.tier", SECRET_NUMBER), "retention.tier"),
    (_set("retention.expires_at", SECRET), "retention.expires_at"),
    (_drop("retention.expires_at"), "retention.expires_at"),
    (_set("retention.policy", SECRET), "retention.policy"),
    (_set("retention.policy", {SECRET: 7}), "retention.policy"),
    (_set("retention.policy", {"daily": -SECRET_NUMBER}), "retention.policy.*"),
])
def test_a_plan_with_a_malformed_retention_is_refused(change, named):
    _refused(_read_plan, _changed(_plan().to_json(), change), named)


def test_a_plan_of_another_backup_or_table_is_refused():
    other_id = "20261128T081900Z-3f9a1c"
    _refused(lambda data: _read_plan(data, backup_id=other_id), _plan().to_json(), "another backup")
    _refused(lambda data: _read_plan(data, table="users"), _plan().to_json(), "another backup")


@pytest.mark.parametrize("data", [b"", b"{", b"\xff\xfe", b"[]", b"null", b'"' + SECRET.encode() + b'"',
                                  b"NaN", orjson.dumps([SECRET_NUMBER])])
def test_a_plan_that_is_not_a_json_object_is_refused(data):
    _refused(_read_plan, data)


def test_a_plan_over_its_size_is_refused_before_parsing():
    padded = _changed(_plan().to_json(), _set("source.padding", SECRET * (PLAN_MAX_BYTES // len(SECRET))))
    assert len(padded) > PLAN_MAX_BYTES
    _refused(_read_plan, padded, f"over {PLAN_MAX_BYTES:,} bytes")


# --- segments/S.json ---------------------------------------------------------------------------

@pytest.mark.parametrize("result", [_result(), _result(_upload(1)), _result(_staged(0), _staged(1), _staged(2)),
                                    dataclasses.replace(_result(), objects=[], items=0)])
def test_a_segment_result_reads_back_as_written(result):
    assert _read_result(result.to_json()) == result


RESULT_FIELDS = ["format", "format_version", "backup_id", "segment", "attempt_id", "started_at", "finished_at",
                 "seconds", "items", "raw_bytes", "consumed_rcu", "estimated", "throttle_retries",
                 "transient_retries", "objects", "objects.0.key", "objects.0.items", "objects.0.bytes",
                 "objects.0.sha256", "objects.0.completion", "objects.0.completion.parts.1.PartNumber",
                 "objects.0.completion.parts.0.ETag"]


@pytest.mark.parametrize("name", RESULT_FIELDS)
def test_a_result_without_a_field_is_refused_naming_it(name):
    _refused(_read_result, _changed(_result().to_json(), _drop(name)), name)


@pytest.mark.parametrize("name, value", [
    (name, value) for name in ("segment", "seconds", "items", "raw_bytes", "consumed_rcu", "throttle_retries",
                               "transient_retries", "objects.0.items", "objects.1.bytes",
                               "objects.0.completion.parts.0.PartNumber")
    for value in (SECRET, True, None, [SECRET_NUMBER])
] + [(name, value) for name in ("backup_id", "attempt_id", "started_at", "finished_at", "objects.0.key",
                                "objects.0.sha256", "objects.0.completion.upload_id",
                                "objects.0.completion.parts.0.ETag", "objects.0.completion.parts.0.ChecksumSHA256",
                                "objects.1.completion.staged")
     for value in (SECRET_NUMBER, True, [SECRET])]
  + [("estimated", SECRET), ("estimated", 0), ("objects", SECRET), ("objects", {SECRET: 1}),
     ("objects.0", SECRET), ("objects.0.completion", [SECRET]), ("objects.0.completion.parts", SECRET)])
def test_a_result_field_of_the_wrong_json_type_is_refused_naming_it(name, value):
    _refused(_read_result, _changed(_result().to_json(), _set(name, value)), name)


@pytest.mark.parametrize("name, value", [
    ("segment", -1), ("segment", 1_000_000), ("items", -1), ("raw_bytes", -SECRET_NUMBER),
    ("seconds", -0.5), ("seconds", 1e300), ("consumed_rcu", -1), ("consumed_rcu", 1e300),
    ("throttle_retries", -1), ("objects.0.items", 0), ("objects.0.bytes", 0),
    ("objects.0.sha256", "AB" * 32), ("objects.0.sha256", SECRET),
    ("attempt_id", SECRET), ("attempt_id", ATTEMPT.upper()),
    ("started_at", SECRET), ("finished_at", "2026-11-27"), ("started_at", "2026-11-27T08:19:00.000Z\n"),
    ("objects.0.completion.parts.0.PartNumber", 0), ("objects.0.completion.parts.1.PartNumber", 10_001),
    ("objects.0.completion.parts.0.ETag", ""), ("objects.0.completion.parts.0.ETag", "\x1b[31m" + SECRET),
    ("objects.0.completion.parts.0.ETag", SECRET + " \n"),
    ("objects.0.completion.upload_id", ""), ("objects.0.completion.upload_id", "../" + SECRET + "\x00"),
    ("objects.0.completion.parts.0.ChecksumSHA256", SECRET),
    ("format", "ddbvault-plan"), ("format_version", "2.0"),
])
def test_a_result_field_out_of_range_is_refused_naming_it(name, value):
    _refused(_read_result, _changed(_result().to_json(), _set(name, value)), name)


def test_a_result_of_another_segment_or_backup_is_refused():
    _refused(lambda data: _read_result(data, segment=SEGMENT + 1), _result().to_json(), "another backup or segment")
    other = _changed(_result().to_json(), _set("backup_id", "20261128T081900Z-3f9a1c"))
    _refused(_read_result, other, "another backup or segment")


@pytest.mark.parametrize("key", [
    f"data/../{SEGMENT:06d}-0000{EXT}", f"/{ROOT}/data/{SEGMENT:06d}-0000{EXT}", f"data/{SEGMENT + 1:06d}-0000{EXT}",
    f"data/{SEGMENT:06d}-0001{EXT}",  # out of order (and then a repeat)
    f"data/{SEGMENT:06d}-0000.json.zst", f"data/{SEGMENT:06d}-0000{EXT}/", f"data/{SEGMENT:06d}-0000{EXT}\x00",
    f"{ROOT}/data/{SEGMENT:06d}-0000{EXT}", f"manifest.json", f"data/{SEGMENT:06d}-00000{EXT}", f"Data/{SEGMENT:06d}-0000{EXT}",
])
def test_object_keys_are_exactly_the_segments_names_in_order(key):
    _refused(_read_result, _changed(_result().to_json(), _set("objects.0.key", key)), "objects.0.key")


def test_a_gap_in_the_objects_is_refused():
    result = _result(_upload(), _upload(), _upload())
    _refused(_read_result, _changed(result.to_json(), lambda body: body["objects"].pop(1)), "objects.1.key")


@pytest.mark.parametrize("staged", [
    staging_key(ROOT, ATTEMPT, ".."), staging_key(ROOT, ATTEMPT, "."),
    staging_key(ROOT, ATTEMPT, f"{SEGMENT:06d}-0000{EXT}"),   # object 0's file, for object 1
    staging_key(ROOT, ATTEMPT, f"{SEGMENT + 1:06d}-0001{EXT}"),
    staging_key(ROOT, OTHER_ATTEMPT, f"{SEGMENT:06d}-0001{EXT}"),
    staging_key(ROOT, ATTEMPT, f"../{OTHER_ATTEMPT}/{SEGMENT:06d}-0001{EXT}"),
    staging_key(ROOT, ATTEMPT, f"a/../{SEGMENT:06d}-0001{EXT}"),
    "/" + staging_key(ROOT, ATTEMPT, f"{SEGMENT:06d}-0001{EXT}"),
    f"{ROOT}/data/{SEGMENT:06d}-0001{EXT}", f"prod/users/{BACKUP_ID}/staging/{ATTEMPT}/{SEGMENT:06d}-0001{EXT}",
    "/etc/passwd", "",
])
def test_a_staged_file_outside_its_attempts_staging_is_refused(staged):
    _refused(_read_result, _changed(_result().to_json(), _set("objects.1.completion.staged", staged)),
             "objects.1.completion.staged")


@pytest.mark.parametrize("completion, named", [
    ({"upload_id": "u"}, "objects.0.completion"),
    ({"upload_id": "u", "parts": []}, "objects.0.completion"),
    ({"parts": _upload()["parts"]}, "objects.0.completion"),
    ({}, "objects.0.completion"),
    ({**_upload(), **_staged(0)}, "objects.0.completion"),
    ({**_upload(), "parts": [{"PartNumber": 2, "ETag": '"e"'}]}, "objects.0.completion.parts"),
    ({**_upload(), "parts": [{"PartNumber": 1, "ETag": '"e"'}, {"PartNumber": 3, "ETag": '"e"'}]},
     "objects.0.completion.parts"),
    ({**_upload(), "parts": [{"PartNumber": 2, "ETag": '"e"'}, {"PartNumber": 1, "ETag": '"e"'}]},
     "objects.0.completion.parts"),
    ({**_upload(), "parts": [{"PartNumber": 1, "ETag": '"e"'}, {"PartNumber": 1, "ETag": '"e"'}]},
     "objects.0.completion.parts"),
    ({**_upload(), "parts": [{"PartNumber": 1, "ETag": '"e"'}] * 10_001}, "objects.0.completion.parts"),
])
def test_an_upload_needs_parts_numbered_one_to_n(completion, named):
    _refused(_read_result, _changed(_result().to_json(), _set("objects.0.completion", completion)), named)


@pytest.mark.parametrize("change", [_set("items", 5), _set("items", 3), _set("objects.1.items", 3),
                                    _set("items", 0)])
def test_items_that_do_not_add_up_are_refused(change):
    _refused(_read_result, _changed(_result().to_json(), change), "items")


@pytest.mark.parametrize("data", [b"", b"{", b"[]", b"null", b'"' + SECRET.encode() + b'"'])
def test_a_result_that_is_not_a_json_object_is_refused(data):
    _refused(_read_result, data)


def test_a_result_over_its_size_is_refused_before_parsing():
    data = b" " * RESULT_MAX_BYTES + _result().to_json()
    _refused(_read_result, data, f"over {RESULT_MAX_BYTES:,} bytes")


# --- manifest format 1.4: segments ---------------------------------------------------------------

def _manifest_body(version: str = "1.4") -> dict:
    manifest = Manifest(tool_version="1.2.3", backup_id=BACKUP_ID, source={"table_name": TABLE}, schema={},
                        options={"segments": 2}, started_at="a", finished_at="b",
                        objects=[DataObject(f"data/000000-0000{EXT}", 3, 10, SHA),
                                 DataObject(f"data/000001-0000{EXT}", 2, 7, SHA)],
                        consumed_capacity={"read_capacity_units": 1.0},
                        segments=[{"segment": s, "items": 3 - s, "objects": 1, "consumed_rcu": 0.5, "seconds": 1.25,
                                   "attempt_id": ATTEMPT, "attempts": 1 + s} for s in (0, 1)])
    body = orjson.loads(manifest.to_json())
    body["format_version"] = version
    return body


def _read_manifest(body: dict) -> Manifest:
    return Manifest.from_json(orjson.dumps(body), where=WHERE)


def test_a_manifest_records_each_segment_as_format_1_4():
    manifest = _read_manifest(_manifest_body())
    assert manifest.format_version == "1.4"
    assert manifest.segments == _manifest_body()["segments"]


@pytest.mark.parametrize("version", ["1.3", "1.0"])
def test_an_earlier_manifest_carrying_segments_is_read_as_its_version(version):
    body = _manifest_body(version)
    body["segments"] = SECRET  # not a field of that version: ignored, like any unknown field
    assert _read_manifest(body).segments is None


@pytest.mark.parametrize("change, named", [
    (_set("segments", SECRET), "segments"),
    (_set("segments", {SECRET: 1}), "segments"),
    (_set("segments.0", SECRET), "segments.0"),
    (_drop("segments.0.attempt_id"), "segments.0.attempt_id"),
    (_set("segments.0.attempt_id", SECRET), "segments.0.attempt_id"),
    (_set("segments.0.segment", -1), "segments.0.segment"),
    (_set("segments.0.segment", 1_000_000), "segments.0.segment"),
    (_set("segments.0.items", "3"), "segments.0.items"),
    (_set("segments.0.items", True), "segments.0.items"),
    (_set("segments.1.objects", -1), "segments.1.objects"),
    (_set("segments.1.consumed_rcu", -0.5), "segments.1.consumed_rcu"),
    (_set("segments.1.seconds", SECRET), "segments.1.seconds"),
    (_set("segments.0.attempts", 0), "segments.0.attempts"),
    (_set("segments.0.attempts", 1001), "segments.0.attempts"),
])
def test_bad_segment_records_are_refused(change, named):
    body = _manifest_body()
    change(body)
    with pytest.raises(IntegrityError) as caught:
        _read_manifest(body)
    assert named in str(caught.value) and SECRET not in str(caught.value)
