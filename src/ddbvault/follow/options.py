"""What `follow_table()` takes and returns."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..aws.retry import RetryPolicy
from ..aws.session import Principal
from ..errors import UsageError
from ..format.change_log import MAX_SEGMENT_RECORDS
from ..storage.base import CANNED_ACLS, DEFAULT_ACL, SSE_CHOICES


@dataclass(frozen=True)
class FollowOptions:
    """How `follow_table()` reads TABLE's stream into the change log under DESTINATION.

    Durations are seconds. `validate()` raises UsageError (exit 2) naming the CLI option of a
    value out of range."""

    table: str = ""  # a table name, or a table ARN (another account's table: docs/continuous-access.md)
    destination: str = ""  # s3://BUCKET[/PREFIX], file:///PATH or a directory path
    table_principal: Principal = field(default_factory=Principal)  # reads the table and its stream
    vault_principal: Principal = field(default_factory=Principal)  # writes the change log
    # Stop once every readable shard answered no records twice in a row (tests, `follow --once`).
    until_idle: bool = False
    max_seconds: float | None = None  # stop after this long (`--duration`); None: until stopped
    poll_interval_s: float = 1.0  # the wait after a round of GetRecords that found nothing
    segment_max_records: int = 10_000  # records per segment, 1..100,000 (format/change_log/)
    segment_max_seconds: float = 60.0  # a shard's buffered records are written at least this often
    describe_interval_s: float = 60.0  # DescribeStream again (new shards, stream status) this often
    # A poll record (docs/continuous.md, "Quiet tables") is written when a round finds every
    # readable shard at its end and the stream's newest object in the vault is this old: at
    # most 86400 / this small PUTs a day per table (24 by default).
    poll_record_interval_s: float = 3600.0
    acl: str | None = DEFAULT_ACL  # S3 canned ACL of every object; None: no ACL header
    sse: str | None = None  # "AES256", "aws:kms" or None (the bucket's default)
    kms_key_id: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)  # aws/retry.py
    clock: Callable[[], float] = time.time  # wall clock, epoch seconds (tests move it)

    def validate(self) -> None:
        if not 1 <= self.segment_max_records <= MAX_SEGMENT_RECORDS:
            raise UsageError(f"segment_max_records must be 1..{MAX_SEGMENT_RECORDS:,}, got {self.segment_max_records}")
        for name in ("poll_interval_s", "segment_max_seconds", "describe_interval_s", "poll_record_interval_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 86_400):
                raise UsageError(f"{name} must be 0..86400 seconds, got {value}")
        if self.max_seconds is not None and not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise UsageError(f"--duration must be a number of seconds > 0, got {self.max_seconds}")
        if self.acl is not None and self.acl not in CANNED_ACLS:
            raise UsageError(f"--acl {self.acl!r} is not an S3 canned ACL", hint=f"use one of {', '.join(CANNED_ACLS)}")
        if self.sse is not None and self.sse not in SSE_CHOICES:
            raise UsageError(f"--sse must be one of {', '.join(SSE_CHOICES)}, got {self.sse!r}")
        if self.kms_key_id and self.sse != "aws:kms":
            raise UsageError("--kms-key-id needs --sse aws:kms")


@dataclass
class FollowResult:
    """What a follow run did; `to_dict()` is the CLI's --json object."""

    table: str
    stream_arn: str
    records: int = 0  # stream records written into segments by this run
    segments: int = 0  # segments this run stored (one that another follower had stored already counts not)
    gaps: list[dict] = field(default_factory=list)  # the gap objects this run wrote (format/change_log/)
    polls: int = 0  # poll records this run wrote
    # Seconds from the newest record's ApproximateCreationDateTime (whole seconds) to its segment
    # being stored, for the last segment this run wrote; None: it wrote none.
    lag_s: float | None = None
    shards: int = 0  # shards of the stream this run read from
    closed_shards: int = 0  # closed.json objects this run wrote
    iterator_renewals: int = 0  # ExpiredIteratorException answered by a fresh iterator
    get_records_calls: int = 0
    seconds: float = 0.0
    throttle_retries: int = 0
    transient_retries: int = 0

    def to_dict(self) -> dict:
        return asdict(self)
