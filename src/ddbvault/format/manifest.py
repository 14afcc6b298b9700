"""The manifest: the one object that makes a backup complete (backup format version 1).

Written last, created only if absent, never modified. Readers accept format major version 1
and any minor version (minor versions only add fields, which readers ignore); anything else is
refused.

Reading is strict (`Manifest.from_json`): every field this version knows has its exact JSON type
(`"items": "5"` is not a count), counts are never negative, sha256 is 64 lowercase hex digits,
object keys are unique and stay under the backup's `data/` (layout.check_object_key), and
`totals.items` is the sum of the objects' items. Anything else raises one IntegrityError that
names the manifest and the field, before any caller acts on the manifest.

Pure: builds and checks dicts and bytes; the store writes and reads them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from .codec import compression_of_key
from .retention import TIER_DAYS, Retention, parse_utc
from ..errors import IntegrityError
from .layout import DATA_DIR, check_object_key, export_data_dir, is_backup_id

FORMAT_NAME = "ddbvault-backup"
FORMAT_VERSION = "1.0"
# A schema-only backup (options.schema_only: true, no data objects) is written as format 1.1,
# the minor version that added that field (docs/format.md). A 1.0 reader ignores the field and
# would see a backup of an empty table; this version refuses to restore one as data.
SCHEMA_ONLY_FORMAT_VERSION = "1.1"
# A backup written under a keep policy records its tier and expiry (`retention`) and is written
# as format 1.2. A 1.0/1.1 reader ignores the field; its objects still expire by their tag.
RETENTION_FORMAT_VERSION = "1.2"
# A backup of the export engine (options.engine "export") records the DynamoDB export it holds
# (`export`), an MD5 beside each object's sha256, and object keys under
# export/AWSDynamoDB/<export-id>/data/: format 1.3. A 1.0-1.2 reader refuses those keys (they
# are not under data/), so it never restores such a backup as an empty one.
EXPORT_FORMAT_VERSION = "1.3"
# A scan backup made by plan/work/commit (docs/scale.md) records each segment's winning attempt:
# items, objects, consumed capacity, seconds, attempt id and the attempts counted (`segments`):
# format 1.4. A 1.0-1.3 reader ignores the field; data/ and objects are as in 1.0.
SEGMENTS_FORMAT_VERSION = "1.4"
EXPORT_TYPES = ("FULL_EXPORT", "INCREMENTAL_EXPORT")
SUPPORTED_MAJOR = 1
# The most bytes a manifest may hold; readers read no more (a stored manifest is untrusted: a
# link to /dev/zero has no end). The manifest lists every data object in about 200 bytes, so
# this allows about 330,000 objects: 80 TiB of stored data at the default 256 MiB object size,
# 330 GiB at the smallest (1 MiB). A backup refuses to write a larger one.
MANIFEST_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class DataObject:
    """One data object: its key relative to the backup root, its item count, its stored size
    in bytes (compressed, as S3 holds it) and the sha256 of those bytes. The manifest's JSON
    names the size `bytes` (format version 1, docs/format.md)."""

    key: str
    items: int
    size: int
    sha256: str
    md5: str | None = None  # format 1.3, export engine: the export's md5Checksum (base64)

    def to_stored(self) -> dict:
        """The object as the manifest stores it."""
        stored = {"key": self.key, "items": self.items, "bytes": self.size, "sha256": self.sha256}
        if self.md5 is not None:
            stored["md5"] = self.md5
        return stored


@dataclass
class Manifest:
    tool_version: str
    backup_id: str
    source: dict[str, Any]
    schema: dict[str, Any]
    options: dict[str, Any]
    started_at: str
    finished_at: str
    objects: list[DataObject]
    consumed_capacity: dict[str, Any]
    format: str = FORMAT_NAME
    format_version: str = FORMAT_VERSION
    totals: dict[str, int] = field(default_factory=dict)
    retention: Retention | None = None  # format 1.2: the tier and expiry under a keep policy
    # format 1.3: the DynamoDB export an export-engine backup holds (docs/format.md): arn, type,
    # export_time (FULL_EXPORT) or from/to/view_type (INCREMENTAL_EXPORT), item_count,
    # billed_size_bytes, s3_prefix. None: a scan backup.
    export: dict[str, Any] | None = None
    # format 1.4: per segment of a scan backup, in segment order: segment, items, objects,
    # consumed_rcu, seconds, attempt_id, attempts (1..1000: the attempts recorded). None: a backup without the record (before 1.4, schema-only, export).
    segments: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.retention is not None:
            self.format_version = RETENTION_FORMAT_VERSION
        if self.export is not None:
            self.format_version = EXPORT_FORMAT_VERSION
        if self.segments is not None:
            self.format_version = SEGMENTS_FORMAT_VERSION
        if not self.totals:
            self.totals = {"items": sum(o.items for o in self.objects),
                           "bytes": sum(o.size for o in self.objects),
                           "objects": len(self.objects)}

    @property
    def schema_only(self) -> bool:
        """True for a schema-only backup: the table's schema and settings, no items, no Scan."""
        return self.options.get("schema_only") is True

    @property
    def engine(self) -> str:
        """"scan" (ddbvault's parallel Scan) or "export" (a DynamoDB export, format 1.3)."""
        return "export" if self.export is not None else "scan"

    @property
    def incremental(self) -> bool:
        """True for an incremental export: its objects hold change records, not items."""
        return self.export is not None and self.export.get("type") == "INCREMENTAL_EXPORT"

    @property
    def data_dir(self) -> str:
        """Where the data objects are, relative to the backup root: `data`, or the export's
        `export/AWSDynamoDB/<export-id>/data`."""
        return export_data_dir(export_id_of(self.export["arn"])) if self.export is not None else DATA_DIR

    def to_json(self) -> bytes:
        body = asdict(self)
        body["objects"] = [o.to_stored() for o in self.objects]
        body["retention"] = self.retention.to_stored() if self.retention else None
        ordered = {k: body[k] for k in ("format", "format_version", "tool_version", "backup_id",
                                        "source", "schema", "options", "export", "retention", "started_at",
                                        "finished_at", "totals", "consumed_capacity", "segments", "objects")
                   if k not in ("retention", "export", "segments") or body[k] is not None}
        return orjson.dumps(ordered, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str = "manifest") -> "Manifest":
        """Parse and check a stored manifest (see the module docstring). Raises IntegrityError."""
        if len(data) > MANIFEST_MAX_BYTES:
            raise too_large(where)
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise IntegrityError(f"{where} is not valid JSON: {exc}", hint=UNTRUSTED_HINT) from exc
        check_version(body, where)
        body = _fields_of_its_version(body)
        try:
            doc = _Document.model_validate(body)
        except ValidationError as exc:
            raise IntegrityError(f"{where} is invalid: " + "; ".join(_describe(e) for e in exc.errors()[:5]),
                                 hint=UNTRUSTED_HINT) from None
        objects = [DataObject(o.key, o.items, o.bytes, o.sha256, o.md5) for o in doc.objects]
        if sum(o.items for o in objects) != doc.totals.items:
            raise IntegrityError(f"{where}: object item counts do not add up to totals.items",
                                 hint=UNTRUSTED_HINT)
        retention = None if doc.retention is None else Retention(
            doc.retention.tier, doc.retention.expires_at, dict(doc.retention.policy))
        return cls(tool_version=doc.tool_version, backup_id=doc.backup_id, source=doc.source,
                   schema=doc.table_schema, options=doc.options, started_at=doc.started_at,
                   finished_at=doc.finished_at, objects=objects, consumed_capacity=doc.consumed_capacity,
                   totals=doc.totals.model_dump(), retention=retention,
                   export=None if doc.export is None else doc.export.model_dump(exclude_none=True),
                   segments=None if doc.segments is None else [r.model_dump() for r in doc.segments])


