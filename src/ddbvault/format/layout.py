"""Where a backup's objects live, and how destinations are named (backup format version 1).

    <prefix>/<table>/<backup-id>/data/<segment>-<seq>.json.gz   data objects
    <prefix>/<table>/<backup-id>/manifest.json                   written last

Destinations are parsed strictly, in one place (`parse_destination`): `s3://BUCKET[/PREFIX]`,
`file:///ABSOLUTE/PATH`, or a plain local path. Anything else that looks like a URL (a scheme
followed by `:`, such as `s3:/b`, `S3://b`, `gs://b`, `file:rel`, or a Windows drive `C:\\x`)
is refused with a UsageError: a typo is never guessed into a local directory.

Pure: no I/O. Keys are relative to the store's root (the bucket, or a local directory).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import UsageError

MANIFEST_NAME = "manifest.json"
DATA_DIR = "data"
_BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}", re.ASCII)
# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-].
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# RFC 3986: a scheme is a letter, then letters, digits, '+', '-', '.'; it ends at the first ':'.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")
_ID_TIME = "%Y%m%dT%H%M%SZ"
DESTINATION_HINT = "use s3://BUCKET/PREFIX, file:///ABSOLUTE/PATH or a local path (write ./NAME for a relative one)"


def new_backup_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A backup id that sorts by time (UTC, to the second) and is unique without coordination."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{suffix or secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    """True for `YYYYMMDDTHHMMSSZ-xxxxxx` whose time is a real date and time (UTC)."""
    if not _BACKUP_ID.fullmatch(text):
        return False
    try:
        datetime.strptime(text[:16], _ID_TIME)
    except ValueError:  # e.g. month 13 or hour 99: shaped like an id, but no backup wrote it
        return False
    return True


def check_object_key(key: object) -> str:
    """A data object's key as a manifest records it: `data/NAME`, relative to the backup root.

    Raises ValueError unless it is a string under `data/` whose '/'-separated parts are all
    non-empty, none is `.` or `..`, and which holds no backslash or control character: such a
    key can never name anything outside the backup, on S3 or on a local disk."""
    if not isinstance(key, str):
        raise ValueError("must be a string")
    parts = key.split("/")
    if parts[0] != DATA_DIR or len(parts) < 2:
        raise ValueError(f"must be under {DATA_DIR}/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("must not have empty, '.' or '..' parts")
    if "\\" in key or any(ord(c) < 32 or ord(c) == 127 for c in key):
        raise ValueError("must not contain backslashes or control characters")
    return key


def check_table_name(name: str) -> str:
    if not _TABLE_NAME.fullmatch(name):
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
    """Parse `s3://bucket[/prefix]`, `file:///abs/path` or a local path (see the module docstring).

    Raises UsageError naming what is wrong; never guesses what a malformed URL meant."""
    import os

    if not text or not text.strip():
        raise UsageError("empty destination", hint=DESTINATION_HINT)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise UsageError(f"destination {text!r} contains a control character", hint=DESTINATION_HINT)
    scheme = _SCHEME.match(text)
    if scheme is None:
        return Destination("local", os.path.abspath(text))
    if _WINDOWS_DRIVE.match(text):
        raise UsageError(f"unsupported destination {text!r}: a Windows drive path",
                         hint="use a POSIX path, s3://BUCKET/PREFIX or file:///ABSOLUTE/PATH")
    name, rest = scheme.group(1), text[scheme.end():]
    if name == "s3" and rest.startswith("//"):
        return _s3_destination(text, rest[2:])
    if name == "file" and rest.startswith("//"):
        return _file_destination(text, rest[2:])
    raise UsageError(f"unsupported destination {text!r}: only s3:// and file:// URLs are understood",
                     hint=_scheme_hint(name.lower(), rest))


def _scheme_hint(scheme: str, rest: str) -> str:
    if scheme in ("s3", "file"):
        return f"write {scheme}:// with two slashes, in lower case: {scheme}://{rest.lstrip('/')}"
    return DESTINATION_HINT


def _s3_destination(text: str, rest: str) -> Destination:
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise UsageError(f"invalid S3 bucket name {bucket!r} in {text!r}",
                         hint="use s3://BUCKET/optional/prefix with a valid bucket name")
    prefix = prefix.rstrip("/")
    if prefix and any(part in ("", ".", "..") for part in prefix.split("/")):
        raise UsageError(f"invalid S3 prefix {prefix!r} in {text!r}: empty, '.' or '..' parts",
                         hint="use s3://BUCKET/a/b with no '//', '/./' or '/../'")
    return Destination("s3", bucket, prefix)


def _file_destination(text: str, rest: str) -> Destination:
    import os
    from urllib.parse import unquote

    host, slash, path = rest.partition("/")
    if host not in ("", "localhost") or not slash:
        raise UsageError(f"unsupported destination {text!r}: a file:// URL takes an absolute path",
                         hint="use file:///ABSOLUTE/PATH (three slashes), or a plain local path")
    return Destination("local", os.path.abspath("/" + unquote(path)))
