"""What a restore is asked to do (RestoreOptions) and what it reports (RestoreResult)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..aws.retry import RetryPolicy
from ..aws.session import Principal
from ..dynamodb.table_create import Overrides
from ..errors import UsageError


@dataclass(frozen=True)
class RestoreOptions:
    """How `restore_backup()` prepares the target table and writes it. Every field has a default:
    `RestoreOptions()` creates a new table from the backup's schema and writes it with
    BatchWriteItem at half its write capacity.

    Rates are write capacity units per second (WCU/s). `validate()`, which restore_backup()
    calls first, raises UsageError (exit 2) naming the CLI option of a value out of range or of
    options that contradict each other.
    """

    # Create the table from the saved schema and apply its saved settings, writing no item; from a
    # full or a schema-only backup. A schema-only backup is restored only with this set.
    schema_only: bool = False
    no_create: bool = False  # write into an existing table with the same key, which must be empty
    allow_non_empty: bool = False  # with no_create: write into a non-empty table (matching items are replaced)
    resume: bool = False  # carry on from the checkpoint, only into the table incarnation it filled
    # The checkpoint file (JSON lines, restore/checkpoint.py). None:
    # $XDG_CACHE_HOME/ddbvault/restore/<table>--<backup-id>.jsonl (~/.cache when unset).
    checkpoint: str | None = None
    # Billing mode, RCU/WCU (table and every GSI), SSE and KMS key of the table restore creates
    # (dynamodb/table_create.py); refused with no_create alone, which creates nothing.
    overrides: Overrides = field(default_factory=Overrides)
    # Fraction (0, 1] of the write capacity of the slowest of the table and its GSIs. None: 0.5.
    # Provisioned: of its WriteCapacityUnits; on demand: 1000 WCU/s, or this share of
    # OnDemandThroughput MaxWriteRequestUnits when that is lower (capacity/write_plan.py).
    write_share: float | None = None
    write_wcu: float | None = None  # absolute cap in WCU/s, finite and > 0; wins over write_share
    # Data objects written at once (threads), 1..256. Each worker spools one data object, at
    # its stored size, in $TMPDIR (vault/reader.stream_lines).
    workers: int = 4
    # "batch": BatchWriteItem under the WCU cap, resumable. "import": DynamoDB ImportTable of the
    # backup's data/ (S3 only, a new table, no LSIs, no write capacity used; restore/via_import.py).
    via: str = "batch"
    skip_lsi: bool = False  # --via import only: restore without the LSIs ImportTable cannot create
    bucket_owner: str | None = None  # --via import only: the backup bucket's account (else probed)
    vault_principal: Principal = field(default_factory=Principal)  # reads the backup bucket: --vault-role
    table_principal: Principal = field(default_factory=Principal)  # writes the table: --table-role
    # aws/retry.py: 10 attempts, 0.1-20 s backoff; for UnprocessedItems, 10 attempts that wrote nothing.
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def validate(self) -> None:
        if not 1 <= self.workers <= 256:
            raise UsageError(f"--workers must be 1..256, got {self.workers}")
        if self.via not in ("batch", "import"):
            raise UsageError(f"--via must be batch or import, got {self.via!r}")
        if self.via == "import" and (self.no_create or self.resume):
            raise UsageError("--via import creates a new table; it cannot be combined with --no-create or --resume")
        if self.schema_only and (self.no_create or self.resume or self.via == "import"
                                 or self.allow_non_empty):
            raise UsageError("--schema-only creates a new table and writes no item; it cannot be combined "
                             "with --no-create, --allow-non-empty, --resume or --via import",
                             hint="drop --schema-only to restore the items, or drop the other option")
        self.overrides.check()
        if self.no_create and not self.resume and self.overrides.given():
            raise UsageError(f"{', '.join(self.overrides.given())} set up the table restore creates; "
                             "with --no-create the table already exists",
                             hint="drop them, or drop --no-create to restore into a new table")
        if self.bucket_owner is not None and (self.via != "import" or not re.fullmatch(r"\d{12}", self.bucket_owner)):
            raise UsageError(f"--bucket-owner must be a 12-digit account id, with --via import; got {self.bucket_owner!r}")


@dataclass
class RestoreResult:
    """What `restore_backup()` returns once the counts are proven; `to_dict()` is the CLI's
    `--json` object. Counts are items (lines of the backup), durations seconds, capacity WCU."""

    table: str
    items: int  # distinct keys written by this run, plus the items skipped on --resume
    seconds: float  # wall-clock duration of the call
    consumed_wcu: float  # ConsumedCapacity DynamoDB reported (estimated where it did not); 0 via import
    backup: str  # the backup's URL
    objects: int  # data objects in the backup
    resumed_items: int  # lines skipped because the checkpoint says an earlier run wrote them
    via: str  # "batch" or "import"
    write_rate_wcu: float | None  # the write cap used, WCU/s; None: unlimited, or via import
    notes: list[str] = field(default_factory=list)  # settings left different, encryption chosen
    written: int = 0  # PutRequests BatchWriteItem acknowledged (a key written twice counts twice)
    duplicates: int = 0  # lines whose key an earlier line of the backup already had
    first_duplicate: str | None = None  # "data object URL line N", or None
    throttle_retries: int = 0  # every retry of the run's AWS calls (S3 reads, table writes),
    transient_retries: int = 0  # botocore's own inside each call included (aws/retry.py)
    schema_only: bool = False  # the table was created with its settings and no item was written
    # restore --then: per incremental applied on top, in order: {"url", "from", "to", "changes",
    # "puts", "deletes"} (restore/incremental.py)
    incrementals: list[dict] = field(default_factory=list)
    # restore --at (restore/point_in_time.py): {"at", "base", "changes", "puts", "deletes",
    # "granularity"}, and "keys" with --key/--keys-file; None otherwise
    point_in_time: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)