UNTRUSTED_HINT = "restore from another backup; this one cannot be trusted"


def too_large(where: str) -> IntegrityError:
    """The error for a manifest over MANIFEST_MAX_BYTES."""
    return IntegrityError(f"{where}: manifest over {MANIFEST_MAX_BYTES:,} bytes (the most a manifest "
                          f"may hold, about {MANIFEST_MAX_BYTES // 200:,} data objects)", hint=UNTRUSTED_HINT)


def check_backup_id(manifest: "Manifest", backup_id: str, where: str) -> None:
    """A manifest belongs to the backup whose path holds it: its `backup_id` is the path's."""
    if manifest.backup_id != backup_id:
        raise IntegrityError(f"{where}: manifest backup_id {manifest.backup_id!r} differs from the "
                             f"backup id {backup_id!r} in its path", hint=UNTRUSTED_HINT)


def _object_key(key: str) -> str:
    try:
        check_object_key(key)
        compression_of_key(key)
    except ValueError as exc:
        raise ValueError(f"{key[:200]!r}: {exc}") from None
    return key


def _backup_id(text: str) -> str:
    if not is_backup_id(text):
        raise ValueError(f"{text[:40]!r} is not a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)")
    return text


class _Stored(BaseModel):
    """What this version knows of a stored JSON object. Exact JSON types (strict); fields a later
    minor version adds are ignored (extra="ignore")."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


class _Object(_Stored):
    key: Annotated[str, AfterValidator(_object_key)]
    items: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    md5: str | None = Field(default=None, pattern=r"^[A-Za-z0-9+/]{22}==$")  # 1.3: base64 of 16 bytes


class _Totals(_Stored):
    items: int = Field(ge=0)
    bytes: int = Field(ge=0)
    objects: int = Field(ge=0)


def _tier(text: str) -> str:
    if text not in TIER_DAYS:
        raise ValueError(f"{text[:20]!r} is not a tier ({', '.join(TIER_DAYS)})")
    return text


def _utc_time(text: str) -> str:
    try:
        parse_utc(text)
    except ValueError:
        raise ValueError("expected a UTC time such as 2026-11-30T15:40:24Z") from None
    return text


class _Retention(_Stored):
    """`retention` (format 1.2): the tier a keep policy gave the backup, and its expiry."""

    tier: Annotated[str, AfterValidator(_tier)]
    expires_at: Annotated[str, AfterValidator(_utc_time)]
    policy: dict[Annotated[str, AfterValidator(_tier)], Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


def export_id_of(arn: str) -> str:
    """The export id at the end of an export ARN (`arn:...:table/T/export/<id>`)."""
    return arn.rpartition("/export/")[2]


def _export_arn(text: str) -> str:
    if not text.startswith("arn:") or "/export/" not in text:
        raise ValueError("expected an export ARN (arn:...:table/TABLE/export/ID)")
    export_data_dir(export_id_of(text))  # a well-formed export id
    return text


class _Export(_Stored):
    """`export` (format 1.3): the DynamoDB export an export-engine backup holds."""

    arn: Annotated[str, AfterValidator(_export_arn)]
    type: str = Field(pattern="^(FULL_EXPORT|INCREMENTAL_EXPORT)$")
    export_time: Annotated[str, AfterValidator(_utc_time)] | None = None  # FULL_EXPORT
    from_time: Annotated[str, AfterValidator(_utc_time)] | None = Field(default=None, alias="from")
    to_time: Annotated[str, AfterValidator(_utc_time)] | None = Field(default=None, alias="to")
    view_type: str | None = None  # INCREMENTAL_EXPORT: NEW_AND_OLD_IMAGES or NEW_IMAGE
    item_count: int = Field(ge=0)
    billed_size_bytes: int = Field(ge=0)
    s3_prefix: str

    @model_validator(mode="after")
    def _times(self) -> "_Export":
        if self.type == "FULL_EXPORT" and self.export_time is None:
            raise ValueError("a FULL_EXPORT records its export_time")
        if self.type == "INCREMENTAL_EXPORT":
            if self.from_time is None or self.to_time is None or self.view_type is None:
                raise ValueError("an INCREMENTAL_EXPORT records from, to and view_type")
            if parse_utc(self.from_time) >= parse_utc(self.to_time):
                raise ValueError("from must be before to")
        return self

    def model_dump(self, **kwargs) -> dict:  # the stored spelling: "from"/"to"
        return super().model_dump(by_alias=True, **kwargs)


class _SegmentRecord(_Stored):
    """One entry of `segments` (format 1.4)."""

    segment: int = Field(ge=0, lt=1_000_000)
    items: int = Field(ge=0)
    objects: int = Field(ge=0)
    consumed_rcu: float | int = Field(ge=0)
    seconds: float | int = Field(ge=0)
    attempt_id: str = Field(pattern=r"^[0-9a-f]{16}$")
    attempts: int = Field(ge=1, le=1000)


class _Document(_Stored):
    tool_version: str
    backup_id: Annotated[str, AfterValidator(_backup_id)]
    source: dict[str, Any]
    table_schema: dict[str, Any] = Field(alias="schema")
    options: dict[str, Any]
    started_at: str
    finished_at: str
    totals: _Totals
    consumed_capacity: dict[str, Any]
    objects: list[_Object]
    retention: _Retention | None = None
    export: _Export | None = None
    segments: list[_SegmentRecord] | None = Field(default=None, max_length=1_000_000)

    @model_validator(mode="after")
    def _unique_keys(self) -> "_Document":
        # export (format 1.3): every object lies in that export's data/, a scan backup's in data/
        engine = self.options.get("engine", "scan")
        if engine != ("export" if self.export else "scan"):
            raise ValueError("options.engine: must be \"export\" exactly when the manifest has an export")
        data_dir = export_data_dir(export_id_of(self.export.arn)) if self.export else DATA_DIR
        for obj in self.objects:
            if not obj.key.startswith(data_dir + "/"):
                raise ValueError(f"objects: {obj.key[:200]!r} is not under {data_dir}/")
        # options.schema_only (format 1.1): a JSON boolean; when true the backup holds no data
        schema_only = self.options.get("schema_only", False)
        if not isinstance(schema_only, bool):
            raise ValueError("options.schema_only: Input should be a valid boolean")
        if schema_only and (self.objects or self.totals.items or self.totals.objects):
            raise ValueError("options.schema_only: a schema-only backup lists no data objects and no items")
        seen: set[str] = set()
        for obj in self.objects:
            if obj.key in seen:
                raise ValueError(f"objects: {obj.key!r} is listed twice")
            seen.add(obj.key)
        return self


def _describe(error: dict) -> str:
    """`objects.0.items: Input should be a valid integer`: the field's path and what was wrong,
    never the offending value (it could be anything)."""
    where = ".".join(str(part) for part in error["loc"])
    message = re.sub(r" or instance of \w+$", "", error["msg"].removeprefix("Value error, "))
    return f"{where}: {message}" if where else message


def _minor(body: dict) -> int:
    """The manifest's minor format version (0 when it is not a number)."""
    minor = str(body.get("format_version", "")).partition(".")[2]
    return int(minor) if minor.isdigit() and len(minor) <= 6 else 0


