"""backup --engine export: a DynamoDB point-in-time export, run by AWS, made a ddbvault backup.

Order of work (the same safety argument as the scan engine's, backup/__init__.py):
1. Options and destination checked (S3 only: DynamoDB exports write nowhere else); the table
   described and its schema, TTL and tags saved exactly as the scan engine saves them
   (format/schema.table_schema). Nothing is written before that.
2. DescribeContinuousBackups: PITR must be ENABLED (else UsageError with the command that turns
   it on), and the export time must lie in [EarliestRestorableDateTime, now] (else UsageError
   naming the window); an incremental window must end by now, and DynamoDB checks its start
   (InvalidExportTimeException, a UsageError too).
3. ExportTableToPointInTime into the vault bucket, S3Prefix `<backup root>/export`, with a
   ClientToken derived from the table's ARN and the backup id (`client_token`).
4. DescribeExport polled with backoff (POLL_FIRST_S doubling up to POLL_MAX_S) until COMPLETED,
   FAILED (AwsError with FailureCode and FailureMessage on one line) or the deadline.
5. The export's manifest-summary.json and manifest-files.json read strictly
   (vault/native_export.read_export_files); their item counts must agree with each other and
   with DescribeExport's ItemCount.
6. Every data object read once: its MD5 must equal the export's md5Checksum (else IntegrityError
   naming the object), and its size and sha256 are recorded.
7. The manifest (format 1.3) written last, create-only. A run that fails writes no manifest:
   the backup stays incomplete, as a failed scan backup does.

Resuming (the issue left it open; docs/backup.md#export-engine). A run that passes its deadline
leaves the export running on AWS's side. Running the same command again with `--backup-id` of
that run (the error names it) resumes it: the same backup id gives the same ClientToken, the
same S3Prefix and, when --export-time is not given, the same export time (the backup id's own
time), so within DynamoDB's 8-hour idempotency window ExportTableToPointInTime answers with the
same export, which is then polled on. A different backup id starts a new export.

AWS calls, by the TABLE principal: DescribeTable, DescribeTimeToLive, ListTagsOfResource,
DescribeContinuousBackups, ExportTableToPointInTime, DescribeExport. By the VAULT principal: S3
HeadBucket, GetObject of the export's manifests and data objects, PutObject (If-None-Match: *)
of manifest.json.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from .._version import __version__
from ..aws.retry import RetryStats
from ..aws.session import account_of, make_session
from ..dynamodb.scan import TableSource
from ..errors import AccessDeniedError, AwsError, IntegrityError, InterruptedRun, UsageError
from ..format.layout import EXPORT_DIR, BackupLayout, is_backup_id, join, new_backup_id
from ..format.manifest import DataObject, Manifest
from ..format.retention import utc_text
from ..format.schema import table_schema
from ..runtime.progress import Progress
from ..storage.destination import Destination
from ..storage import ObjectStore
from ..vault.native_export import read_export_files

log = logging.getLogger(__name__)

POLL_FIRST_S = 1.0  # the first DescribeExport wait; doubled after each poll
POLL_MAX_S = 60.0  # exports take minutes to hours: at most one DescribeExport a minute
MIN_WINDOW = timedelta(minutes=15)  # IncrementalExportSpecification: 15 minutes..24 hours
MAX_WINDOW = timedelta(hours=24)
READ_CHUNK = 1024 * 1024
PITR_FIX = ("turn on point-in-time recovery: aws dynamodb update-continuous-backups --table-name {table} "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")


def client_token(table_arn: str, backup_id: str) -> str:
    """The ExportTableToPointInTime ClientToken of a backup: a digest of the table and the
    backup id, so a retried start (the same backup id) is the same export."""
    return "ddbvault-" + hashlib.sha256(f"{table_arn}\n{backup_id}".encode()).hexdigest()[:32]


def check_export_options(options, destination: Destination) -> None:
    """What --engine export refuses before any AWS call (UsageError)."""
    if destination.kind != "s3":
        raise UsageError("--engine export needs an s3:// destination: DynamoDB exports write only to S3",
                         hint="back up to s3://BUCKET/PREFIX, or use --engine scan for a local directory")
    if options.schema_only:
        raise UsageError("--schema-only reads no data; it cannot be combined with --engine export",
                         hint="drop --engine export (a schema-only backup runs no Scan either)")
    if options.keep is not None:
        raise UsageError("--keep cannot be combined with --engine export: DynamoDB writes the export's "
                         "objects and cannot tag them with the tier the lifecycle rules expire by",
                         hint="use --engine scan with --keep, or expire export backups by prefix")
    if options.backup_id is not None and not is_backup_id(options.backup_id):
        raise UsageError(f"--backup-id {options.backup_id!r} is not a backup id (YYYYMMDDTHHMMSSZ-xxxxxx)")
    if not (math.isfinite(options.export_deadline_s) and options.export_deadline_s > 0):
        # NaN compares false with everything: the deadline would never pass, the run never end
        raise UsageError(f"--export-deadline {options.export_deadline_s} is not a positive number of seconds",
                         hint="--export-deadline 14400 (4 hours, the default)")
    incremental = options.export_from is not None or options.export_to is not None
    if incremental:
        if options.export_from is None or options.export_to is None or options.export_time is not None:
            raise UsageError("--incremental takes --from and --to (and no --export-time)",
                             hint="--engine export --incremental --from 2026-11-30T10:00:00Z --to 2026-11-30T11:00:00Z")
        window = options.export_to - options.export_from
        if window <= timedelta(0):
            raise UsageError(f"the incremental window {utc_text(options.export_from)} .. {utc_text(options.export_to)} "
                             "ends before it starts, or where it starts",
                             hint="--from is the window's start, --to (or --until) its end, 15 minutes to 24 hours later")
        if not MIN_WINDOW <= window <= MAX_WINDOW:
            raise UsageError(f"the incremental window {utc_text(options.export_from)} .. {utc_text(options.export_to)} "
                             f"is {window}; DynamoDB exports windows of 15 minutes to 24 hours",
                             hint="pick --from and --to 15 minutes to 24 hours apart, or back up in several windows")


def backup_via_export(table: str, destination: Destination, store: ObjectStore, options, *,
                      progress: Progress, cancelled: threading.Event, stats: RetryStats,
                      started: str, t0: float, manifest_bytes, source_info, result_type):
    """The export engine's backup (the module docstring); returns a BackupResult. Called by
    backup_table() once the options are valid and the store is open and writable."""
    source = TableSource(make_session(options.table_principal), table, pool=options.workers + 4,
                         retry=options.retry, stats=stats, cancelled=cancelled)
    description = source.describe()
    schema = table_schema(description, source.time_to_live(), source.tags())
    table_arn = description.get("TableArn") or source.arn
    now = options.now or datetime.now(timezone.utc)
    layout = BackupLayout(destination.prefix, table, options.backup_id or new_backup_id(now))
    url = destination.url_of(layout.root)
    if _complete(store, layout):
        # A --backup-id resumes an unfinished export; once its manifest exists the backup is
        # complete, and a new export (past the ClientToken's 8 hours) would only add files to it
        raise IntegrityError(f"backup {url} is complete already (it has a manifest.json); no export started",
                             hint="a backup is never modified; drop --backup-id to start a new one")
    request = _export_request(source, table_arn, destination, layout, options)
    progress.start(table, int(description.get("ItemCount") or 0))
    export = _wait(source, _start(source, request), options, layout, url, cancelled)
    export_id = export["ExportArn"].rpartition("/export/")[2]
    export_layout = BackupLayout(join(layout.root, EXPORT_DIR), "AWSDynamoDB", export_id)
    summary, listed, md5_of = read_export_files(store, export_layout, url,
                                                incremental=request["ExportType"] == "INCREMENTAL_EXPORT")
    listed_items = sum(o.items for o in listed)
    counts = {listed_items, summary.get("itemCount", listed_items), export.get("ItemCount", listed_items)}
    if len(counts) != 1:
        raise IntegrityError(f"export {export['ExportArn']} of {table}: manifest-files.json lists {listed_items} "
                             f"items, manifest-summary.json says {summary.get('itemCount')}, DescribeExport "
                             f"{export.get('ItemCount')}; no manifest written",
                             hint="back up again (a new --backup-id starts a new export)")
    _check_unlisted(store, export_layout, listed, export["ExportArn"], table)
    objects = _read_objects(store, export_layout, layout, listed, md5_of, options.workers, progress, cancelled)
    if cancelled.is_set():
        raise InterruptedRun(f"backup of {table} cancelled; no manifest written")
    manifest = Manifest(
        tool_version=__version__, backup_id=layout.backup_id, source=source_info(description, options),
        schema=schema, options={"engine": "export", "export_format": "DYNAMODB_JSON", "compression": "gzip",
                                "import_compression_type": "GZIP", "sse": options.sse,
                                "kms_key_id": options.kms_key_id, "client_token": request["ClientToken"]},
        export=_export_record(export, request),
        started_at=started, finished_at=utc_now(), objects=objects,
        consumed_capacity={"read_capacity_units": 0, "estimated_from_bytes": False,
                           "throttle_retries": stats.throttles, "transient_retries": stats.transient})
    store.put_new(layout.manifest_key, manifest_bytes(manifest, url))
    return result_type(
        url=url, backup_id=layout.backup_id, table=table, items=manifest.totals["items"],
        bytes=manifest.totals["bytes"], objects=len(objects), consumed_rcu=0.0,
        seconds=round(time.monotonic() - t0, 3), manifest=destination.url_of(layout.manifest_key),
        read_rate_rcu=None, segments=0, raw_bytes=0, throttle_retries=stats.throttles,
        transient_retries=stats.transient, engine="export", export_arn=export["ExportArn"])


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _export_request(source: TableSource, table_arn: str, destination: Destination, layout: BackupLayout,
                    options) -> dict:
    """ExportTableToPointInTime's parameters, once PITR and the times are checked."""
    earliest = _pitr_window(source, options)
    now = datetime.now(timezone.utc)
    request = dict(TableArn=table_arn, ClientToken=client_token(table_arn, layout.backup_id),
                   S3Bucket=destination.location, S3Prefix=join(layout.root, EXPORT_DIR),
                   ExportFormat="DYNAMODB_JSON")
    owner = _bucket_owner(options, table_arn)
    if owner:
        request["S3BucketOwner"] = owner
    if options.sse == "AES256":
        request["S3SseAlgorithm"] = "AES256"
    elif options.sse == "aws:kms":
        request["S3SseAlgorithm"] = "KMS"
        if options.kms_key_id:
            request["S3SseKmsKeyId"] = options.kms_key_id
    window = f"[{utc_text(earliest)}, {utc_text(now)}] (EarliestRestorableDateTime to now)"
    if options.export_from is not None:
        # The window's end is checked here; its start is left to DynamoDB, which holds the change
        # history and refuses a window it cannot export (InvalidExportTimeException, made a
        # UsageError by _start).
        if options.export_to > now:
            raise UsageError(f"the incremental window {utc_text(options.export_from)} .. {utc_text(options.export_to)} "
                             f"of {source.table} ends in the future (now is {utc_text(now)})",
                             hint="pick a --to at or before now")
        request["ExportType"] = "INCREMENTAL_EXPORT"
        request["IncrementalExportSpecification"] = {
            "ExportFromTime": options.export_from, "ExportToTime": options.export_to,
            "ExportViewType": "NEW_AND_OLD_IMAGES"}
        return request
    # Not given: the backup id's own time (to the second), so a rerun with the same --backup-id
    # asks for the same export; never before PITR's earliest time.
    export_time = options.export_time or max(datetime.strptime(layout.backup_id[:16], "%Y%m%dT%H%M%SZ")
                                             .replace(tzinfo=timezone.utc), earliest)
    if not earliest <= export_time <= now:
        given = (f"--export-time {utc_text(export_time)}" if options.export_time else
                 f"the export time {utc_text(export_time)} (the time of --backup-id {layout.backup_id})")
        raise UsageError(f"{given} is not inside the point-in-time recovery window of {source.table}, {window}",
                         hint="pick an --export-time inside that window")
    request["ExportType"] = "FULL_EXPORT"
    request["ExportTime"] = export_time
    return request


