"""restore_backup(): a complete backup into a DynamoDB table, losing nothing, never deleting.

1. Open the backup (vault/reader.py). One without a manifest is refused.
2. Check an existing checkpoint against the live target (checkpoint.check) before creating
   anything: --resume only carries on into the table incarnation the checkpoint filled.
3. Prepare the target (table.py):
   - by default, create it from the saved schema (capacity overrides reach every GSI; the saved
     KMS key only where it can work, dynamodb/table_create.target_sse) and wait until it and its GSIs
     are ACTIVE;
   - with --no-create, use an existing table with the same primary key, which must be empty
     unless --allow-non-empty is given;
   - with --resume, carry on into the table an earlier run created.
   A table is never deleted, and an existing table is never written without one of these flags.
   Then the checkpoint's header (the incarnation) is written, and the saved settings the table
   lacks (TTL, tags, stream, ...) are applied on every path (dynamodb/table_settings.py).
4. Workers on the shared coordinator take data objects from its queue (writer.py). Each streams
   one object, whose sha256 is proven before its first line is yielded (vault/reader.py,
   stream_lines, spools it), checks every line
   (format/dataline.py: one `{"Item": ...}` object of valid attribute values, with the table's key; a
   bad line fails the run naming object and line), cuts BatchWriteItem requests of <= 25 items
   and <= 16 MB that it serialises itself (dynamodb/write_batch.py), writes them under the shared WCU
   limiter (capped by the slowest of the table and its GSIs, capacity/write_plan.py), and retries
   UnprocessedItems with backoff and jitter. Progress goes to the checkpoint, so --resume skips
   what is already written.
5. Counts prove the result: every line is written (acknowledged by BatchWriteItem), collapsed
   into a later line of the same key in its batch, or refused by the table; those plus the
   lines skipped on resume must equal the manifest's total. Keys written twice are counted
   (runtime/keyset.py), and the reported `items` is the number of distinct keys. Items the table
   refuses (ValidationException, e.g. a GSI key of the wrong type) are found by splitting the
   refused request, listed by key in a file (refused_keys.py), and fail the run once
   everything else is written.

`--schema-only` stops after step 3 without a checkpoint: the table is created and its settings
applied, and no item is written (from a full or a schema-only backup). A schema-only backup is
refused without it (UsageError): it holds no data to restore.

`--via import` hands the backup's data/ prefix to DynamoDB ImportTable instead (via_import.py).
"""


from __future__ import annotations

import math
import threading
import time

from ..aws.retry import RetryStats
from ..aws.session import make_session
from ..capacity.limiter import limiter_for
from ..capacity.write_plan import plan_write_rate
from ..dynamodb.sink import TableSink
from ..errors import IntegrityError, UsageError
from ..format.layout import check_table_name
from ..runtime.progress import Progress
from ..vault.reader import OpenedBackup, open_backup
from .options import RestoreOptions, RestoreResult
from .table import key_spec, prepare, prepare_schema_only
from .incremental import restore_chain
from .via_import import restore_via_import
from .writer import BatchWriteRun

__all__ = ["RestoreOptions", "RestoreResult", "restore_backup"]


