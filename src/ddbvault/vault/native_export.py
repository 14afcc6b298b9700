"""Reading a native DynamoDB export (ExportTableToPointInTime) as a restorable backup.

    <prefix>/AWSDynamoDB/<export-id>/manifest-summary.json   outputFormat, itemCount, ...
    <prefix>/AWSDynamoDB/<export-id>/manifest-files.json     JSON lines: dataFileS3Key,
                                                              itemCount, md5Checksum (base64)
    <prefix>/AWSDynamoDB/<export-id>/data/*.json.gz          {"Item": {...}} lines

The data lines are the same as ours, so restore/__init__.py writes them the same way. The differences:
each object is checked against its MD5, not a sha256; and an export holds no table schema, so
the target table must already exist (--no-create). A missing manifest-summary.json means the
export is not complete, and it is refused.

Only a FULL_EXPORT holds items. An INCREMENTAL_EXPORT holds change records
(`{"Metadata", "Keys", "NewImage", "OldImage"}`), which restore cannot apply: it is refused
(UsageError) before any table is touched, by manifest-summary.json's `exportType`. Both manifest
files are parsed strictly: anything malformed is one IntegrityError naming the file.
"""

from __future__ import annotations

import orjson

from ..aws.session import Principal
from .reader import OpenedBackup
from ..errors import IntegrityError, NotFoundError, UsageError
from ..format.layout import BackupLayout, check_object_key
from ..storage.destination import Destination, parse_destination, refuse_empty_segments
from ..format.manifest import MANIFEST_MAX_BYTES, DataObject, Manifest
from ..storage import open_store, session_for

MARK = "/AWSDynamoDB/"
DAMAGED = "the export's files are damaged or not DynamoDB's; export the table again"


def is_native_export(url: str) -> bool:
    return MARK in url.rstrip("/") + "/"


def open_native_export(url: str, principal: Principal | None = None, stats=None) -> OpenedBackup:
    """An OpenedBackup for `.../AWSDynamoDB/<export-id>` (or its manifest-summary.json); the
    store's retries are counted in `stats` when given."""
    refuse_empty_segments(url)
    url = url.rstrip("/").removesuffix("/manifest-summary.json")
    base, _, export_id = url.rpartition(MARK)
    if not export_id or "/" in export_id:
        raise UsageError(f"{url!r} is not a DynamoDB export URL", hint="pass PREFIX/AWSDynamoDB/EXPORT_ID")
    destination = parse_destination(base)
    store_root = Destination(destination.kind, destination.location)  # the bucket, or the directory
    layout = BackupLayout(destination.prefix, "AWSDynamoDB", export_id)
    session = session_for(destination, principal)
    store = open_store(store_root, session, stats=stats)
    summary, objects, md5 = read_export_files(store, layout, url)
    manifest = Manifest(tool_version="", backup_id=export_id,
                        source={"table_arn": summary.get("tableArn"), "export_arn": summary.get("exportArn")},
                        schema={}, options={"import_compression_type": "GZIP"},
                        started_at=summary.get("startTime", ""), finished_at=summary.get("endTime", ""),
                        objects=objects, consumed_capacity={})
    if summary.get("itemCount") is not None and summary["itemCount"] != manifest.totals["items"]:
        raise IntegrityError(f"export {url}: manifest-files.json lists {manifest.totals['items']} items, "
                             f"manifest-summary.json says {summary['itemCount']}")
    return OpenedBackup(store, store_root, layout, manifest, md5_of=md5)


def read_export_files(store, layout: BackupLayout, url: str, *, incremental: bool = False
                      ) -> tuple[dict, list[DataObject], dict[str, str]]:
    """manifest-summary.json, the DataObjects manifest-files.json lists (keys relative to the
    export's root, layout.root; size and sha256 unknown) and their MD5s. Refused unless the
    summary describes a complete export in DYNAMODB_JSON, a FULL_EXPORT unless `incremental`
    (then an INCREMENTAL_EXPORT). The backup engine (backup/via_export.py) reads them here too."""
    summary = _summary(store, layout, url, incremental)
    objects, md5 = _data_objects(store, layout, summary)
    return summary, objects, md5