def _pitr_window(source: TableSource, options) -> datetime:
    """EarliestRestorableDateTime, once PITR is known ENABLED (UsageError with the fix if not)."""
    described = source.call("DescribeContinuousBackups", lambda: source.client.describe_continuous_backups(
        TableName=source.table))["ContinuousBackupsDescription"]
    pitr = described.get("PointInTimeRecoveryDescription") or {}
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED" or "EarliestRestorableDateTime" not in pitr:
        raise UsageError(f"point-in-time recovery is {pitr.get('PointInTimeRecoveryStatus', 'DISABLED')} on table "
                         f"{source.table}; DynamoDB exports only tables that have it",
                         hint=PITR_FIX.format(table=source.table))
    return pitr["EarliestRestorableDateTime"].astimezone(timezone.utc)


def _bucket_owner(options, table_arn: str) -> str | None:
    """S3BucketOwner: the vault's account when it is not the table's (DynamoDB requires it for a
    bucket in another account). The --vault-role's account, else the vault credentials'."""
    role = (options.vault_principal.role_arn or "").split(":")
    vault = role[4] if len(role) > 5 else account_of(make_session(options.vault_principal))
    table_account = table_arn.split(":")[4] if table_arn.count(":") >= 5 else None
    return vault if vault and vault != table_account else None


