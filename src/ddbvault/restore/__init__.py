"""restore_backup(): a complete backup into a DynamoDB table, losing nothing, never deleting.

1. Open the backup. One without a manifest is refused.
2. Check an existing checkpoint against the live target (checkpoint.check) before creating
   anything: --resume only carries on into the table incarnation the checkpoint filled.
3. Prepare the target:
   - by default, create it from the saved schema (capacity overrides reach every GSI; the saved
     KMS key only where it can work, table_create.target_sse) and wait until it and its GSIs
     are ACTIVE;
   - with --no-create, use an existing table with the same primary key, which must be empty
     unless --allow-non-empty is given;
   - with --resume, carry on into the table an earlier run created.
   A table is never deleted, and an existing table is never written without one of these flags.
   Then the checkpoint's header (the incarnation) is written, and the saved settings the table
   lacks (TTL, tags, stream, ...) are applied on every path (table_settings.py).
4. Workers take data objects from a queue. Each streams one object, whose sha256 is proven
   before its first line is yielded (backup_ref.stream_lines spools it), checks every line
   (dataline.py: one `{"Item": ...}` object of valid attribute values, with the table's key; a
   bad line fails the run naming object and line), cuts BatchWriteItem requests of <= 25 items
   and <= 16 MB that it serialises itself (write_batch.py), writes them under the shared WCU
   token bucket (capped by the slowest of the table and its GSIs, writeplan.py), and retries
   UnprocessedItems with backoff and jitter. Progress goes to the checkpoint, so --resume skips
   what is already written.
5. Counts prove the result: every line is written (acknowledged by BatchWriteItem), collapsed
   into a later line of the same key in its batch, or refused by the table; those plus the
   lines skipped on resume must equal the manifest's total. Keys written twice are counted
   (keyset.py), and the reported `items` is the number of distinct keys. Items the table
   refuses (ValidationException, e.g. a GSI key of the wrong type) are found by splitting the
   refused request, listed by key in a file (refused_keys.py), and fail the run once
   everything else is written.

`--via import` hands the backup's data/ prefix to DynamoDB ImportTable instead (restore_import.py).
"""

from __future__ import annotations

import logging
import math
import re
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..aws.retry import RetryPolicy, RetryStats
from ..aws.session import Principal, make_session
from ..vault.reader import OpenedBackup, open_backup, stream_lines
from .checkpoint import Checkpoint, bounded_file_name, check, default_path, incarnation, read_state
from ..format.dataline import BadLine, KeySpec, encode_put, key_fingerprint, parse_line
from ..errors import AwsError, IntegrityError, InterruptedRun, NotFoundError, RetriesExhaustedError, UsageError
from ..runtime.keyset import KeySet
from ..format.layout import check_table_name
from ..format.manifest import DataObject
from ..capacity.limiter import RateLimiterCancelled, bucket_for
from .refused_keys import RefusedKeys
from ..backup.segments import Progress
from ..dynamodb.sink import TableSink
from ..dynamodb.table_create import Overrides, create_table_request, key_mismatch, target_sse
from ..dynamodb.table_settings import apply_missing
from ..runtime.workers import drain
from ..dynamodb.write_batch import BatchCutter, Put
from ..capacity.write_plan import estimate_wcu, plan_write_rate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreOptions:
    no_create: bool = False
    allow_non_empty: bool = False
    resume: bool = False
    checkpoint: str | None = None
    overrides: Overrides = field(default_factory=Overrides)
    write_share: float | None = None
    write_wcu: float | None = None
    workers: int = 4
    via: str = "batch"  # or "import"
    skip_lsi: bool = False  # --via import only: restore without the LSIs ImportTable cannot create
    bucket_owner: str | None = None  # --via import only: the backup bucket's account (else probed)
    source: Principal = field(default_factory=Principal)  # reads the backup bucket
    target: Principal = field(default_factory=Principal)  # writes the table
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def validate(self) -> None:
        if not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be 1..256, got {self.workers}")
        if self.via not in ("batch", "import"):
            raise UsageError(f"--via must be batch or import, got {self.via!r}")
        if self.via == "import" and (self.no_create or self.resume):
            raise UsageError("--via import creates a new table; it cannot be combined with --no-create or --resume")
        self.overrides.check()
        if self.no_create and not self.resume and self.overrides.given():
            raise UsageError(f"{', '.join(self.overrides.given())} set up the table restore creates; "
                             "with --no-create the table already exists",
                             hint="drop them, or drop --no-create to restore into a new table")
        if self.bucket_owner is not None and (self.via != "import" or not re.fullmatch(r"\d{12}", self.bucket_owner)):
            raise UsageError(f"--bucket-owner must be a 12-digit account id, with --via import; got {self.bucket_owner!r}")


