"""`restore --via import`: hand a backup's data/ prefix to DynamoDB ImportTable.

For big tables ImportTable is faster and consumes no write capacity. It has limits:
- it reads from S3 only, so a backup in a local directory cannot be imported;
- it creates the table itself, so the target must not exist;
- it **cannot create local secondary indexes**, and an LSI cannot be added to a table later.
  A backup whose table had LSIs is refused, unless --skip-lsi accepts restoring without them.
What ImportTable does not set is applied once the import completes (dynamodb/table_settings.py): TTL
(UpdateTimeToLive), tags (TagResource), and the stream, table class and deletion protection
(UpdateTable). DescribeImport is polled every POLL_S seconds for at most IMPORT_TIMEOUT_S; past
that the restore fails (AwsError, code ImportTimeout) naming the import, which may still complete.
"""

from __future__ import annotations

import base64
import logging
import time

from botocore.exceptions import ClientError

from ..aws.error_translation import translated
from ..aws.session import account_of, make_session
from ..vault.reader import OpenedBackup, stream_lines
from ..errors import AccessDeniedError, AwsError, IntegrityError, UsageError
from ..dynamodb.sink import TableSink
from ..dynamodb.table_create import import_table_creation
from ..dynamodb.table_settings import apply_missing
from .options import RestoreResult
from .table import target_encryption, target_of

log = logging.getLogger(__name__)

POLL_S = 1.0
IMPORT_TIMEOUT_S = 24 * 3600.0  # DynamoDB imports run at roughly 1 TB per several hours


def restore_via_import(backup: OpenedBackup, sink: TableSink, options, t0: float, stats=None):
    manifest = backup.manifest
    schema = manifest.schema
    if backup.destination.kind != "s3":
        raise UsageError("--via import needs a backup in S3; ImportTable cannot read a local directory",
                         hint="use --via batch (the default)")
    if schema.get("LocalSecondaryIndexes") and not options.skip_lsi:
        names = ", ".join(i["IndexName"] for i in schema["LocalSecondaryIndexes"])
        raise UsageError(f"the backed-up table has local secondary indexes ({names}); ImportTable cannot "
                         "create them and they cannot be added later",
                         hint="use --via batch to restore them, or add --skip-lsi to restore without them")
    if sink.describe() is not None:
        raise UsageError(f"table {sink.table} already exists; ImportTable creates its own table")
    _check_prefix(backup)
    sse, notes = target_encryption(sink, schema, options)
    description = _import(backup, sink, options, sse)
    imported = description.get("ImportedItemCount", 0)
    if imported != manifest.totals["items"] or description.get("ErrorCount"):
        raise IntegrityError(f"ImportTable into {sink.table} imported {imported} items with "
                             f"{description.get('ErrorCount', 0)} errors; the backup holds "
                             f"{manifest.totals['items']}")
    notes += apply_missing(sink, schema, sink.wait_active())
    return RestoreResult(table=sink.table, items=imported, seconds=round(time.monotonic() - t0, 3),
                         consumed_wcu=0.0, backup=backup.url, objects=len(manifest.objects),
                         resumed_items=0, via="import", write_rate_wcu=None, notes=notes,
                         throttle_retries=stats.throttles if stats else 0,
                         transient_retries=stats.transient if stats else 0)


def _check_prefix(backup: OpenedBackup) -> None:
    """ImportTable reads EVERY object under the data prefix, and checks no sha256 or MD5: refuse
    (IntegrityError, before any table exists) a prefix holding an object the manifest does not
    list (an export's data/ may be written by the production principal) or lacking one it lists.
    A reader denied the listing is told so in the log; ImportTable's item count is then the
    only check, after the import (restore_via_import)."""
    listed = {backup.key_of(o): o for o in backup.manifest.objects}
    try:
        found = {o["Key"]: o for o in backup.store.list_objects(backup.data_prefix)  # S3: import needs it
                 if not o["Key"].endswith("/")}  # no folder markers
    except AccessDeniedError as exc:
        log.warning("cannot list %s before ImportTable: %s", backup.destination.url_of(backup.data_prefix),
                    exc.message)
        return
    extra, missing = sorted(set(found) - set(listed)), sorted(set(listed) - set(found))
    if extra or missing:
        what = (f"{len(extra)} object(s) the manifest does not list, such as {backup.destination.url_of(extra[0])}"
                if extra else f"no object {backup.destination.url_of(missing[0])} that the manifest lists")
        raise IntegrityError(f"{backup.url}: its data prefix holds {what}; ImportTable would import exactly "
                             "what is there, so nothing was imported",
                             hint=f"`ddbvault verify {backup.url}` names every problem; restore another backup, "
                                  "or use --via batch, which reads only the listed objects and proves each")
    for key, obj in listed.items():
        if obj.md5 is not None:
            _check_export_object(backup, key, obj, found[key])


