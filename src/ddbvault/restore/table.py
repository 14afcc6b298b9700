"""The target table of a restore: checked against the checkpoint, created from the saved schema
or checked for --no-create/--resume, its saved settings applied, and its key read back.

Order (nothing is created before the checkpoint is known to agree): read the checkpoint, describe
the live table, check the two agree (checkpoint.check), create or check the table, write the
checkpoint's header with the table's incarnation, apply the settings the table lacks.

AWS calls: DescribeTable, CreateTable (waiting until the table and its GSIs are ACTIVE), Scan
with Limit 1 (the emptiness check of --no-create), the settings calls of
dynamodb/table_settings.py, and STS GetCallerIdentity through the sink's ARN.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..dynamodb.sink import TableSink
from ..dynamodb.table_create import create_table_request, key_mismatch, target_sse
from ..dynamodb.table_settings import apply_missing
from ..errors import AwsError, IntegrityError, NotFoundError, UsageError
from ..format.dataline import KeySpec
from ..vault.reader import OpenedBackup
from .checkpoint import Checkpoint, check, default_path, incarnation, read_state
from .options import RestoreOptions

log = logging.getLogger(__name__)


def prepare(backup: OpenedBackup, sink: TableSink, options: RestoreOptions) -> tuple[Checkpoint, dict, list[str]]:
    """Check the checkpoint against the live table, then prepare the table, then open the
    checkpoint with the table's incarnation, then apply the saved settings the table lacks.
    Nothing is created before the checkpoint is known to agree."""
    path = (Path(options.checkpoint) if options.checkpoint
            else default_path(sink.table, backup.layout.backup_id))
    state = read_state(path)
    existing = sink.describe()
    target = target_of(sink)
    endpoint, region = target["endpoint"], target["region"]
    resuming = check(path, state, resume=options.resume, backup_url=backup.url, table=sink.table,
                     target=target, live=existing)
    description, notes = prepare_table(sink, backup.manifest.schema, options, existing)
    header = {"backup": backup.url, "table": sink.table, **incarnation(description, endpoint, region)}
    header["account"] = header["account"] or target["account"]
    checkpoint = Checkpoint(path, header, state if resuming else None)
    try:
        notes += apply_missing(sink, backup.manifest.schema, description)
    except BaseException:
        checkpoint.close()
        raise
    return checkpoint, description, notes


def prepare_schema_only(backup: OpenedBackup, sink: TableSink,
                        options: RestoreOptions) -> tuple[dict, list[str]]:
    """--schema-only: create the table from the saved schema and apply the saved settings
    CreateTable cannot set; no checkpoint, since no item is written."""
    if not backup.manifest.schema:
        raise UsageError(f"{backup.url} holds no table schema, so --schema-only has nothing to create",
                         hint="restore a ddbvault backup, whose manifest saves the schema")
    description, notes = prepare_table(sink, backup.manifest.schema, options, sink.describe())
    notes += apply_missing(sink, backup.manifest.schema, description)
    return description, notes


def key_spec(description: dict, sink: TableSink) -> KeySpec:
    """The target table's key, which every line is checked against."""
    key = KeySpec.of(description)
    if key is None:  # DynamoDB always answers both; a broken endpoint might not
        raise AwsError(f"DescribeTable on {sink.arn} gives no KeySchema with AttributeDefinitions",
                       action="DescribeTable", resource=sink.arn, code="NoKeySchema")
    return key


def target_of(sink: TableSink) -> dict:
    """The endpoint, region and account (None if STS cannot say) that `sink` writes to."""
    arn = sink.arn.split(":")
    return {"endpoint": sink.client.meta.endpoint_url, "region": sink.client.meta.region_name,
            "account": arn[4] if len(arn) > 5 else None}


def target_encryption(sink: TableSink, schema: dict, options: RestoreOptions) -> tuple[dict | None, list[str]]:
    """The SSESpecification for the table restore creates, and a note if the saved key is not used."""
    target = target_of(sink)
    sse, note = target_sse(schema.get("SSESpecification"), options.overrides, target["account"], target["region"])
    if note:
        log.info("table %s: %s", sink.table, note)
    return sse, [f"table {sink.table}: {note}"] if note else []


def prepare_table(sink: TableSink, schema: dict, options: RestoreOptions,
                  existing: dict | None) -> tuple[dict, list[str]]:
    """The target table's description once ACTIVE, after creating it if the options say so, and
    notes on what was chosen (encryption). `existing` is DescribeTable's Table for the target
    (None: absent). Settings CreateTable cannot set are applied later (dynamodb/table_settings.py)."""
    if options.resume or options.no_create:
        if existing is None:
            raise NotFoundError(f"table {sink.table} does not exist",
                                hint="drop --no-create/--resume to create it from the backup's schema")
        mismatch = key_mismatch(schema, existing) if schema else None  # exports have no schema
        if mismatch:
            raise UsageError(f"table {sink.table} cannot take this backup: {mismatch}")
        if options.no_create and not options.resume and not options.allow_non_empty and not sink.is_empty():
            raise IntegrityError(f"table {sink.table} is not empty; restore never writes into a "
                                 "non-empty table unless told to",
                                 hint="add --allow-non-empty to write over matching items, or restore into a new table")
        return sink.wait_active(), []
    if existing is not None:
        raise UsageError(f"table {sink.table} already exists; restore creates a new table and never "
                         "deletes or overwrites one",
                         hint="choose another --table" if options.schema_only else
                         "choose another --table, or add --no-create to write into this (empty) table")
    sse, notes = target_encryption(sink, schema, options)
    try:
        sink.create(create_table_request(schema, sink.table, options.overrides, sse))
    except AwsError as exc:
        if exc.code != "ResourceInUseException":
            raise
        # The table did not exist a moment ago: a retried CreateTable whose first answer was lost
        # meets the table it created itself (or another process won a race). Nothing is written
        # yet and no checkpoint exists, so the way on is --no-create, which proves it empty.
        raise AwsError(f"CreateTable on {exc.resource} found the table already there, though it did not "
                       "exist when this restore began: an earlier attempt of this CreateTable whose answer "
                       "was lost may have created it, or another process did",
                       f"if {sink.table} is empty, run the same command with --no-create instead (it checks "
                       "that the table is empty); otherwise choose another --table",
                       action="CreateTable", resource=exc.resource, code=exc.code) from None
    return sink.wait_active(), notes
