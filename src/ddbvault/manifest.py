"""The manifest: the one object that makes a backup complete (backup format version 1).

Written last, created only if absent, never modified. Readers accept format major version 1
and any minor version (minor versions only add fields); anything else is refused.

Pure: builds and checks dicts and bytes; the store writes and reads them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from .errors import IntegrityError

FORMAT_NAME = "ddbvault-backup"
FORMAT_VERSION = "1.0"
SUPPORTED_MAJOR = 1


@dataclass(frozen=True)
class DataObject:
    """One data object: its key relative to the backup root, item count, stored bytes, sha256."""

    key: str
    items: int
    bytes: int
    sha256: str


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

    def __post_init__(self) -> None:
        if not self.totals:
            self.totals = {"items": sum(o.items for o in self.objects),
                           "bytes": sum(o.bytes for o in self.objects),
                           "objects": len(self.objects)}

    def to_json(self) -> bytes:
        body = asdict(self)
        ordered = {k: body[k] for k in ("format", "format_version", "tool_version", "backup_id",
                                        "source", "schema", "options", "started_at", "finished_at",
                                        "totals", "consumed_capacity", "objects")}
        return orjson.dumps(ordered, option=orjson.OPT_INDENT_2) + b"\n"

    @classmethod
    def from_json(cls, data: bytes, where: str = "manifest") -> "Manifest":
        try:
            body = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise IntegrityError(f"{where} is not valid JSON: {exc}") from exc
        check_version(body, where)
        try:
            objects = [DataObject(**o) for o in body["objects"]]
            fields = {k: body[k] for k in ("tool_version", "backup_id", "source", "schema", "options",
                                           "started_at", "finished_at", "consumed_capacity", "totals")}
        except (KeyError, TypeError) as exc:
            raise IntegrityError(f"{where} is missing or has a malformed field: {exc}") from exc
        manifest = cls(objects=objects, **fields)
        if sum(o.items for o in objects) != manifest.totals.get("items"):
            raise IntegrityError(f"{where}: object item counts do not add up to totals.items")
        return manifest


def check_version(body: Any, where: str) -> None:
    if not isinstance(body, dict) or body.get("format") != FORMAT_NAME:
        raise IntegrityError(f"{where} is not a ddbvault manifest (format != {FORMAT_NAME!r})")
    version = str(body.get("format_version", ""))
    major = version.split(".", 1)[0]
    if not major.isdigit() or int(major) != SUPPORTED_MAJOR:
        raise IntegrityError(f"{where} has format version {version!r}; this ddbvault reads "
                             f"version {SUPPORTED_MAJOR}.x only",
                             hint="use a ddbvault release that supports that format version")
