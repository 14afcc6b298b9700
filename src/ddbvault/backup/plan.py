"""`backup plan`: the first of a scan backup's three steps (docs/scale.md).

Describes the table, fixes the segment count, the read rate of each concurrent worker and the
write options, and writes them into the backup's prefix as `plan.json`, create-only, before any
Scan. `backup work` (backup/work.py) and `backup commit` (backup/commit.py) read it; the one-shot
`backup_table` runs all three in one process.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone

from .._version import __version__
from ..aws.retry import RetryStats
from ..aws.session import make_session
from ..capacity.read_plan import plan_read_rate, plan_segments
from ..dynamodb.scan import TableSource
from ..errors import AccessDeniedError, UsageError
from ..format.layout import BackupLayout, check_table_name, new_backup_id
from ..format.plan import MAX_PARALLELISM, BackupPlan, plan_key
from ..format.retention import (KeepPolicy, Retention, choose_tier, lookback_start, parse_utc,
                                retention_for, tag_of)
from ..format.schema import table_schema
from ..storage import ObjectStore, WriteOptions, open_store, session_for
from ..storage.destination import Destination, parse_destination
from ..storage.s3_limits import plan_part_size
from ..vault.listing import tier_history

log = logging.getLogger(__name__)
MIB = 1024 * 1024


@dataclass
class Planned:
    """A plan just written, with what the planning process opened (reused by the one-shot)."""

    plan: BackupPlan
    destination: Destination
    layout: BackupLayout
    store: ObjectStore
    source: TableSource
    description: dict
    retention: Retention | None
    lock_mode: str | None


def plan_backup(table: str, dest: str, options, *, parallelism: int | None = None,
                stats: RetryStats | None = None) -> Planned:
    """Plan a scan backup of `table` into `dest` and write its plan.json; returns it (and what
    was opened). `options` is a backup.BackupOptions; `parallelism` the number of workers that
    will scan at once (1..10,000, default options.parallelism or 1): each gets the read cap /
    parallelism (RCU/s).

    AWS calls: STS (roles), DynamoDB DescribeTable, DescribeTimeToLive, ListTagsOfResource; S3
    HeadBucket, PutObject of plan.json (If-None-Match: *); under a keep policy ListObjectsV2 and
    GetObject of earlier manifests and GetObjectLockConfiguration.
    Raises UsageError (2), NotFoundError (3), AccessDeniedError (4), AwsError (5), IntegrityError
    (6: a plan is there already: the backup id is taken)."""
    options.validate()
    check_table_name(table)
    parallelism = parallelism or options.parallelism or 1
    if not 1 <= parallelism <= MAX_PARALLELISM:
        raise UsageError(f"--parallelism must be 1..{MAX_PARALLELISM:,}, got {parallelism}")
    destination = parse_destination(dest)
    write_options = write_options_for(destination, options)  # S3's limits, checked before any work
    stats = stats or RetryStats()
    d = describe_and_open(table, destination, options, write_options, stats)
    source, description, schema, store, layout, retention, lock_mode = (
        d.source, d.description, d.schema, d.store, d.layout, d.retention, d.lock_mode)
    segments = plan_segments(description, options.workers * parallelism, options.segments)
    if parallelism > segments:
        # Each worker reads at cap / parallelism, but at most `segments` of them ever scan at
        # once: the backup would use segments / parallelism of its cap (3 / 10,000: a crawl).
        raise UsageError(f"--parallelism {parallelism:,} is more than the plan's {segments:,} segments: each "
                         f"worker would read at 1/{parallelism:,} of the cap, and at most {segments:,} can "
                         "ever scan at once",
                         hint=f"give --segments at least {parallelism:,}, or --parallelism at most {segments:,}")
    rate = plan_read_rate(description, options.read_share, options.read_rcu)
    cap = None if math.isinf(rate.units_per_s) else rate.units_per_s
    plan = BackupPlan(
        backup_id=layout.backup_id, table=table, created_at=_iso(datetime.now(timezone.utc)),
        segments=segments, parallelism=parallelism, read_rate_rcu_per_s=cap,
        worker_read_rate_rcu_per_s=None if cap is None else cap / parallelism,
        read_rate_reason=rate.reason, consistent_read=options.consistent_read,
        compression=options.compression, compression_level=options.compression_level,
        object_size=options.object_size, part_size=write_options.part_size, acl=options.acl, sse=options.sse,
        kms_key_id=options.kms_key_id, storage_class=options.storage_class,
        source=source_info(description, options), schema=schema, tool_version=__version__,
        retention=retention.to_stored() if retention else None,
        url=destination.url_of(layout.root))
    store.put_new(plan_key(layout.root), plan.to_json())
    log.info("planned %s at %s: %d segments for %d concurrent workers, read rate %s%s", table, plan.url,
             segments, parallelism, rate.reason,
             "" if cap is None else f" ({cap / parallelism:,.1f} RCU/s per worker)")
    return Planned(plan, destination, layout, store, source, description, retention, lock_mode)


@dataclass
class Described:
    """What every scan or schema-only backup opens first, before writing anything."""

    source: TableSource
    description: dict
    schema: dict
    store: ObjectStore
    layout: BackupLayout
    retention: Retention | None
    lock_mode: str | None


def describe_and_open(table: str, destination: Destination, options, write_options: WriteOptions,
                      stats: RetryStats) -> Described:
    """Describe the table (DescribeTable, DescribeTimeToLive, ListTagsOfResource), open and check
    the destination, name the new backup, and, under a keep policy, choose its tier."""
    source = TableSource(make_session(options.table_principal), table, pool=options.workers + 4,
                         retry=options.retry, stats=stats)
    description = source.describe()
    schema = table_schema(description, source.time_to_live(), source.tags())
    store = open_destination(destination, options, write_options, stats)
    now = options.now or datetime.now(timezone.utc)
    layout = BackupLayout(destination.prefix, table, options.backup_id or new_backup_id(now))
    retention, lock_mode = apply_keep(store, destination, table, options.keep, now)
    return Described(source, description, schema, store, layout, retention, lock_mode)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_options_for(destination: Destination, options) -> WriteOptions:
    """How objects are written. For S3, the part size is raised if --object-size needs it
    (storage/s3_limits.py); an object size S3 cannot hold raises UsageError."""
    part_size = options.part_size
    if destination.kind == "s3":
        part_size = plan_part_size(options.object_size, options.part_size)
        if part_size != options.part_size:
            log.info("part size raised from %d MiB to %d MiB so that a %s data object fits in "
                     "S3's 10,000 parts", options.part_size // MIB, part_size // MIB,
                     f"{options.object_size / MIB:,.0f} MiB")
    return WriteOptions(acl=options.acl, sse=options.sse, kms_key_id=options.kms_key_id,
                        storage_class=options.storage_class, part_size=part_size)


def open_destination(destination: Destination, options, write_options: WriteOptions,
                     stats: RetryStats) -> ObjectStore:
    session = session_for(destination, options.vault_principal)
    store = open_store(destination, session, write_options, pool=options.workers + 4, stats=stats)
    store.check_writable()
    return store


def apply_keep(store: ObjectStore, destination: Destination, table: str, keep: KeepPolicy | None,
               now: datetime) -> tuple[Retention | None, str | None]:
    """Under a keep policy: the new backup's tier (from the table's earlier manifests) and
    expiry, set on the store so that every object carries them. Before the first write."""
    if keep is None:
        return None, None
    try:
        history = tier_history(store, destination.prefix, table, lookback_start(keep, now))
    except AccessDeniedError as exc:
        exc.hint = ("a keep policy reads the table's earlier manifests to choose the tier: grant "
                    "s3:ListBucket and s3:GetObject on the prefix (ddbvault iam --keep ...)")
        raise
    tier = choose_tier(keep, now, history)
    retention = retention_for(keep, tier, now)
    lock_mode = store.apply_retention(tag_of(tier), parse_utc(retention.expires_at))
    log.info("%s: tier %s (keep %s), expires %s%s", table, tier, keep.to_text(), retention.expires_at,
             f", Object Lock {lock_mode} until then" if lock_mode else "")
    return retention, lock_mode


def source_info(description: dict, options) -> dict:
    arn = description.get("TableArn", "")
    parts = arn.split(":")
    return {"table_name": description["TableName"], "table_arn": arn,
            "account": parts[4] if len(parts) > 5 else None,
            "region": parts[3] if len(parts) > 5 else None,
            "table_id": description.get("TableId"),
            "item_count_estimate": description.get("ItemCount"),
            "table_size_bytes_estimate": description.get("TableSizeBytes"),
            "role": options.table_principal.role_arn}