@dataclass
class RestoreResult:
    table: str
    items: int  # distinct keys written by this run, plus the items skipped on --resume
    seconds: float
    consumed_wcu: float
    backup: str
    objects: int
    resumed_items: int
    via: str
    write_rate_wcu: float | None
    notes: list[str] = field(default_factory=list)  # settings left different, encryption chosen
    written: int = 0  # PutRequests BatchWriteItem acknowledged (a key written twice counts twice)
    duplicates: int = 0  # lines whose key an earlier line of the backup already had
    first_duplicate: str | None = None  # "data object URL line N", or None
    throttle_retries: int = 0  # every retry of the run's AWS calls (S3 reads, table writes),
    transient_retries: int = 0  # botocore's own inside each call included (aws/retry.py)

    def to_dict(self) -> dict:
        return asdict(self)


def restore_backup(url: str, table: str, options: RestoreOptions | None = None, *,
                   progress: Progress | None = None,
                   cancelled: threading.Event | None = None) -> RestoreResult:
    """Restore the backup at `url` into `table`. Raises DdbvaultError.

    AWS calls: DescribeTable, CreateTable, the settings calls of table_settings.py, BatchWriteItem
    (or ImportTable with --via import), and the backup store's reads."""
    options = options or RestoreOptions()
    options.validate()
    check_table_name(table)
    t0 = time.monotonic()
    stats = RetryStats()  # every retry of the run, S3 reads and table writes, botocore's own too
    backup = _open(url, options, stats)
    cancelled = cancelled or threading.Event()
    sink = TableSink(make_session(options.target), table, pool=options.workers + 4,
                     retry=options.retry, stats=stats, cancelled=cancelled)
    if options.via == "import":
        from .via_import import restore_via_import

        return restore_via_import(backup, sink, options, t0, stats)
    checkpoint, description, notes = _prepare(backup, sink, options)
    rate = plan_write_rate(description, options.write_share, options.write_wcu)
    run = _WriteRun(backup, sink, checkpoint, bucket_for(rate.units_per_s), options, progress or Progress(),
                    cancelled, _key_spec(description, sink))
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
                         seconds=round(time.monotonic() - t0, 3), consumed_wcu=round(run.consumed, 3),
                         backup=backup.url, objects=len(backup.manifest.objects), resumed_items=run.resumed,
                         via="batch", write_rate_wcu=rate.units_per_s if math.isfinite(rate.units_per_s) else None,
                         notes=notes, written=run.written, duplicates=run.duplicates,
                         first_duplicate=run.first_duplicate, throttle_retries=stats.throttles,
                         transient_retries=stats.transient)


def _prepare(backup: OpenedBackup, sink: TableSink, options: RestoreOptions) -> tuple[Checkpoint, dict, list[str]]:
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


def _key_spec(description: dict, sink: TableSink) -> KeySpec:
    """The target table's key, which every line is checked against."""
    key = KeySpec.of(description)
    if key is None:  # DynamoDB always answers both; a broken endpoint might not
        raise AwsError(f"DescribeTable on {sink.arn} gives no KeySchema with AttributeDefinitions",
                       action="DescribeTable", resource=sink.arn, code="NoKeySchema")
    return key