def _start(source: TableSource, request: dict) -> str:
    """ExportTableToPointInTime; the export's ARN."""
    try:
        response = source.call("ExportTableToPointInTime",
                               lambda: source.client.export_table_to_point_in_time(**request))
    except AwsError as exc:  # the checks of _export_request, made again by DynamoDB
        if exc.code == "PointInTimeRecoveryUnavailableException":
            raise UsageError(f"point-in-time recovery is off on table {source.table}: {exc.message}",
                             hint=PITR_FIX.format(table=source.table)) from None
        if exc.code == "InvalidExportTimeException":
            raise UsageError(f"DynamoDB refused the export time of {source.table}: {exc.message}",
                             hint="pick a time inside the table's point-in-time recovery window "
                                  "(aws dynamodb describe-continuous-backups shows it)") from None
        raise
    arn = response["ExportDescription"]["ExportArn"]
    log.info("export %s of %s started (%s)", arn, source.table, request["ExportType"])
    return arn


def _wait(source: TableSource, arn: str, options, layout: BackupLayout, url: str,
          cancelled: threading.Event, *, clock=time.monotonic) -> dict:
    """DescribeExport until COMPLETED (its ExportDescription), with backoff, up to the deadline."""
    deadline = clock() + options.export_deadline_s
    delay = POLL_FIRST_S
    while True:
        export = source.call("DescribeExport", lambda: source.client.describe_export(ExportArn=arn),
                             resource=arn)["ExportDescription"]
        status = export.get("ExportStatus")
        if status == "COMPLETED":
            return export
        if status == "FAILED":
            raise AwsError(f"export {arn} of {source.table} FAILED: {export.get('FailureCode', '?')}: "
                           f"{' '.join(str(export.get('FailureMessage', '')).split())}; no manifest written",
                           "fix what the failure names, then back up again",
                           action="ExportTableToPointInTime", resource=arn,
                           code=export.get("FailureCode") or "ExportFailed")
        left = deadline - clock()
        if left <= 0:
            raise AwsError(f"export {arn} of {source.table} is still {status} after the "
                           f"{options.export_deadline_s:g} s deadline; it continues on AWS's side, and no "
                           f"manifest is written to {url} yet",
                           f"rerun the same command with --backup-id {layout.backup_id} (within 8 hours: the "
                           "same ClientToken resumes this export, a longer --export-deadline waits for it)",
                           action="DescribeExport", resource=arn, code="ExportDeadline")
        if cancelled.wait(min(delay, left)):
            raise InterruptedRun(f"backup of {source.table} cancelled while export {arn} runs "
                                 f"(it continues on AWS's side); no manifest written",
                                 hint=f"rerun with --backup-id {layout.backup_id} to resume it")
        delay = min(delay * 2, POLL_MAX_S)