def _fields_of_its_version(body: dict) -> dict:
    """A field means something only from the minor version that defined it: in a manifest of
    an earlier minor version it is a field this reader does not know, and is ignored like any
    other (`retention` from 1.2; `export` and the objects' `md5` from 1.3; `segments` from 1.4). So a 1.1 manifest
    that carries an `md5` of its own is read as 1.1 readers read it (its sha256s are checked)."""
    minor = _minor(body)
    dropped = {name for name, since in (("retention", 2), ("export", 3), ("segments", 4))
               if minor < since and name in body}
    objects = body.get("objects")
    strip_md5 = minor < 3 and isinstance(objects, list)
    if not dropped and not strip_md5:
        return body
    body = {k: v for k, v in body.items() if k not in dropped}
    if strip_md5:
        body["objects"] = [{k: v for k, v in o.items() if k != "md5"} if isinstance(o, dict) else o
                           for o in objects]
    return body


def check_version(body: Any, where: str) -> None:
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise IntegrityError(f"{where} is not a ddbvault manifest (format != {FORMAT_NAME!r})")
    version = str(body.get("format_version", ""))
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise IntegrityError(f"{where} has format version {version!r}; this ddbvault reads "
                             f"version {SUPPORTED_MAJOR}.x only",
                             hint="use a ddbvault release that supports that format version")