def restore_backup(url: str, table: str, options: RestoreOptions | None = None, *,
                   progress: Progress | None = None,
                   cancelled: threading.Event | None = None, then: list[str] | None = None) -> RestoreResult:
    """Restore the backup at `url` into the table `table`; returns its RestoreResult.

    `then`: URLs of incremental exports (backup --engine export --incremental) to apply on top,
    in order, once the base is restored; the windows must chain from the base's point in time
    without a gap (restore/incremental.py, which checks that before touching any table). The
    result's `incrementals` reports what each applied.

    `url` is a backup, DEST/TABLE/BACKUP_ID (BackupResult.url, or a BackupEntry's url), or the
    prefix of a native DynamoDB export (vault/native_export.py; it holds no schema, so it needs
    no_create). `options` defaults to RestoreOptions(): create the table from the saved schema.
    `progress` is told the items, bytes and WCU of each batch written, from worker threads.
    Setting `cancelled` stops the workers at their next check and keeps the checkpoint, so a
    run with resume=True carries on; the call then raises IntegrityError, as not every item is
    written.

    With options.schema_only the table is created from the saved schema, its saved settings
    applied, and nothing written; a schema-only backup (its manifest's options.schema_only) is
    refused without it (UsageError).

    A table is never deleted, and never written when it is not empty unless allow_non_empty.
    Each data object's size and sha256 are proven before its first line is written, and every
    line is checked (format/dataline.py). At the end the counts are proven: every line of the
    backup was written, collapsed into a later line of the same key, or written by the run that
    is resumed.

    AWS calls: STS AssumeRole (for a role in options.vault_principal or options.table_principal) and
    GetCallerIdentity (the table's ARN). S3 GetObject of the manifest and of each data object
    (ranged, to resume a transfer cut mid-way), and ListObjectsV2 only when the manifest is
    missing. DynamoDB DescribeTable, CreateTable, Scan with Limit 1 (the emptiness check of
    no_create), the settings calls of dynamodb/table_settings.py, and BatchWriteItem of at
    most 25 items and 16 MB, with UnprocessedItems sent again after a backoff
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
    With via="import": ImportTable and DescribeImport instead of CreateTable and BatchWriteItem
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ImportTable.html), and
    ListObjectsV2 with ExpectedBucketOwner to find the bucket's account.

    Raises (errors.py, with the exit codes of exit_codes.py):
        UsageError (2): an option out of range or options that contradict each other, a bad URL
            or table name, a table that already exists (without no_create), a key that does not
            match, a checkpoint of another restore, what via="import" cannot do.
        NotFoundError (3): no backup at `url`, no such bucket, or, with no_create or resume, no
            such table.
        AccessDeniedError (4): a call was denied; the message names the missing permission.
        AwsError (5): another AWS failure, or an import that failed. RetriesExhaustedError (5):
            throttling or UnprocessedItems outlasted options.retry; says how many items are not
            written.
        IntegrityError (6): no manifest (an incomplete backup), a corrupt data object or line, a
            non-empty table without allow_non_empty, items the table refused (listed by key in a
            file beside the checkpoint), or counts that do not add up.
        InterruptedRun (130): the main thread was interrupted (Ctrl-C, SIGTERM); run again with
            resume=True.
    """
    options = options or RestoreOptions()
    options.validate()
    check_table_name(table)
    if then:
        if options.schema_only:
            raise UsageError("--then applies changes to the restored items; it cannot be combined with --schema-only")
        return restore_chain(url, table, list(then), options, restore_backup, progress=progress, cancelled=cancelled)
    t0 = time.monotonic()
    stats = RetryStats()  # every retry of the run, S3 reads and table writes, botocore's own too
    backup = _open(url, options, stats)
    cancelled = cancelled or threading.Event()
    sink = TableSink(make_session(options.table_principal), table, pool=options.workers + 4,
                     retry=options.retry, stats=stats, cancelled=cancelled)
    if backup.manifest.incremental:
        raise UsageError(f"{backup.url} is an incremental export ({backup.manifest.export['from']} .. "
                         f"{backup.manifest.export['to']}): it holds changes, not a table, so it needs a base",
                         hint=f"restore a full backup and apply this on top: ddbvault restore BASE_URL --table "
                              f"{table} --then {backup.url}")
    if backup.manifest.schema_only and not options.schema_only:
        raise UsageError(f"{backup.url} is a schema-only backup: it holds the table's schema and "
                         "settings but no items, so there is no data to restore",
                         hint="add --schema-only to create the table from its schema")
    if options.schema_only:
        description, notes = prepare_schema_only(backup, sink, options)
        return RestoreResult(table=table, items=0, seconds=round(time.monotonic() - t0, 3), consumed_wcu=0.0,
                             backup=backup.url, objects=0, resumed_items=0, via="batch", write_rate_wcu=None,
                             notes=notes, throttle_retries=stats.throttles, transient_retries=stats.transient,
                             schema_only=True)
    if options.via == "import":
        return restore_via_import(backup, sink, options, t0, stats)
    checkpoint, description, notes = prepare(backup, sink, options)
    rate = plan_write_rate(description, options.write_share, options.write_wcu)
    run = BatchWriteRun(backup, sink, checkpoint, limiter_for(rate.units_per_s), options, progress or Progress(),
                        cancelled, key_spec(description, sink))
    total = backup.manifest.totals["items"]
    try:
        run.run()
        if run.refused.count:
            raise run.refused.error(table, total, backup.url)
        if run.written + run.collapsed + run.resumed != total:
            raise IntegrityError(f"restore into {table}: wrote {run.written} items, collapsed {run.collapsed} "
                                 f"repeated keys and skipped {run.resumed} already written, but the backup "
                                 f"holds {total}")
        checkpoint.complete(total)
    finally:
        run.close()
        checkpoint.close()
    return RestoreResult(table=table, items=run.keys.count + run.resumed,
                         seconds=round(time.monotonic() - t0, 3), consumed_wcu=round(run.consumed_wcu, 3),
                         backup=backup.url, objects=len(backup.manifest.objects), resumed_items=run.resumed,
                         via="batch", write_rate_wcu=rate.units_per_s if math.isfinite(rate.units_per_s) else None,
                         notes=notes, written=run.written, duplicates=run.duplicates,
                         first_duplicate=run.first_duplicate, throttle_retries=stats.throttles,
                         transient_retries=stats.transient)


def _open(url: str, options: RestoreOptions, stats: RetryStats) -> OpenedBackup:
    """A ddbvault backup, or a native DynamoDB export (which has no schema: --no-create only)."""
    from ..vault.native_export import is_native_export, open_native_export

    if not is_native_export(url):
        return open_backup(url, options.vault_principal, stats=stats)
    if options.via == "import" or not (options.no_create or options.resume):
        raise UsageError("a DynamoDB export holds no table schema, so restore cannot create the table",
                         hint="create the table with the source's key schema, then add --no-create")
    return open_native_export(url, options.vault_principal, stats)
