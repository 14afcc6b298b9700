"""BackupResult: what a backup returns once its manifest is written (the CLI's --json object)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class BackupResult:
    """What `backup_table()` returns once the manifest is written; `to_dict()` is the CLI's
    `--json` object. Counts are items, sizes bytes, durations seconds, capacity RCU."""

    url: str  # the backup, DEST/TABLE/BACKUP_ID: what restore_backup and verify_backup take
    backup_id: str
    table: str
    items: int  # items scanned, every one in a data object (checked before the manifest)
    bytes: int  # stored (compressed) bytes of the data objects: the manifest's totals.bytes
    objects: int  # data objects written
    consumed_rcu: float  # ConsumedCapacity DynamoDB reported (estimated from size where it did not)
    seconds: float  # wall-clock duration of the call
    manifest: str  # the URL of manifest.json
    read_rate_rcu: float | None  # the read cap used, RCU/s; None: unlimited
    segments: int  # parallel Scan segments
    # data-line bytes before compression; None: unknown (a commit of a backup committed already
    # whose segments' results are not all there to sum; backup/commit.py raw_bytes_of)
    raw_bytes: int | None
    # Retries of the run's AWS calls, ours and botocore's own (aws/retry.py), after a throttle
    # and after a transient failure (5xx, reset, timeout), the manifest's own write included.
    # The manifest records those made before it was written.
    throttle_retries: int
    transient_retries: int = 0
    schema_only: bool = False  # the backup holds the schema only (BackupOptions.schema_only)
    tier: str | None = None  # its retention tier under BackupOptions.keep; None: no keep policy
    expires_at: str | None = None  # UTC; when the tier's lifecycle rule may remove it
    object_lock_mode: str | None = None  # the Object Lock mode its objects are retained in, if any
    engine: str = "scan"  # "scan" or "export" (BackupOptions.engine)
    export_arn: str | None = None  # engine "export": the DynamoDB export the backup holds
    # engine "scan": the real aggregate read rate, RCU/s: the consumed RCU over the span from the
    # first segment's start to the last one's end (the manifest's consumed_capacity)
    aggregate_rcu_per_s: float | None = None
    parallelism: int | None = None  # engine "scan": the concurrent workers the plan shared the cap among

    def to_dict(self) -> dict:
        return asdict(self)