def _check_export_object(backup: OpenedBackup, key: str, obj, listed: dict) -> None:
    """An export's data object is the one the backup proved (format 1.3 records its MD5): the
    production principal may write under an export's prefix (the bucket policy exempts it from
    If-None-Match, docs/export-engine.md), so an object replaced since the backup must not reach
    ImportTable, which checks nothing. A single-part ETag is the object's MD5 and proves it from
    the listing; a multipart one (`...-N`) does not, so that object is read once through the reader's own checks (size, sha256, MD5).
    What remains is the time between this check and ImportTable's own read (docs/restore.md)."""
    etag = str(listed.get("ETag", "")).strip('"')
    expected = base64.b64decode(obj.md5).hex()
    if listed.get("Size") == obj.size and "-" not in etag:
        same = etag == expected
    elif listed.get("Size") != obj.size:
        same = False
    else:  # the reader's own checked read: size, sha256 and MD5 against the manifest, in one pass
        try:
            for _ in stream_lines(backup, obj, verify_first=False):
                pass
            same = True
        except IntegrityError:
            same = False
    if not same:
        raise IntegrityError(f"{backup.destination.url_of(key)} is not the object the backup proved (its size or "
                             "MD5 changed since); ImportTable would import it as it is now, so nothing was imported",
                             hint=f"`ddbvault verify {backup.url}` names every changed object; the bucket's "
                                  "versioning keeps the proved version as a noncurrent one")


def _import(backup: OpenedBackup, sink: TableSink, options, sse: dict | None = None, *,
            clock=time.monotonic, sleep=time.sleep) -> dict:
    source = {"S3Bucket": backup.destination.location, "S3KeyPrefix": backup.data_prefix}
    owner = bucket_owner(backup, sink, options)
    if owner:
        source["S3BucketOwner"] = owner
    request = dict(
        S3BucketSource=source, InputFormat="DYNAMODB_JSON",
        InputCompressionType=backup.manifest.options.get("import_compression_type", "GZIP"),
        TableCreationParameters=import_table_creation(backup.manifest.schema, sink.table, options.overrides, sse))
    started = sink.call("ImportTable", lambda: sink.client.import_table(**request))
    arn = started["ImportTableDescription"]["ImportArn"]
    deadline = clock() + IMPORT_TIMEOUT_S
    while True:
        description = sink.call("DescribeImport", lambda: sink.client.describe_import(ImportArn=arn),
                                resource=arn)["ImportTableDescription"]
        status = description["ImportStatus"]
        if status == "COMPLETED":
            return description
        if status in ("FAILED", "CANCELLED", "CANCELLING"):
            raise AwsError(f"ImportTable {arn} into {sink.table} {status}: "
                           f"{description.get('FailureCode', '')} {description.get('FailureMessage', '')}".strip(),
                           "check that the target account can read the bucket (s3:GetObject, s3:ListBucket)",
                           action="ImportTable", resource=arn, code=description.get("FailureCode") or status)
        if clock() >= deadline:
            raise AwsError(f"ImportTable {arn} into {sink.table} is still {status} after "
                           f"{IMPORT_TIMEOUT_S:g} s; stopped waiting (the import itself goes on)",
                           f"watch it with `aws dynamodb describe-import --import-arn {arn}`; once it is "
                           "COMPLETED, check the table with `ddbvault verify --against-table`",
                           action="DescribeImport", resource=arn, code="ImportTimeout")
        sleep(POLL_S)


def bucket_owner(backup: OpenedBackup, sink: TableSink, options) -> str | None:
    """ImportTable's S3BucketSource.S3BucketOwner: the bucket's account id when it is not the
    target table's account (DynamoDB requires it then), None when it is.

    --bucket-owner wins. Otherwise the accounts ddbvault knows (the target's, the backup
    reader's, the --vault-role's) are tried in turn with ListObjectsV2 + ExpectedBucketOwner
    (1 key under the backup's data prefix, which a prefix-scoped s3:ListBucket allows); S3
    refuses a wrong owner with 403. Raises UsageError if none owns the bucket."""
    target = target_of(sink)["account"]
    if options.bucket_owner:
        return None if options.bucket_owner == target else options.bucket_owner
    role = (options.vault_principal.role_arn or "").split(":")
    candidates = [target, account_of(make_session(options.vault_principal)), role[4] if len(role) > 5 else None]
    for account in dict.fromkeys(a for a in candidates if a):
        if _owns(backup, account):
            return None if account == target else account
    raise UsageError(f"cannot tell which account owns bucket {backup.destination.location} (not "
                     f"{', '.join(dict.fromkeys(a for a in candidates if a)) or 'any account STS names'}); "
                     "ImportTable needs it when the bucket is in another account than the table",
                     hint="add --bucket-owner ACCOUNT_ID (the data account that holds the backups)")


def _owns(backup: OpenedBackup, account: str) -> bool:
    bucket = backup.destination.location
    with translated(service="s3", action="ListObjectsV2", resource=backup.url):
        try:
            backup.store.client.list_objects_v2(Bucket=bucket, Prefix=backup.data_prefix, MaxKeys=1,
                                                ExpectedBucketOwner=account)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("403", "AccessDenied"):
                return False
            raise
