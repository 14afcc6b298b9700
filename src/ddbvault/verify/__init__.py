"""verify_backup(): prove a backup whole, and optionally that it equals a live table.

Contract:
- Writes nothing, anywhere.
- Refuses an incomplete backup (no manifest): open_backup() raises IntegrityError.
- Checks, without stopping at the first problem: the manifest's totals add up; every data object
  is present, has the recorded size and sha256, and decodes to the recorded number of items;
  every line is one valid `{"Item": ...}` object with the table's key (format/dataline.py, the same
  check restore makes before it writes); no key appears twice in the backup (runtime/keyset.py, on
  disk); and no object under `data/` is missing from the manifest (DynamoDB ImportTable would
  import it). Every problem is one line that names the object (its s3://... URL or path) and,
  for a line, its number; never an attribute value.
- With `against_table`: the table is described first (a missing table fails before any backup
  read), then scanned once, single segment, within the backup's default read cap (half the
  provisioned RCU; 1000 RCU/s on demand) or `read_rcu`. Items are compared by primary key
  (verify/table_diff.py). Memory: one key and a 32-byte digest per backup item, never the items.
  The table is not compared when the backup itself has problems.
- Errors that prevent verifying at all (no manifest, access denied, no such table) raise
  DdbvaultError; everything else is in the report, and `ok` is True only if all of it matched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ..aws.error_translation import translated
from ..aws.session import Principal, make_session
from ..vault.reader import OpenedBackup, expiry_note, open_backup, stream_lines
from ..format.changes import parse_change_line
from ..format.dataline import BadLine, KeySpec, key_fingerprint, parse_line
from ..errors import AccessDeniedError, IntegrityError, NotFoundError
from ..plural import counted
from ..runtime.coordinator import Coordinator
from ..runtime.keyset import KeySet
from ..format.manifest import DataObject, Manifest
from ..capacity.limiter import Unlimited, limiter_for
from ..capacity.read_plan import PageSizer, plan_read_rate
from ..dynamodb.scan import TableSource
from .table_diff import TableComparison, TableDiff

__all__ = ["VerifyReport", "verify_backup"]

SHOWN_LINES = 5  # bad or repeated lines named per data object; the rest are counted
_KEY_CHUNK = 1000  # fingerprints handed to the KeySet at once


@dataclass
class VerifyReport:
    """What `verify_backup()` found; `to_dict()` (with `ok`) is the CLI's `--json` object.

    Each problem is one line naming the data object (its URL or path) and, for a line, its
    number; never an attribute value. `ok` is True only if there is no problem and the table,
    when compared, matches.
    """

    url: str  # the backup, DEST/TABLE/BACKUP_ID
    table: str  # the backed-up table's name
    backup_id: str
    objects: int  # data objects, as the manifest lists them
    items: int  # as the manifest records them
    bytes: int  # stored bytes, as the manifest records them
    items_read: int = 0  # lines read from the data objects that could be read to the end
    problems: list[str] = field(default_factory=list)  # every failure, one line each
    notes: list[str] = field(default_factory=list)  # could not check, but not a failure
    comparison: TableComparison | None = None  # against_table, once the backup passed (verify/table_diff.py)
    seconds: float = 0.0  # wall-clock duration of the call
    schema_only: bool = False  # a schema-only backup: only its manifest is there to check

    @property
    def ok(self) -> bool:
        return not self.problems and (self.comparison is None or self.comparison.matches)

    def summary(self) -> str:
        """One line for a person: what was checked and whether it matched."""
        what = f"{counted(self.objects, 'object')}, {counted(self.items, 'item', ',')}, {self.bytes:,} bytes"
        if self.schema_only:
            what = "schema-only: no data objects"
        if not self.ok:
            return f"{self.url} failed verification ({what})"
        if self.schema_only:
            return f"verified {self.url}: {what}; the manifest is valid and nothing is under data/"
        text = f"verified {self.url}: {what}; sizes, sha256 and item counts match"
        if self.comparison:
            text += f"; table {self.comparison.table} matches ({counted(self.comparison.table_items, 'item', ',')})"
        return text

    def problem_lines(self) -> list[str]:
        """Every problem and table difference, one line each (what the CLI prints on stderr)."""
        return self.problems + (self.comparison.lines() if self.comparison else [])

    def to_dict(self) -> dict:
        return {"ok": self.ok, "url": self.url, "table": self.table, "backup_id": self.backup_id,
                "objects": self.objects, "items": self.items, "bytes": self.bytes,
                "items_read": self.items_read, "problems": self.problems, "notes": self.notes,
                "against_table": self.comparison.to_dict() if self.comparison else None,
                "seconds": self.seconds, "schema_only": self.schema_only}


def verify_backup(url: str, *, vault_principal: Principal | None = None, against_table: str | None = None,
                  table_principal: Principal | None = None, max_differences: int = 10,
                  read_rcu: float | None = None) -> VerifyReport:
    """Verify the backup at `url` (DEST/TABLE/BACKUP_ID); returns a VerifyReport. Writes nothing;
    what is checked is in the module docstring.

    `vault_principal` reads the backup (the CLI's --vault-role; None: the default credential chain).
    `against_table` also compares the backup with that live table, by primary key, read by
    `table_principal` (--table-role).
    `max_differences` (default 10) is how many differing keys are listed one by one; the counts
    are always complete. `read_rcu` caps the table scan in RCU/s; None: half the table's
    provisioned RCU, or 1000 RCU/s on demand (capacity/read_plan.py).

    AWS calls: STS AssumeRole (for a role given) and GetCallerIdentity (the table's ARN). S3
    GetObject of the manifest and of every data object (again, for the objects holding the
    reported differences), and ListObjectsV2 under data/. With `against_table`: DynamoDB
    DescribeTable and Scan, one segment, with ReturnConsumedCapacity=TOTAL, within the cap
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html).

    Raises only what prevents verifying at all; every other finding is in the report (errors.py,
    with the exit codes of exit_codes.py):
        UsageError (2): `url` is not a backup URL.
        NotFoundError (3): no backup at `url`, no such bucket, or no such table.
        AccessDeniedError (4): a read was denied (a denied listing of data/ is only a note).
        AwsError (5): another AWS failure. RetriesExhaustedError (5): a transfer that kept failing.
        IntegrityError (6): no manifest (an incomplete backup), or a malformed one.
        InterruptedRun (130): the main thread was interrupted (Ctrl-C, SIGTERM).
    """
    t0 = time.monotonic()
    source = description = None
    if against_table:
        source = TableSource(make_session(table_principal or Principal()), against_table)
        description = source.describe()
    backup = open_backup(url, vault_principal)
    manifest = backup.manifest
    assert manifest is not None  # open_backup refuses incomplete backups
    report = VerifyReport(backup.url, backup.layout.table, backup.layout.backup_id,
                          len(manifest.objects), manifest.totals.get("items", 0),
                          manifest.totals.get("bytes", 0))
    report.schema_only = manifest.schema_only
    report.problems += totals_problems(manifest, backup.destination.url_of(backup.layout.manifest_key))
    _check_unlisted(backup, report)
    if manifest.schema_only:  # no items to check or to compare with a table
        if against_table:
            report.notes.append(f"table {against_table} was not compared: a schema-only backup holds no items")
        report.seconds = round(time.monotonic() - t0, 3)
        return report
    diff = _table_diff(manifest, against_table, description, max_differences, report)
    if manifest.incremental and against_table:  # change records are not the table at any one time
        report.notes.append(f"table {against_table} was not compared: an incremental export holds changes, "
                            "not items (restore it on its base with --then, then verify that table)")
        diff = None
    lines = _LineCheck(KeySpec.of(manifest.schema), diff.add_backup_item if diff else None,
                       changes=manifest.incremental)
    with lines.keys:
        _check_objects(backup, lines, report)
    lines.summarise(report)
    if diff and report.problems:
        report.problems.append(f"table {against_table} was not compared: the backup has problems")
    elif diff:
        report.comparison = _compare(backup, source, description, diff, read_rcu)
    report.seconds = round(time.monotonic() - t0, 3)
    return report


def totals_problems(manifest: Manifest, where: str) -> list[str]:
    """Where the manifest's totals disagree with its object list (items are checked on load)."""
    problems = []
    stored = sum(o.size for o in manifest.objects)
    if manifest.totals.get("bytes") != stored:
        problems.append(f"manifest {where}: totals.bytes is {manifest.totals.get('bytes')}, "
                        f"its objects add up to {stored}")
    if manifest.totals.get("objects") != len(manifest.objects):
        problems.append(f"manifest {where}: totals.objects is {manifest.totals.get('objects')}, "
                        f"it lists {len(manifest.objects)}")
    return problems


def _check_unlisted(backup: OpenedBackup, report: VerifyReport) -> None:
    """Objects under data/ that the manifest does not list. Listing may be denied to a
    least-privilege reader: that is a note, not a failure."""
    listed = {backup.key_of(o) for o in backup.manifest.objects}
    try:
        extra = [k for k in backup.store.list_keys(backup.data_prefix)
                 if k not in listed and not k.endswith("/")]  # a folder (marker) is no object
    except AccessDeniedError as exc:
        report.notes.append(f"could not look for unlisted data objects: {exc.message}")
        return
    report.problems += [f"data object {backup.destination.url_of(k)} is not in the manifest "
                        "(DynamoDB ImportTable of data/ would import it too)" for k in extra]


def _table_diff(manifest: Manifest, table: str | None, description: dict | None,
                max_differences: int, report: VerifyReport) -> TableDiff | None:
    """A TableDiff keyed like the backup, or None (no table, or key schemas differ: a problem)."""
    if not table:
        return None
    names = _key_names(manifest.schema.get("KeySchema"))
    live = _key_names(description.get("KeySchema"))
    if names != live:
        report.problems.append(f"table {table} has key ({', '.join(live)}), the backup has "
                               f"({', '.join(names)}): not compared")
        return None
    return TableDiff(table, names, max_differences)


def _key_names(key_schema) -> tuple[str, ...]:
    """Attribute names in KeySchema, HASH first."""
    if not key_schema:
        raise IntegrityError("the backup's manifest has no schema.KeySchema; cannot compare by key")
    ordered = sorted(key_schema, key=lambda k: k["KeyType"] != "HASH")
    return tuple(k["AttributeName"] for k in ordered)


def _change_line(line: bytes, key: KeySpec | None) -> tuple[dict, dict | None]:
    """A change record as (record's keys, its keys): checked like an item line (format/changes.py)."""
    change = parse_change_line(line, key)
    return change.keys, change.keys if key else None


def _item_of(line: bytes) -> dict:
    return parse_line(line, None)[0]


class _LineCheck:
    """Every line of the backup through dataline.parse_line, and every key through one KeySet.
    Collects, per object, the first SHOWN_LINES bad and repeated lines, and counts the rest."""

    def __init__(self, key: KeySpec | None, on_item: Callable[[dict], None] | None, changes: bool = False):
        self.key, self.on_item = key, on_item
        # an incremental export's lines are change records (format/changes.py), one per key
        self.parse = _change_line if changes else parse_line
        self.keys = KeySet()
        self.repeated = 0

    def object(self, where: str) -> "_ObjectLines":
        return _ObjectLines(self, where)

    def summarise(self, report: VerifyReport) -> None:
        if self.repeated:
            report.problems.append(f"the backup repeats {self.repeated:,} keys: each should be in it once "
                                   "(restore writes every copy; the last one written wins)")


class _ObjectLines:
    def __init__(self, check: _LineCheck, where: str):
        self.check, self.where = check, where
        self.count = self.bad = self.repeated = 0
        self.problems: list[str] = []
        self._pending: list[tuple[bytes, int]] = []

    def line(self, line: bytes) -> None:
        self.count += 1
        try:
            item, key = self.check.parse(line, self.check.key)
        except BadLine as exc:
            self.bad += 1
            if self.bad <= SHOWN_LINES:
                self.problems.append(f"data object {self.where}: line {self.count}: {exc}")
            return
        if self.check.on_item and not self.bad:
            self.check.on_item(item)
        if key is not None:
            self._pending.append((key_fingerprint(key), self.count))
            if len(self._pending) >= _KEY_CHUNK:
                self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for index in self.check.keys.add([fp for fp, _ in pending]):
            self.repeated += 1
            if self.repeated <= SHOWN_LINES:
                self.problems.append(f"data object {self.where}: line {pending[index][1]}: repeats the key "
                                     "of an earlier line of the backup")

    def finish(self) -> list[str]:
        """The object's problems: bad lines, then repeated keys, each with a count of the rest."""
        self._flush()
        self.check.repeated += self.repeated
        extra = []
        if self.bad > SHOWN_LINES:
            extra.append(f"data object {self.where}: {self.bad:,} bad lines in all (first {SHOWN_LINES} shown)")
        if self.repeated > SHOWN_LINES:
            extra.append(f"data object {self.where}: {self.repeated:,} lines repeat an earlier key "
                         f"(first {SHOWN_LINES} shown)")
        return self.problems + extra


def _check_objects(backup: OpenedBackup, check: _LineCheck, report: VerifyReport) -> None:
    """Every data object, in manifest order, on the shared coordinator (runtime/coordinator.py)
    with one worker: the report names bad and repeated lines in backup order. Raises the
    worker's failure (an AWS error), or InterruptedRun when the main thread is interrupted."""
    coordinator: Coordinator[DataObject] = Coordinator(backup.manifest.objects, Unlimited())
    errors = coordinator.run(lambda obj: _check_object(backup, obj, check, report), workers=1,
                             name="ddbvault-verify", interrupted=lambda: f"verify of {backup.url} interrupted")
    if errors:
        raise errors[0]


def _check_object(backup: OpenedBackup, obj: DataObject, check: _LineCheck, report: VerifyReport) -> None:
    """Stream one object, check and count its lines, record any problem."""
    where = backup.destination.url_of(backup.key_of(obj))
    lines = check.object(where)
    try:
        for line in _lines(backup, obj, where):
            lines.line(line)  # a bad line does not stop the stream: size and sha256 are checked at its end
    except NotFoundError:
        report.problems.append(f"data object {where} is missing{expiry_note(backup)}")
        return
    except IntegrityError as exc:
        report.problems.append(exc.message)
        return
    report.items_read += lines.count
    report.problems += lines.finish()
    if lines.count != obj.items:
        report.problems.append(f"data object {where} holds {lines.count} items, the manifest says {obj.items}")


def _lines(backup: OpenedBackup, obj: DataObject, where: str) -> Iterator[bytes]:
    """The object's data lines; a transfer that fails mid-stream raises AwsError naming it."""
    with translated(service="s3", action="GetObject", resource=where):
        yield from stream_lines(backup, obj, verify_first=False)  # writes nothing: one pass


def _compare(backup: OpenedBackup, source: TableSource, description: dict, diff: TableDiff,
             read_rcu: float | None) -> TableComparison:
    """Stream the table past the backup's digests, then name the reported differing attributes."""
    _scan_table(source, description, diff, read_rcu)
    diff.finish()
    if diff.wanted():
        _resolve_differences(backup, diff)
    return diff.result()


def _scan_table(source: TableSource, description: dict, diff: TableDiff,
                read_rcu: float | None) -> None:
    """Every item of the table into `diff`: one segment, under the read-capacity limiter (invariant 4)."""
    rate = plan_read_rate(description, None, read_rcu)
    limiter = limiter_for(rate.units_per_s)
    sizer = PageSizer(limiter.rate, limiter.burst, False)
    exclusive_start_key = None
    while True:
        page = source.read_page(0, 1, exclusive_start_key, sizer, limiter, False)
        for item in page.items:
            diff.add_table_item(item)
        if not page.last_evaluated_key:
            return
        exclusive_start_key = page.last_evaluated_key


def _resolve_differences(backup: OpenedBackup, diff: TableDiff) -> None:
    """Second pass over the backup, only for the reported differing items: names attributes."""
    for obj in backup.manifest.objects:
        for line in _lines(backup, obj, backup.destination.url_of(backup.key_of(obj))):
            if diff.resolve(_item_of(line)):
                return
