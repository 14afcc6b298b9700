"""Where a backup's objects live, and how destinations are named (backup format version 1).

    <prefix>/<table>/<backup-id>/data/<segment>-<seq>.json.gz   data objects
    <prefix>/<table>/<backup-id>/manifest.json                   written last

Pure: no I/O. Keys are relative to the store's root (the bucket, or a local directory).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from .errors import UsageError

MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
_BACKUP_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")
# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-].
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def new_backup_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A backup id that sorts by time (UTC, to the second) and is unique without coordination."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{suffix or secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    return bool(_BACKUP_ID.match(text))


def check_table_name(name: str) -> str:
    if not _TABLE_NAME.match(name):
        raise UsageError(f"invalid table name {name!r}: DynamoDB table names are 3-255 characters "
                         "of letters, digits, '_', '-' and '.'",
                         hint="pass the table's name (not its ARN) as TABLE")
    return name


def join(*parts: str) -> str:
    """Join key parts with '/', ignoring empty parts and stray slashes."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass(frozen=True)
class BackupLayout:
    """The keys of one backup, relative to the store root."""

    prefix: str
    table: str
    backup_id: str

    @property
    def root(self) -> str:
        return join(self.prefix, self.table, self.backup_id)

    @property
    def manifest_key(self) -> str:
        return join(self.root, MANIFEST_NAME)

    @property
    def data_prefix(self) -> str:
        """With a trailing slash: what DynamoDB ImportTable takes as S3KeyPrefix."""
        return join(self.root, DATA_DIR) + "/"

    def data_key(self, segment: int, seq: int, extension: str) -> str:
        return f"{self.data_prefix}{segment:06d}-{seq:04d}{extension}"

    def relative(self, key: str) -> str:
        """A key as the manifest records it: relative to the backup's root."""
        root = self.root + "/"
        if not key.startswith(root):
            raise ValueError(f"{key!r} is not inside backup {self.root!r}")
        return key[len(root):]


@dataclass(frozen=True)
class Destination:
    """A parsed DEST: `s3://bucket[/prefix]` or a local directory."""

    kind: str  # "s3" or "local"
    location: str  # bucket name, or absolute directory path
    prefix: str = ""

    @property
    def url(self) -> str:
        if self.kind == "s3":
            return "s3://" + join(self.location, self.prefix)
        return join(self.location, self.prefix) if self.prefix else self.location

    def url_of(self, key: str) -> str:
        if self.kind == "s3":
            return f"s3://{self.location}/{key}"
        return f"{self.location.rstrip('/')}/{key}"


def parse_destination(text: str) -> Destination:
    """Parse `s3://bucket/prefix` or a local path. Raises UsageError naming what is wrong."""
    import os

    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not _BUCKET.match(bucket):
            raise UsageError(f"invalid S3 bucket name {bucket!r} in {text!r}",
                             hint="use s3://BUCKET/optional/prefix with a valid bucket name")
        return Destination("s3", bucket, prefix.strip("/"))
    if "://" in text:
        raise UsageError(f"unsupported destination {text!r}",
                         hint="use s3://BUCKET/prefix or a local directory path")
    if not text:
        raise UsageError("empty destination", hint="use s3://BUCKET/prefix or a local directory")
    return Destination("local", os.path.abspath(text))