def _complete(store: ObjectStore, layout: BackupLayout) -> bool:
    """Whether the backup's manifest.json exists. A vault principal denied HeadObject there is
    warned and the run goes on: the manifest's create-only write still refuses it at the end."""
    try:
        return store.exists(layout.manifest_key)
    except AccessDeniedError as exc:
        log.warning("cannot tell whether %s exists: %s", store.url_of(layout.manifest_key), exc.message)
        return False


def _check_unlisted(store: ObjectStore, export_layout: BackupLayout, listed: list[DataObject], arn: str,
                    table: str) -> None:
    """The export's data/ must hold exactly the files manifest-files.json lists: restore --via
    import hands that whole prefix to ImportTable, which would import any other object too, and
    the production principal can write there (docs/iam.md). IntegrityError before any manifest;
    a vault principal denied the listing is warned, and restore --via import checks again."""
    prefix = f"{export_layout.root}/data/"
    wanted = {f"{export_layout.root}/{o.key}" for o in listed}
    try:
        extra = sorted(k for k in store.list_keys(prefix) if k not in wanted and not k.endswith("/"))
    except AccessDeniedError as exc:
        log.warning("cannot list %s to look for unlisted data files: %s", store.url_of(prefix), exc.message)
        return
    if extra:
        raise IntegrityError(f"export {arn} of {table}: its data/ holds {len(extra)} file(s) that manifest-files.json "
                             f"does not list, such as {store.url_of(extra[0])}; no manifest written",
                             hint="find out who wrote it (production may write under export/), then back up again")