def _summary(store, layout: BackupLayout, url: str, incremental: bool = False) -> dict:
    """manifest-summary.json, refused unless it describes a complete export of the expected type
    (FULL_EXPORT, or INCREMENTAL_EXPORT with `incremental`) in DYNAMODB_JSON."""
    where = store.url_of(f"{layout.root}/manifest-summary.json")
    try:
        summary = orjson.loads(store.get(f"{layout.root}/manifest-summary.json", limit=MANIFEST_MAX_BYTES))
    except NotFoundError:
        raise IntegrityError(f"export {url} has no manifest-summary.json: it is incomplete",
                             hint="wait for the export to complete, or use a completed export") from None
    except orjson.JSONDecodeError as exc:
        raise IntegrityError(f"{where} is not valid JSON: {exc}", hint=DAMAGED) from None
    if not isinstance(summary, dict):
        raise IntegrityError(f"{where} is not a JSON object", hint=DAMAGED)
    export_type = summary.get("exportType") or "FULL_EXPORT"
    if incremental and export_type != "INCREMENTAL_EXPORT":
        raise IntegrityError(f"{where}: exportType is {str(export_type)[:40]!r}, not the INCREMENTAL_EXPORT "
                             "that was started", hint=DAMAGED)
    if export_type != "FULL_EXPORT" and not incremental:
        raise UsageError(f"export {url} is an {export_type} (exportType in manifest-summary.json): it holds "
                         "change records, not items, and ddbvault cannot apply them",
                         hint="restore a FULL_EXPORT (or a ddbvault backup) instead")
    if "itemCount" in summary and (type(summary["itemCount"]) is not int or summary["itemCount"] < 0):
        raise IntegrityError(f"{where}: itemCount is not a count of items", hint=DAMAGED)
    if summary.get("outputFormat", "DYNAMODB_JSON") != "DYNAMODB_JSON":
        raise UsageError(f"export {url} is in {summary['outputFormat']} format; ddbvault restores DYNAMODB_JSON exports")
    return summary


def _data_objects(store, layout: BackupLayout, summary: dict) -> tuple[list[DataObject], dict[str, str]]:
    files_key = summary.get("manifestFilesS3Key") or f"{layout.root}/manifest-files.json"
    if not isinstance(files_key, str):
        raise IntegrityError(f"{store.url_of(layout.root)}/manifest-summary.json: manifestFilesS3Key is not a string",
                             hint=DAMAGED)
    if not files_key.startswith(layout.root + "/"):
        # The key DynamoDB wrote names the export's S3Prefix then; the export was copied or moved
        # since. The part after `<export-id>/` is where the file lies in this export, the same
        # rule as for dataFileS3Key (_file_entry).
        mark = f"/{layout.backup_id}/"
        if mark not in f"/{files_key}":
            raise IntegrityError(f"{store.url_of(layout.root)}/manifest-summary.json: manifestFilesS3Key "
                                 f"{files_key[:200]!r} names no file of export {layout.backup_id}", hint=DAMAGED)
        files_key = f"{layout.root}/{f'/{files_key}'.split(mark, 1)[1]}"
    if any(part in ("", ".", "..") for part in files_key[len(layout.root) + 1:].split("/")):
        raise IntegrityError(f"{store.url_of(layout.root)}/manifest-summary.json: manifestFilesS3Key "
                             f"{files_key[:200]!r} leaves the export", hint=DAMAGED)
    objects, md5 = [], {}
    for number, line in enumerate(store.get(files_key, limit=MANIFEST_MAX_BYTES).splitlines(), 1):
        if line.strip():
            obj, checksum = _file_entry(line, layout, f"{store.url_of(files_key)} line {number}")
            if obj.key in md5:  # its items would be counted (and written) twice
                raise IntegrityError(f"{store.url_of(files_key)} line {number} lists {obj.key[:200]!r} again",
                                     hint=DAMAGED)
            objects.append(obj)
            md5[obj.key] = checksum
    return objects, md5


def _file_entry(line: bytes, layout: BackupLayout, where: str) -> tuple[DataObject, str]:
    """One manifest-files.json line as a DataObject (size and sha256 unknown) and its MD5."""
    try:
        entry = orjson.loads(line)
        key, items, checksum = entry["dataFileS3Key"], entry["itemCount"], entry["md5Checksum"]
        if not (isinstance(key, str) and isinstance(checksum, str)) or type(items) is not int or items < 0:
            raise TypeError("dataFileS3Key/md5Checksum must be strings, itemCount a count")
        relative = key[len(layout.root) + 1:] if key.startswith(layout.root + "/") else key.split(f"{layout.backup_id}/", 1)[-1]
        check_object_key(relative)
    except (ValueError, KeyError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise IntegrityError(f"{where} is malformed: {type(exc).__name__}: {exc}", hint=DAMAGED) from None
    return DataObject(relative, items, -1, ""), checksum
