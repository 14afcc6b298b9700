"""The plan, attempt and segment-result documents of a backup in progress (docs/scale.md).

A scan backup is three steps (backup/plan.py, backup/work.py, backup/commit.py), which may run
in different processes or machines; these documents are all they share, beside the data:

    <root>/plan.json                     the plan: written once, create-only, before any Scan
    <root>/attempts/SSSSSS-NNNN.json     attempt N (1, 2, ...) of segment S: create-only, at its start
    <root>/segments/SSSSSS.json          the winning attempt's result, create-only
    <root>/staging/<id>/...              local directories only: an attempt's staged data files

`<root>` is DEST/TABLE/BACKUP_ID (format/layout.py). Exactly one attempt of a segment creates
its result (S3 If-None-Match: *, a hard link locally); that attempt, and only it, makes its data
objects visible under data/. The manifest, written last by commit, stays what makes a backup
complete: these documents never do.

Reading is strict, as for the manifest: each document is untrusted input (a worker on another
machine, a crashed run, anyone with write access to the prefix). Every field has its exact JSON
type, numbers their ranges, object keys are those this segment may write, and the document
belongs to the backup whose path holds it. Anything else raises IntegrityError naming the
document and the field, never a value.

Pure: builds and checks dicts and bytes; the store writes and reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from ..errors import IntegrityError
from .codec import COMPRESSIONS
from .layout import DATA_DIR, is_backup_id, join

PLAN_FORMAT = "ddbvault-plan"
RESULT_FORMAT = "ddbvault-segment-result"
ATTEMPT_FORMAT = "ddbvault-segment-attempt"
FORMAT_VERSION = "1.0"
PLAN_NAME = "plan.json"
SEGMENTS_DIR = "segments"
ATTEMPTS_DIR = "attempts"
STAGING_DIR = "staging"
MAX_SEGMENTS = 1_000_000  # Scan's TotalSegments limit (API_Scan.html)
MAX_PARALLELISM = 10_000  # AWS Batch's largest array job (10,000 children)
# A result lists its segment's data objects (~300 bytes each with the upload's parts); 16 MiB
# holds tens of thousands, far more than one segment writes at the smallest object size.
RESULT_MAX_BYTES = 16 * 1024 * 1024
PLAN_MAX_BYTES = 4 * 1024 * 1024  # the table's schema is the bulk: at most a few hundred KB
ATTEMPT_MAX_BYTES = 64 * 1024
_ATTEMPT_ID = re.compile(r"[0-9a-f]{16}", re.ASCII)
UNTRUSTED_HINT = ("this backup's in-progress documents cannot be trusted: start a new backup "
                  "(ddbvault backup TABLE --to DEST)")


def plan_key(root: str) -> str:
    return join(root, PLAN_NAME)


def result_key(root: str, segment: int) -> str:
    return join(root, SEGMENTS_DIR, f"{segment:06d}.json")


# Attempts of one segment are numbered 1, 2, ...: each new attempt creates the first number not
# taken (create-only), so the numbers have no gap and commit counts them by reading, without
# s3:ListBucket. Bounded: a segment tried this often is failing for a reason a retry won't fix.
MAX_ATTEMPTS = 1000


def attempt_key(root: str, segment: int, number: int) -> str:
    return join(root, ATTEMPTS_DIR, f"{segment:06d}-{number:04d}.json")


def staging_key(root: str, attempt_id: str, name: str) -> str:
    """Where a local attempt stages a data object before it wins: outside data/."""
    return join(root, STAGING_DIR, attempt_id, name)


def is_attempt_id(text: str) -> bool:
    return isinstance(text, str) and _ATTEMPT_ID.fullmatch(text) is not None


def segment_object_name(segment: int, seq: int, extension: str) -> str:
    """A data object's name (under data/): `SSSSSS-NNNN<ext>`, as layout.BackupLayout.data_key."""
    return f"{segment:06d}-{seq:04d}{extension}"


