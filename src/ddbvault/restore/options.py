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
