"""Where a backup's objects live under a destination (backup format version 1, docs/format.md).

    <prefix>/<table>/<backup-id>/data/<segment>-<seq>.json.gz   data objects
    <prefix>/<table>/<backup-id>/manifest.json                   written last

A backup of the export engine (format 1.3) holds DynamoDB's export instead of data/:

    <prefix>/<table>/<backup-id>/export/AWSDynamoDB/<export-id>/data/<name>.json.gz

Also the names inside that layout: backup ids, table names, object keys. Destination URLs
(s3://, file://, paths) are parsed by storage/destination.py.

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
EXPORT_DIR = "export"  # the export engine's S3Prefix, under the backup root
_EXPORT_ID = re.compile(r"[0-9A-Za-z-]{1,128}", re.ASCII)
_BACKUP_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}", re.ASCII)
# DynamoDB table names: 3-255 of [a-zA-Z0-9_.-].
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_ID_TIME = "%Y%m%dT%H%M%SZ"


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


def export_data_dir(export_id: str) -> str:
    """`export/AWSDynamoDB/<export-id>/data`: where an export-engine backup's data objects are,
    relative to its root. Raises ValueError for an export id that is not one."""
    if not _EXPORT_ID.fullmatch(export_id):
        raise ValueError(f"{export_id[:40]!r} is not a DynamoDB export id")
    return f"{EXPORT_DIR}/AWSDynamoDB/{export_id}/{DATA_DIR}"


def check_object_key(key: object) -> str:
    """A data object's key as a manifest records it: `data/NAME`, or for an export-engine backup
    `export/AWSDynamoDB/<export-id>/data/NAME` (export_data_dir), relative to the backup root.

    Raises ValueError unless it is a string under one of those whose '/'-separated parts are all
    non-empty, none is `.` or `..`, and which holds no backslash or control character: such a
    key can never name anything outside the backup, on S3 or on a local disk."""
    if not isinstance(key, str):
        raise ValueError("must be a string")
    parts = key.split("/")
    exported = parts[:2] == [EXPORT_DIR, "AWSDynamoDB"] and len(parts) >= 5 and parts[3] == DATA_DIR
    if not (parts[0] == DATA_DIR and len(parts) >= 2 or exported):
        raise ValueError(f"must be under {DATA_DIR}/ (or {EXPORT_DIR}/AWSDynamoDB/<export-id>/{DATA_DIR}/)")
    if exported and not _EXPORT_ID.fullmatch(parts[2]):
        raise ValueError("names no DynamoDB export id")
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


# A table ARN (Service Authorization Reference, "Resource types defined by Amazon DynamoDB"):
# arn:PARTITION:dynamodb:REGION:ACCOUNT:table/NAME. The partition is aws or aws-<name> (aws-cn,
# aws-us-gov, aws-iso-b, ...), the region a region name's shape, the account 12 ASCII digits.
_TABLE_ARN = re.compile(r"arn:(aws(?:-[a-z]+)*):dynamodb:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):table/(.*)",
                        re.ASCII | re.DOTALL)
# ARNs of things under a table (its streams, indexes, exports, backups, imports): not the table.
_UNDER_TABLE = ("stream", "index", "export", "backup", "import")
TABLE_ARN_FORM = "arn:aws:dynamodb:REGION:ACCOUNT:table/NAME"
MAX_TABLE_REF = 1024  # DynamoDB's TableName, when it holds an ARN (the TableArn shape)


@dataclass(frozen=True)
class TableRef:
    """A table as the user named it: by name (`arn` None: a table of the caller's own account
    and region), or by its ARN (`arn`, `partition`, `region` and `account` set). `name` is the
    table's name either way: the vault keeps a table's backups and change log under it."""

    name: str
    arn: str | None = None
    partition: str | None = None
    region: str | None = None
    account: str | None = None

    @property
    def api_name(self) -> str:
        """What DynamoDB's TableName takes: the ARN when given (another account's table is
        reached only by its ARN, through its resource-based policy), else the name."""
        return self.arn or self.name

    def __str__(self) -> str:
        return self.api_name

    def region_for(self, region: str | None, *, option: str = "--region") -> str | None:
        """The region to call the table in: the ARN's (a name: `region` as given). Raises
        UsageError when `region` (from `option`) disagrees with the ARN's: the table and its
        stream live in the ARN's region only."""
        if self.region is None or region is None or region == self.region:
            return self.region or region
        raise UsageError(f"{option} {region} disagrees with the table ARN's region {self.region}",
                         hint=f"drop {option} (the ARN's region is used), or name the table in {region}")


def parse_table_ref(text: object, *, what: str = "TABLE") -> TableRef:
    """A table name (check_table_name) or a table ARN `arn:aws[-PARTITION]:dynamodb:REGION:
    ACCOUNT:table/NAME`, checked strictly: a 12-digit account, a region's shape, NAME a valid
    table name, nothing after it. Raises UsageError naming `what` (the option or field) and
    what was wrong, with a hint: a stream or index ARN (and any other ARN under a table) says
    to pass the table's ARN instead. Pure: no AWS call.

    Cross-account: DynamoDB's control and data plane calls take a table ARN as TableName
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-iam-actions.html)."""
    if not isinstance(text, str) or not text:
        raise UsageError(f"{what}: no table given", hint=f"pass a table name or {TABLE_ARN_FORM}")
    shown = repr(text[:80]) + ("..." if len(text) > 80 else "")
    if len(text) > MAX_TABLE_REF:
        raise UsageError(f"{what} {shown} is longer than {MAX_TABLE_REF} characters: no table name or ARN is",
                         hint=f"pass a table name or {TABLE_ARN_FORM}")
    if not text.startswith("arn:"):
        try:
            return TableRef(check_table_name(text))
        except UsageError:
            raise UsageError(f"{what} {shown} is neither a table name (3-255 letters, digits, '_', '-', '.') "
                             "nor a table ARN", hint=f"pass a table name or {TABLE_ARN_FORM}") from None
    found = _TABLE_ARN.fullmatch(text)
    if found is None:
        raise UsageError(f"{what} {shown} is not a table ARN ({TABLE_ARN_FORM}: a partition such as aws, "
                         "a region such as eu-west-1, a 12-digit account)", hint=f"pass {TABLE_ARN_FORM} or the name")
    partition, region, account, rest = found.groups()
    name, sep, below = rest.partition("/")
    kind = below.partition("/")[0]
    if sep:
        table_arn = f"arn:{partition}:dynamodb:{region}:{account}:table/{name}"
        if kind in _UNDER_TABLE and _TABLE_NAME.fullmatch(name):
            article = "an" if kind[0] in "aeiou" else "a"
            raise UsageError(f"{what} {shown} is {article} {kind} ARN, not a table's (a table's stream is found "
                             "through the table: DescribeTable's LatestStreamArn)",
                             hint=f"pass the table's ARN, {table_arn}")
        raise UsageError(f"{what} {shown} is not a table ARN: nothing may follow table/NAME",
                         hint=f"pass the table's ARN, {table_arn}" if _TABLE_NAME.fullmatch(name)
                         else f"pass {TABLE_ARN_FORM}")
    if not _TABLE_NAME.fullmatch(name):
        raise UsageError(f"{what} {shown} names no valid table (3-255 letters, digits, '_', '-', '.' after "
                         "table/)", hint=f"pass {TABLE_ARN_FORM}")
    return TableRef(name, text, partition, region, account)


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