class _Stored(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def _backup_id(text: str) -> str:
    if not is_backup_id(text):
        raise ValueError("not a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)")
    return text


def _attempt_id(text: str) -> str:
    if not is_attempt_id(text):
        raise ValueError("not an attempt id (16 hex digits)")
    return text


def _rate(value: float | None) -> float | None:
    if value is not None and not (0 < value < float("inf")):
        raise ValueError("a read rate is a finite number of RCU/s above 0, or null (unlimited)")
    return value


class _Plan(_Stored):
    format: str = Field(pattern=f"^{PLAN_FORMAT}$")
    format_version: str = Field(pattern=r"^1\.\d{1,6}$")
    tool_version: str = Field(max_length=100)
    backup_id: Annotated[str, AfterValidator(_backup_id)]
    table: str = Field(pattern=r"^[A-Za-z0-9_.-]{3,255}$")
    created_at: str = Field(max_length=40)
    segments: int = Field(ge=1, le=MAX_SEGMENTS)
    parallelism: int = Field(ge=1, le=MAX_PARALLELISM)
    read_rate_rcu_per_s: Annotated[float | int | None, AfterValidator(_rate)]
    worker_read_rate_rcu_per_s: Annotated[float | int | None, AfterValidator(_rate)]
    read_rate_reason: str = Field(max_length=500)
    consistent_read: bool
    compression: str
    compression_level: int | None = Field(ge=0, le=22)
    object_size: int = Field(ge=1024 * 1024)
    part_size: int = Field(ge=5 * 1024 * 1024, le=5 * 1024 ** 3)
    acl: str | None = Field(max_length=100)
    sse: str | None = Field(max_length=100)
    kms_key_id: str | None = Field(max_length=2048)
    storage_class: str | None = Field(max_length=100)
    source: dict[str, Any]
    table_schema: dict[str, Any] = Field(alias="schema")
    retention: dict[str, Any] | None = None


@dataclass(frozen=True)
class BackupPlan:
    """What every worker of one backup shares: the table, the segments, the read rate, the
    write options. Rates are RCU/s (None: unlimited); `worker_read_rate_rcu_per_s` is
    read_rate_rcu_per_s / parallelism, what each concurrent worker's limiter allows, so that P
    workers together stay within the cap (as the EMR DynamoDB connector splits its rate)."""

    backup_id: str
    table: str
    created_at: str
    segments: int
    parallelism: int
    read_rate_rcu_per_s: float | None
    worker_read_rate_rcu_per_s: float | None
    read_rate_reason: str
    consistent_read: bool
    compression: str
    compression_level: int | None
    object_size: int
    part_size: int  # S3 multipart part size, bytes (raised by plan to fit object_size)
    acl: str | None  # S3 canned ACL of every object; None: no ACL header
    sse: str | None  # "AES256", "aws:kms" or None (the bucket's default)
    kms_key_id: str | None
    storage_class: str | None
    source: dict[str, Any]
    schema: dict[str, Any]
    tool_version: str
    retention: dict[str, Any] | None = None  # format/retention.Retention.to_stored(), under a keep policy
    url: str = ""  # where it was read from or written to (not stored)

    def to_json(self) -> bytes:
        body = {"format": PLAN_FORMAT, "format_version": FORMAT_VERSION, "tool_version": self.tool_version,
                "backup_id": self.backup_id, "table": self.table, "created_at": self.created_at,
                "segments": self.segments, "parallelism": self.parallelism,
                "read_rate_rcu_per_s": self.read_rate_rcu_per_s,
                "worker_read_rate_rcu_per_s": self.worker_read_rate_rcu_per_s,
                "read_rate_reason": self.read_rate_reason, "consistent_read": self.consistent_read,
                "compression": self.compression, "compression_level": self.compression_level,
                "object_size": self.object_size, "part_size": self.part_size, "acl": self.acl,
                "sse": self.sse, "kms_key_id": self.kms_key_id, "storage_class": self.storage_class,
                "source": self.source, "schema": self.schema,
                "retention": self.retention}
        return orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n"

    def to_dict(self) -> dict:
        """The CLI's `backup plan --json` object."""
        return {"url": self.url, "backup_id": self.backup_id, "table": self.table, "segments": self.segments,
                "parallelism": self.parallelism, "read_rate_rcu_per_s": self.read_rate_rcu_per_s,
                "worker_read_rate_rcu_per_s": self.worker_read_rate_rcu_per_s,
                "read_rate_reason": self.read_rate_reason}

    @classmethod
    def from_json(cls, data: bytes, where: str, backup_id: str, table: str, url: str = "") -> "BackupPlan":
        """Parse and check a stored plan that belongs to backup `backup_id` of `table`."""
        body = _load(data, where, PLAN_MAX_BYTES)
        try:
            doc = _Plan.model_validate(body)
        except ValidationError as exc:
            raise _invalid(where, exc) from None
        if doc.compression not in COMPRESSIONS:
            raise IntegrityError(f"{where} is invalid: compression: not one of {', '.join(COMPRESSIONS)}",
                                 hint=UNTRUSTED_HINT)
        if doc.backup_id != backup_id or doc.table != table:
            raise IntegrityError(f"{where}: the plan is of another backup than the one whose path holds it",
                                 hint=UNTRUSTED_HINT)
        return cls(backup_id=doc.backup_id, table=doc.table, created_at=doc.created_at, segments=doc.segments,
                   parallelism=doc.parallelism,
                   read_rate_rcu_per_s=_float(doc.read_rate_rcu_per_s),
                   worker_read_rate_rcu_per_s=_float(doc.worker_read_rate_rcu_per_s),
                   read_rate_reason=doc.read_rate_reason, consistent_read=doc.consistent_read,
                   compression=doc.compression, compression_level=doc.compression_level,
                   object_size=doc.object_size, part_size=doc.part_size, acl=doc.acl, sse=doc.sse,
                   kms_key_id=doc.kms_key_id, storage_class=doc.storage_class, source=doc.source, schema=doc.table_schema,
                   tool_version=doc.tool_version, retention=doc.retention, url=url)


def _float(value: float | int | None) -> float | None:
    return None if value is None else float(value)


# --- segment results ---------------------------------------------------------------------------

class _Part(_Stored):
    PartNumber: int = Field(ge=1, le=10_000)
    ETag: str = Field(min_length=1, max_length=200)
    ChecksumSHA256: str | None = Field(default=None, max_length=100)


class _Completion(_Stored):
    """How a staged object is made visible: an S3 multipart upload, or a local staged file."""

    upload_id: str | None = Field(default=None, min_length=1, max_length=2000)
    parts: list[_Part] | None = Field(default=None, max_length=10_000)
    staged: str | None = Field(default=None, max_length=1024)


class _ResultObject(_Stored):
    key: str = Field(max_length=1024)
    items: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    completion: _Completion


class _Result(_Stored):
    format: str = Field(pattern=f"^{RESULT_FORMAT}$")
    format_version: str = Field(pattern=r"^1\.\d{1,6}$")
    backup_id: Annotated[str, AfterValidator(_backup_id)]
    segment: int = Field(ge=0, lt=MAX_SEGMENTS)
    attempt_id: Annotated[str, AfterValidator(_attempt_id)]
    started_at: str = Field(max_length=40)
    finished_at: str = Field(max_length=40)
    seconds: float | int = Field(ge=0)
    items: int = Field(ge=0)
    raw_bytes: int = Field(ge=0)
    consumed_rcu: float | int = Field(ge=0)
    estimated: bool
    throttle_retries: int = Field(ge=0)
    transient_retries: int = Field(ge=0)
    objects: list[_ResultObject] = Field(max_length=100_000)


@dataclass(frozen=True)
class StagedObject:
    """One data object a segment attempt wrote but has not made visible yet. `key` is relative
    to the backup root (`data/SSSSSS-NNNN<ext>`); `size` stored bytes; `sha256` of them.
    `completion` is the store's own record of how to make it visible (storage: S3
    `{"upload_id", "parts"}`, local `{"staged": key}`)."""

    key: str
    items: int
    size: int
    sha256: str
    completion: dict[str, Any]

    def to_stored(self) -> dict:
        return {"key": self.key, "items": self.items, "bytes": self.size, "sha256": self.sha256,
                "completion": self.completion}


@dataclass(frozen=True)
class SegmentResult:
    """The winning attempt's account of one segment: its items (proven: the sum of its objects'),
    raw line bytes, consumed capacity (RCU), retries, times, and its staged objects."""

    backup_id: str
    segment: int
    attempt_id: str
    started_at: str
    finished_at: str
    seconds: float
    items: int
    raw_bytes: int
    consumed_rcu: float
    estimated: bool
    throttle_retries: int
    transient_retries: int
    objects: list[StagedObject] = field(default_factory=list)

    def to_json(self) -> bytes:
        body = {"format": RESULT_FORMAT, "format_version": FORMAT_VERSION, "backup_id": self.backup_id,
                "segment": self.segment, "attempt_id": self.attempt_id, "started_at": self.started_at,
                "finished_at": self.finished_at, "seconds": self.seconds, "items": self.items,
                "raw_bytes": self.raw_bytes, "consumed_rcu": self.consumed_rcu, "estimated": self.estimated,
                "throttle_retries": self.throttle_retries, "transient_retries": self.transient_retries,
                "objects": [o.to_stored() for o in self.objects]}
        return orjson.dumps(body) + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str, *, backup_id: str, segment: int, root: str,
                  extension: str) -> "SegmentResult":
        """Parse and check segment `segment`'s stored result. Its objects must be exactly the
        names this segment writes, in order (`data/SSSSSS-0000<ext>`, `-0001`, ...), and a
        staged file must lie under this backup's staging/ directory."""
        body = _load(data, where, RESULT_MAX_BYTES)
        try:
            doc = _Result.model_validate(body)
        except ValidationError as exc:
            raise _invalid(where, exc) from None
        if doc.backup_id != backup_id or doc.segment != segment:
            raise IntegrityError(f"{where}: the result is of another backup or segment than its key says",
                                 hint=UNTRUSTED_HINT)
        objects = []
        for seq, obj in enumerate(doc.objects):
            expected = join(DATA_DIR, segment_object_name(segment, seq, extension))
            if obj.key != expected:
                raise IntegrityError(f"{where}: objects.{seq}.key is not {expected}", hint=UNTRUSTED_HINT)
            objects.append(StagedObject(obj.key, obj.items, obj.bytes, obj.sha256,
                                        _completion(obj.completion, where, seq, root, doc.attempt_id)))
        if sum(o.items for o in objects) != doc.items:
            raise IntegrityError(f"{where}: the objects' item counts do not add up to items", hint=UNTRUSTED_HINT)
        return cls(backup_id=doc.backup_id, segment=doc.segment, attempt_id=doc.attempt_id,
                   started_at=doc.started_at, finished_at=doc.finished_at, seconds=float(doc.seconds),
                   items=doc.items, raw_bytes=doc.raw_bytes, consumed_rcu=float(doc.consumed_rcu),
                   estimated=doc.estimated, throttle_retries=doc.throttle_retries,
                   transient_retries=doc.transient_retries, objects=objects)


