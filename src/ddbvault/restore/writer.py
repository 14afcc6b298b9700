"""The batch writer of one restore: data objects drained by workers on the shared coordinator
(runtime/coordinator.py), every line checked, BatchWriteItem requests cut and written under the
write-capacity limiter, counts kept so that the caller can prove them.

AWS calls: BatchWriteItem (UnprocessedItems retried with backoff and jitter), and the backup
store's reads (vault/reader.py).
"""

from __future__ import annotations

from ..capacity.write_plan import estimate_wcu
from ..dynamodb.sink import TableSink
from ..dynamodb.write_batch import BatchCutter, Put
from ..errors import AwsError, IntegrityError, RetriesExhaustedError
from ..format.dataline import BadLine, KeySpec, encode_put, key_fingerprint, parse_line
from ..format.manifest import DataObject
from ..runtime.coordinator import Coordinator
from ..runtime.keyset import KeySet
from ..runtime.progress import Progress
from ..vault.reader import OpenedBackup, stream_lines
from .checkpoint import Checkpoint, bounded_file_name
from .options import RestoreOptions
from .refused_keys import RefusedKeys


class _Refused(Exception):
    """The table refused a request (ValidationException); `puts` are those not yet written."""

    def __init__(self, puts: list[Put]):
        super().__init__(f"{len(puts)} items refused")
        self.puts = puts


class BatchWriteRun:
    """Shared state of one restore: the coordinator (data objects, write-capacity limiter,
    cancellation, first error) and the counters.

    Counters (lines of the backup): `written` acknowledged by BatchWriteItem, `collapsed` into a
    later line of the same key in their batch (never sent), `refused` by the table, `resumed`
    skipped because an earlier run wrote them. `duplicates` counts lines whose key an earlier
    line had (collapsed ones included); `keys` holds the distinct keys written; `consumed_wcu`
    is the consumed capacity DynamoDB reported."""

    def __init__(self, backup: OpenedBackup, sink: TableSink, checkpoint: Checkpoint, limiter,
                 options: RestoreOptions, progress: Progress, cancelled, key: KeySpec):
        self.backup, self.sink, self.checkpoint, self.limiter = backup, sink, checkpoint, limiter
        self.options, self.progress, self.key = options, progress, key
        self.total = backup.manifest.totals["items"]
        self.resumed = 0
        todo = []
        for obj in backup.manifest.objects:
            if obj.key in checkpoint.done:
                self.resumed += obj.items
            else:
                todo.append(obj)
        self.coordinator: Coordinator[DataObject] = Coordinator(todo, limiter, cancelled)
        self.cancelled, self.lock = self.coordinator.cancelled, self.coordinator.lock
        self.written = self.collapsed = self.duplicates = 0
        self.first_duplicate: str | None = None
        self.consumed_wcu = 0.0
        self.keys = KeySet()
        self.refused = RefusedKeys(checkpoint.path.with_name(   # beside the checkpoint, name bounded too
            bounded_file_name(checkpoint.path.name.removesuffix(".jsonl"), ".refused.jsonl")))

    @property
    def errors(self) -> list[BaseException]:
        return self.coordinator.errors

    def run(self) -> None:
        """Write every data object not yet done. Raises the first worker's failure, or
        InterruptedRun (the checkpoint is kept) when the main thread is interrupted."""
        self.progress.start(self.sink.table, self.total)
        self.progress.advance(self.resumed, 0, 0.0)
        errors = self.coordinator.run(
            self._restore_object, workers=self.options.workers, name="ddbvault-restore",
            interrupted=lambda: f"restore into {self.sink.table} interrupted after {self.written} items; "
                                "run it again with --resume to carry on")
        if errors:
            raise errors[0]

    def close(self) -> None:
        self.keys.close()
        self.refused.close()

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
            self.coordinator.check()
            requests = [put.body for put in pending.values()]
            estimate = estimate_wcu(requests)
            self.limiter.acquire(estimate)
            try:
                unprocessed, units = self.sink.batch_write(requests)
            except AwsError as exc:
                # Every reservation is settled (capacity/limiter.py): a refused request consumed nothing,
                # any other failure is charged what was reserved, since what it wrote is unknown.
                self.limiter.settle(estimate, 0.0 if exc.code == "ValidationException" else estimate)
                if exc.code == "ValidationException":  # its message may quote item values: dropped
                    raise _Refused(list(pending.values())) from None
                if isinstance(exc, RetriesExhaustedError):
                    raise self._exhausted(f"{exc.code} until retries ran out", exc.code) from exc
                raise
            units = estimate if units is None else units
            self.limiter.settle(estimate, units)
            left = self._unprocessed(pending, unprocessed)
            done = len(pending) - len(left)
            with self.lock:
                self.written += done
                self.consumed_wcu += units
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