def _read_objects(store: ObjectStore, export_layout: BackupLayout, layout: BackupLayout,
                  listed: list[DataObject], md5_of: dict[str, str], workers: int, progress: Progress,
                  cancelled: threading.Event) -> list[DataObject]:
    """Each listed data object read once: MD5 checked, size and sha256 recorded. Keys become
    relative to the backup root (export/AWSDynamoDB/<id>/data/...)."""
    def read(obj: DataObject) -> DataObject:
        key = f"{export_layout.root}/{obj.key}"
        sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
        with store.open_reader(key) as reader:
            while not cancelled.is_set() and (chunk := reader.read(READ_CHUNK)):
                sha256.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        actual = base64.b64encode(md5.digest()).decode()
        if not cancelled.is_set() and actual != md5_of[obj.key]:
            raise IntegrityError(f"export data object {store.url_of(key)} is corrupted: MD5 {actual} does not "
                                 f"match the export's manifest-files.json ({md5_of[obj.key]}); no manifest written",
                                 hint="back up again (a new --backup-id starts a new export)")
        progress.advance(obj.items, size, 0.0)
        return DataObject(layout.relative(key), obj.items, size, sha256.hexdigest(), md5_of[obj.key])

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ddbvault-export-read") as pool:
        return list(pool.map(read, listed))


def _export_record(export: dict, request: dict) -> dict:
    """The manifest's `export` object (format 1.3)."""
    record = {"arn": export["ExportArn"], "type": request["ExportType"]}
    if request["ExportType"] == "FULL_EXPORT":
        record["export_time"] = utc_text(export.get("ExportTime") or request["ExportTime"])
    else:
        spec = export.get("IncrementalExportSpecification") or request["IncrementalExportSpecification"]
        record.update({"from": utc_text(spec["ExportFromTime"]), "to": utc_text(spec["ExportToTime"]),
                       "view_type": spec.get("ExportViewType", "NEW_AND_OLD_IMAGES")})
    record.update({"item_count": int(export.get("ItemCount") or 0),
                   "billed_size_bytes": int(export.get("BilledSizeBytes") or 0),
                   "s3_prefix": request["S3Prefix"]})
    return record


def parse_time(text: str, option: str) -> datetime:
    """A CLI time: UTC ISO 8601 with `Z` or an explicit offset. UsageError naming the option."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        if value.tzinfo is not None:
            return value.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        pass
    raise UsageError(f"{option} {text[:60]!r} is not a UTC time",
                     hint=f"{option} 2026-11-30T10:00:00Z (ISO 8601 with Z or an offset)")


__all__ = ["backup_via_export", "check_export_options", "client_token", "parse_time"]