def _completion(c: _Completion, where: str, seq: int, root: str, attempt_id: str) -> dict[str, Any]:
    if c.upload_id is not None and c.parts and c.staged is None:
        numbers = [p.PartNumber for p in c.parts]
        if numbers != list(range(1, len(numbers) + 1)):
            raise IntegrityError(f"{where}: objects.{seq}.completion.parts are not numbered 1..N",
                                 hint=UNTRUSTED_HINT)
        return {"upload_id": c.upload_id, "parts": [p.model_dump(exclude_none=True) for p in c.parts]}
    if c.staged is not None and c.upload_id is None and c.parts is None:
        staging = join(root, STAGING_DIR, attempt_id) + "/"
        name = c.staged.removeprefix(staging)
        if not c.staged.startswith(staging) or not re.fullmatch(r"[0-9A-Za-z.-]{1,100}", name, re.ASCII):
            raise IntegrityError(f"{where}: objects.{seq}.completion.staged is not under this attempt's "
                                 f"{STAGING_DIR}/", hint=UNTRUSTED_HINT)
        return {"staged": c.staged}
    raise IntegrityError(f"{where}: objects.{seq}.completion holds neither an upload (upload_id and parts) "
                         "nor a staged file", hint=UNTRUSTED_HINT)


@dataclass(frozen=True)
class AttemptRecord:
    """Written by an attempt of a segment when it starts: who ran it, and when."""

    backup_id: str
    segment: int
    number: int  # 1, 2, ...: the attempt's place among the segment's attempts
    attempt_id: str
    started_at: str
    host: str
    pid: int

    def to_json(self) -> bytes:
        return orjson.dumps({"format": ATTEMPT_FORMAT, "format_version": FORMAT_VERSION,
                             "backup_id": self.backup_id, "segment": self.segment, "number": self.number,
                             "attempt_id": self.attempt_id, "started_at": self.started_at,
                             "host": self.host[:255], "pid": self.pid}) + b"\n"


def _load(data: bytes, where: str, limit: int) -> Any:
    if len(data) > limit:
        raise IntegrityError(f"{where} is over {limit:,} bytes, more than such a document may hold",
                             hint=UNTRUSTED_HINT)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise IntegrityError(f"{where} is not valid JSON", hint=UNTRUSTED_HINT) from None


def _invalid(where: str, exc: ValidationError) -> IntegrityError:
    """Names the fields that were wrong, never their values."""
    parts = []
    for error in exc.errors()[:5]:
        loc = ".".join(str(p) for p in error["loc"])
        parts.append(f"{loc}: {error['msg'].removeprefix('Value error, ')}" if loc else error["msg"])
    return IntegrityError(f"{where} is invalid: " + "; ".join(parts), hint=UNTRUSTED_HINT)