def _open(url: str, options: RestoreOptions, stats: RetryStats) -> OpenedBackup:
    """A ddbvault backup, or a native DynamoDB export (which has no schema: --no-create only)."""
    from ..vault.native_export import is_native_export, open_native_export

    if not is_native_export(url):
        return open_backup(url, options.source, stats=stats)
    if options.via == "import" or not (options.no_create or options.resume):
        raise UsageError("a DynamoDB export holds no table schema, so restore cannot create the table",
                         hint="create the table with the source's key schema, then add --no-create")
    return open_native_export(url, options.source, stats)


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
    (None: absent). Settings CreateTable cannot set are applied later (table_settings.py)."""
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
                         hint="choose another --table, or add --no-create to write into this (empty) table")
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


class _Cancelled(Exception):
    """A worker noticed the run was cancelled."""


class _Refused(Exception):
    """The table refused a request (ValidationException); `puts` are those not yet written."""

    def __init__(self, puts: list[Put]):
        super().__init__(f"{len(puts)} items refused")
        self.puts = puts


class _WriteRun:
    """Shared state of one restore: object queue, token bucket, counters, first error.

    Counters (lines of the backup): `written` acknowledged by BatchWriteItem, `collapsed` into a
    later line of the same key in their batch (never sent), `refused` by the table, `resumed`
    skipped because an earlier run wrote them. `duplicates` counts lines whose key an earlier
    line had (collapsed ones included); `keys` holds the distinct keys written."""

    def __init__(self, backup: OpenedBackup, sink: TableSink, checkpoint: Checkpoint, bucket,
                 options: RestoreOptions, progress: Progress, cancelled: threading.Event, key: KeySpec):
        self.backup, self.sink, self.checkpoint, self.bucket = backup, sink, checkpoint, bucket
        self.options, self.progress, self.cancelled, self.key = options, progress, cancelled, key
        self.todo: queue.SimpleQueue[DataObject] = queue.SimpleQueue()
        self.total = backup.manifest.totals["items"]
        self.resumed = 0
        for obj in backup.manifest.objects:
            if obj.key in checkpoint.done:
                self.resumed += obj.items
            else:
                self.todo.put(obj)
        self.lock = threading.Lock()
        self.written = self.collapsed = self.duplicates = 0
        self.first_duplicate: str | None = None
        self.consumed = 0.0
        self.keys = KeySet()
        self.refused = RefusedKeys(checkpoint.path.with_name(   # beside the checkpoint, name bounded too
            bounded_file_name(checkpoint.path.name.removesuffix(".jsonl"), ".refused.jsonl")))
        self.errors: list[BaseException] = []

    def run(self) -> None:
        self.progress.start(self.sink.table, self.total)
        self.progress.advance(self.resumed, 0, 0.0)
        try:
            self.errors = drain(self.todo, self._restore_object, count=self.options.workers,
                                name="ddbvault-restore", cancelled=self.cancelled, cancel=self._cancel,
                                quiet=(_Cancelled, RateLimiterCancelled))
        except BaseException:  # KeyboardInterrupt / SIGTERM: stopped, the checkpoint is kept
            raise InterruptedRun(f"restore into {self.sink.table} interrupted after {self.written} items; "
                                 "run it again with --resume to carry on") from None
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        self.keys.close()
        self.refused.close()

    def _cancel(self) -> None:
        self.cancelled.set()
        self.bucket.cancel()

    def _restore_object(self, obj: DataObject) -> None:
        where = self.backup.destination.url_of(self.backup.key_of(obj))
        skip = self.checkpoint.lines.get(obj.key, 0)
        with self.lock:
            self.resumed += skip
        self.progress.advance(skip, 0, 0.0)
        cutter, count, clean = BatchCutter(), 0, True  # clean: nothing refused, progress may be recorded
        for line in stream_lines(self.backup, obj):
            count += 1
            if count <= skip:
                continue
            batch = cutter.add(self._put(line, where, count))
            if batch:
                clean = self._write_batch(obj.key, where, batch, count - 1, clean)
        clean = self._write_batch(obj.key, where, cutter.finish(), count, clean)
        for line in cutter.collapsed:
            self._duplicate(where, line, collapsed=True)
        if count != obj.items:
            raise IntegrityError(f"data object {where} holds {count} items, the manifest says {obj.items}")
        if clean:
            self.checkpoint.finished(obj.key)

    def _put(self, line: bytes, where: str, number: int) -> Put:
        """The checked item of one line, serialised by us. Raises IntegrityError naming the line."""
        try:
            item, key = parse_line(line, self.key)
        except BadLine as exc:
            raise IntegrityError(f"data object {where}: line {number}: {exc}",
                                 hint=f"`ddbvault verify {self.backup.url}` lists every bad line; restore "
                                      "from another backup") from None
        return Put(encode_put(item), key, key_fingerprint(key), number)

    def _write_batch(self, obj_key: str, where: str, batch: list[Put], through: int, clean: bool) -> bool:
        """Write `batch` (the object's lines up to `through`); True if the table took all of it."""
        if not batch:
            return clean
        refused = self._send(batch)
        for put in refused:
            self.refused.add(where, put)
        accepted = [put for put in batch if put not in refused] if refused else batch
        for index in self.keys.add([put.fingerprint for put in accepted]):
            self._duplicate(where, accepted[index].line)
        clean = clean and not refused
        if clean:  # an object with a refused item stays unfinished, so --resume never skips it
            self.checkpoint.written(obj_key, through)
        return clean

    def _duplicate(self, where: str, line: int, collapsed: bool = False) -> None:
        with self.lock:
            self.duplicates += 1
            self.collapsed += collapsed
            if self.first_duplicate is None:
                self.first_duplicate = f"data object {where} line {line}"

    def _send(self, puts: list[Put]) -> list[Put]:
        """Write `puts`; returns those the table refused, found by halving a refused request."""
        try:
            self._write(puts)
            return []
        except _Refused as exc:
            left = exc.puts
        if len(left) == 1:
            return left
        half = len(left) // 2
        return self._send(left[:half]) + self._send(left[half:])

    def _write(self, puts: list[Put]) -> None:
        """One request, then its UnprocessedItems with backoff until none are left. The retry
        budget counts only attempts that wrote nothing. Raises _Refused, RetriesExhaustedError."""
        policy, pending, stalled = self.options.retry, {p.fingerprint: p for p in puts}, 0
        while True:
            if self.cancelled.is_set():
                raise _Cancelled()
            requests = [put.body for put in pending.values()]
            estimate = estimate_wcu(requests)
            self.bucket.acquire(estimate)
            try:
                unprocessed, units = self.sink.batch_write(requests)
            except AwsError as exc:
                # Every reservation is settled (ratelimit.py): a refused request consumed nothing,
                # any other failure is charged what was reserved, since what it wrote is unknown.
                self.bucket.settle(estimate, 0.0 if exc.code == "ValidationException" else estimate)
                if exc.code == "ValidationException":  # its message may quote item values: dropped
                    raise _Refused(list(pending.values())) from None
                if isinstance(exc, RetriesExhaustedError):
                    raise self._exhausted(f"{exc.code} until retries ran out", exc.code) from exc
                raise
            units = estimate if units is None else units
            self.bucket.settle(estimate, units)
            left = self._unprocessed(pending, unprocessed)
            done = len(pending) - len(left)
            with self.lock:
                self.written += done
                self.consumed += units
            self.progress.advance(done, sum(map(len, requests)) * done // len(requests), units)
            if not left:
                return
            stalled += done == 0
            if stalled >= policy.attempts:
                raise self._exhausted(f"{len(left)} items still unprocessed after {policy.attempts} "
                                      "attempts that wrote nothing", "UnprocessedItems")
            pending = left
            self.cancelled.wait(policy.delay(stalled))

    def _unprocessed(self, pending: dict[bytes, Put], unprocessed: list[dict]) -> dict[bytes, Put]:
        """The Puts that UnprocessedItems names. An element that is not one of them cannot be
        matched to what was sent, so nothing of the request could be counted as written."""
        left = {}
        for request in unprocessed:
            try:
                item = request["PutRequest"]["Item"]
                fingerprint = key_fingerprint({name: item[name] for name, _ in self.key.attributes})
                left[fingerprint] = pending[fingerprint]
            except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError):
                raise AwsError(f"BatchWriteItem on {self.sink.arn} returned UnprocessedItems that are "
                               "not items of the request", action="BatchWriteItem", resource=self.sink.arn,
                               code="UnexpectedResponse") from None
        return left

    def _exhausted(self, what: str, code: str) -> RetriesExhaustedError:
        with self.lock:
            unwritten = self.total - self.written - self.collapsed - self.resumed - self.refused.count
        return RetriesExhaustedError(
            f"BatchWriteItem on {self.sink.arn}: {what}; {unwritten:,} of {self.total:,} items are not written",
            "the table kept throttling; lower --write-share/--write-wcu, then run again with --resume",
            action="BatchWriteItem", resource=self.sink.arn, code=code)
