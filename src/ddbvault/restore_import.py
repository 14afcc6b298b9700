"""`restore --via import`: hand a backup's data/ prefix to DynamoDB ImportTable.

For big tables ImportTable is faster and consumes no write capacity. It has limits:
- it reads from S3 only, so a backup in a local directory cannot be imported;
- it creates the table itself, so the target must not exist;
- it **cannot create local secondary indexes**, and an LSI cannot be added to a table later.
  A backup whose table had LSIs is refused, unless --skip-lsi accepts restoring without them.
What ImportTable does not set is applied once the import completes: TTL (UpdateTimeToLive),
tags (TagResource), and the stream, table class and deletion protection (UpdateTable).
DescribeImport is polled every POLL_S seconds for at most IMPORT_TIMEOUT_S; past that the
restore fails (AwsError, code ImportTimeout) naming the import, which may still complete.
"""

from __future__ import annotations

import time

from .backup_ref import OpenedBackup
from .errors import AwsError, IntegrityError, UsageError
from .sink import TableSink
from .table_create import after_import_updates, import_table_creation

POLL_S = 1.0
IMPORT_TIMEOUT_S = 24 * 3600.0  # DynamoDB imports run at roughly 1 TB per several hours


def restore_via_import(backup: OpenedBackup, sink: TableSink, options, t0: float):
    from .restore import RestoreResult

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
    description = _import(backup, sink, options)
    imported = description.get("ImportedItemCount", 0)
    if imported != manifest.totals["items"] or description.get("ErrorCount"):
        raise IntegrityError(f"ImportTable into {sink.table} imported {imported} items with "
                             f"{description.get('ErrorCount', 0)} errors; the backup holds "
                             f"{manifest.totals['items']}")
    sink.wait_active()
    _apply_the_rest(sink, schema)
    return RestoreResult(table=sink.table, items=imported, seconds=round(time.monotonic() - t0, 3),
                         consumed_wcu=0.0, backup=backup.url, objects=len(manifest.objects),
                         resumed_items=0, via="import", write_rate_wcu=None)


def _import(backup: OpenedBackup, sink: TableSink, options, *, clock=time.monotonic, sleep=time.sleep) -> dict:
    request = dict(
        S3BucketSource={"S3Bucket": backup.destination.location, "S3KeyPrefix": backup.layout.data_prefix},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType=backup.manifest.options.get("import_compression_type", "GZIP"),
        TableCreationParameters=import_table_creation(backup.manifest.schema, sink.table, options.overrides))
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


def _apply_the_rest(sink: TableSink, schema: dict) -> None:
    ttl = schema.get("TimeToLive") or {}
    if ttl.get("Enabled") and ttl.get("AttributeName"):
        sink.enable_ttl(ttl["AttributeName"])
    if schema.get("Tags"):
        sink.tag(schema["Tags"])
    for update in after_import_updates(schema):
        sink.update(update)
        sink.wait_active()
