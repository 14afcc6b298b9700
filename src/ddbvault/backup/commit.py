"""`backup commit`: the last step of a scan backup (docs/scale.md). Checks that every segment of
the plan has a result, makes sure each winner's objects are visible (completing what a winner
that died after winning left staged), counts the attempts, and writes the manifest last,
create-only. Without every segment's result there is no manifest: the backup stays incomplete.

Idempotent: a commit of a backup that has its manifest returns that backup's result (a retried
commit job, a `--resume` of a finished backup) without writing anything. The one figure of that
result the manifest does not hold, `raw_bytes`, is summed from the segments' stored results
(create-only, so the very ones the manifest was made from) when every segment's result is there
and is the winner the manifest names; otherwise it is None (unknown, null in --json), never a
guessed 0.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from .._version import __version__
from ..aws.retry import RetryPolicy, RetryStats
from ..aws.session import Principal
from ..errors import AccessDeniedError, IntegrityError, NotFoundError, UsageError
from ..format.codec import EXTENSIONS, IMPORT_COMPRESSION
from ..format.manifest import MANIFEST_MAX_BYTES, DataObject, Manifest
from ..format.plan import RESULT_MAX_BYTES, BackupPlan, SegmentResult, result_key
from ..format.retention import Retention
from ..vault.reader import read_manifest
from .result import BackupResult
from .segments import complete_objects, count_attempts, now_utc
from .work import OpenedPlan, open_plan

log = logging.getLogger(__name__)
_READERS = 16  # results read and objects completed at once
MISSING_SHOWN = 20


def commit_backup(url: str, *, vault_principal: Principal | None = None, retry: RetryPolicy | None = None,
                  stats: RetryStats | None = None, opened: OpenedPlan | None = None,
                  t0: float | None = None, work_counted: bool = False, completed: frozenset[int] = frozenset()):
    """Commit the planned backup at `url`; returns its backup.BackupResult (from the existing
    manifest when it has one already).

    AWS calls (S3): GetObject (plan.json, manifest.json, segments/*.json), HeadObject (attempts/),
    CompleteMultipartUpload (If-None-Match: *) and HeadObject for winners' objects
    left staged, PutObject of manifest.json (If-None-Match: *).
    Raises NotFoundError (3: no plan), IntegrityError (6: a segment without a result, named with
    `Try: ddbvault backup --resume URL`; a malformed result; an object that cannot be completed),
    UsageError (2: the manifest would be over MANIFEST_MAX_BYTES), AccessDeniedError, AwsError.
    `completed`: segments whose winner this process saw complete its objects (not done again)."""
    stats = stats or RetryStats()
    opened = opened or open_plan(url, vault_principal or Principal(), stats=stats, pool=_READERS + 4)
    plan, store, layout = opened.plan, opened.store, opened.layout
    manifest_url = opened.destination.url_of(layout.manifest_key)
    existing = _existing_manifest(opened, manifest_url)
    if existing is not None:
        log.info("%s is committed already (its manifest is there); nothing to do", plan.url)
        return result_of(plan, existing, manifest_url, stats, t0,
                         raw_bytes=raw_bytes_of(existing, read_results(opened), plan.segments))
    results = read_results(opened)
    missing = [s for s in range(plan.segments) if s not in results]
    if missing:
        shown = ", ".join(str(s) for s in missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise IntegrityError(f"{plan.url}: {len(missing)} of {plan.segments} segments have no result "
                             f"({shown}); no manifest written",
                             hint=f"ddbvault backup --resume {plan.url}")
    todo = [r for s, r in results.items() if s not in completed]
    with ThreadPoolExecutor(max_workers=_READERS, thread_name_prefix="ddbvault-commit") as pool:
        list(pool.map(lambda r: complete_objects(store, layout.root, r), todo))
        attempts = dict(zip(results, pool.map(lambda s: count_attempts(store, layout.root, s), results)))
    manifest = manifest_of(plan, results, attempts, stats, work_counted)
    body = manifest_bytes(manifest, plan.url)
    try:
        store.put_new(layout.manifest_key, body)
    except IntegrityError:  # another commit of this backup wrote it first: that one stands
        existing = _existing_manifest(opened, manifest_url)
        if existing is None:
            raise
        log.info("%s was committed by another process at the same time; its manifest stands", plan.url)
        return result_of(plan, existing, manifest_url, stats, t0,
                         raw_bytes=raw_bytes_of(existing, results, plan.segments))
    return result_of(plan, manifest, manifest_url, stats, t0,
                     raw_bytes=sum(r.raw_bytes for r in results.values()))


def raw_bytes_of(manifest: Manifest, results: dict[int, SegmentResult], segments: int) -> int | None:
    """The data-line bytes (before compression) of a committed backup: the sum of its segments'
    `raw_bytes`, when each of its `segments` has a result in `results` whose attempt_id is the
    one `manifest.segments` names as that segment's winner; else None (unknown: a result is
    missing, expired or unreadable, or the manifest has no segments record)."""
    winners = {int(record["segment"]): record["attempt_id"] for record in manifest.segments or []}
    if set(winners) != set(range(segments)):
        return None
    if any(s not in results or results[s].attempt_id != winner for s, winner in winners.items()):
        return None
    return sum(results[s].raw_bytes for s in winners)


def manifest_bytes(manifest: Manifest, url: str) -> bytes:
    """The manifest as stored; one over MANIFEST_MAX_BYTES is refused (UsageError), as every
    reader would refuse it (the backup stays incomplete: no manifest)."""
    body = manifest.to_json()
    if len(body) > MANIFEST_MAX_BYTES:
        raise UsageError(f"backup {url}: its manifest would be {len(body):,} bytes for "
                         f"{len(manifest.objects):,} data objects, over the {MANIFEST_MAX_BYTES:,} "
                         "bytes a manifest may hold, so it is not written",
                         hint="back up again with a larger --object-size: fewer, larger data objects")
    return body


def _existing_manifest(opened: OpenedPlan, where: str) -> Manifest | None:
    if not opened.store.seen(opened.layout.manifest_key):  # a 403 too, without s3:ListBucket
        return None
    try:
        return read_manifest(opened.store, opened.layout.manifest_key, where, opened.layout.backup_id)
    except NotFoundError as exc:
        if getattr(exc, "code", "") == "NoSuchBucket":
            raise
        return None


def read_results(opened: OpenedPlan) -> dict[int, SegmentResult]:
    """Every segment's result that exists, read and checked, by segment."""
    plan, store, root = opened.plan, opened.store, opened.layout.root
    extension = EXTENSIONS[plan.compression]

    def read(segment: int) -> SegmentResult | None:
        key = result_key(root, segment)
        try:  # one GetObject: a HeadObject first would send two requests per segment
            body = store.get(key, limit=RESULT_MAX_BYTES)
        except (NotFoundError, AccessDeniedError):
            # absent; S3 answers 403 for a missing key to a caller without s3:ListBucket (as
            # ObjectStore.seen reads it): commit then refuses, naming the segment
            return None
        return SegmentResult.from_json(body, opened.destination.url_of(key), backup_id=plan.backup_id,
                                       segment=segment, root=root, extension=extension)

    with ThreadPoolExecutor(max_workers=_READERS, thread_name_prefix="ddbvault-results") as pool:
        found = list(pool.map(read, range(plan.segments)))
    return {s: r for s, r in enumerate(found) if r is not None}


def missing_segments(url: str, *, vault_principal: Principal | None = None,
                     opened: OpenedPlan | None = None) -> list[int]:
    """The segments of the planned backup at `url` that have no result yet (HeadObject each)."""
    opened = opened or open_plan(url, vault_principal or Principal(), stats=RetryStats(), pool=_READERS + 4)
    root = opened.layout.root
    with ThreadPoolExecutor(max_workers=_READERS, thread_name_prefix="ddbvault-results") as pool:
        there = list(pool.map(lambda s: opened.store.seen(result_key(root, s)), range(opened.plan.segments)))
    return [s for s, found in enumerate(there) if not found]


def manifest_of(plan: BackupPlan, results: dict[int, SegmentResult], attempts: dict[int, int],
                stats: RetryStats, work_counted: bool = False) -> Manifest:
    """The manifest of a backup whose every segment has a result. Retries: `stats` (this
    process's), plus the winners' own unless the work ran in this process (`work_counted`: its
    retries are in `stats` already, losers' included)."""
    ordered = [results[s] for s in range(plan.segments)]
    objects = [DataObject(o.key, o.items, o.size, o.sha256) for r in ordered for o in r.objects]
    consumed = sum(r.consumed_rcu for r in ordered)
    span = _span_seconds(ordered)
    retention = None
    if plan.retention is not None:
        retention = Retention(plan.retention["tier"], plan.retention["expires_at"],
                              dict(plan.retention.get("policy") or {}))
    return Manifest(
        tool_version=__version__, backup_id=plan.backup_id, source=plan.source, schema=plan.schema,
        options={"segments": plan.segments, "parallelism": plan.parallelism,
                 "consistent_read": plan.consistent_read,
                 "read_rate_rcu_per_s": plan.read_rate_rcu_per_s,
                 "worker_read_rate_rcu_per_s": plan.worker_read_rate_rcu_per_s,
                 "read_rate_reason": plan.read_rate_reason, "compression": plan.compression,
                 "import_compression_type": IMPORT_COMPRESSION[plan.compression],
                 "object_size": plan.object_size, "acl": plan.acl, "sse": plan.sse,
                 "kms_key_id": plan.kms_key_id, "storage_class": plan.storage_class},
        started_at=plan.created_at, finished_at=now_utc(), objects=objects,
        consumed_capacity={"read_capacity_units": round(consumed, 3),
                           "estimated_from_bytes": any(r.estimated for r in ordered),
                           # the real aggregate: RCU over the span from the first winner's start
                           # to the last one's end (docs/scale.md)
                           "aggregate_rcu_per_s": round(consumed / span, 3) if span > 0 else None,
                           "scan_seconds": round(span, 3),
                           "throttle_retries": stats.throttles + (0 if work_counted else
                                                                  sum(r.throttle_retries for r in ordered)),
                           "transient_retries": stats.transient + (0 if work_counted else
                                                                   sum(r.transient_retries for r in ordered))},
        retention=retention,
        segments=[{"segment": r.segment, "items": r.items, "objects": len(r.objects),
                   "consumed_rcu": r.consumed_rcu, "seconds": r.seconds, "attempt_id": r.attempt_id,
                   "attempts": max(1, attempts.get(r.segment, 0))}
                  for r in ordered])


def _span_seconds(results: list[SegmentResult]) -> float:
    """From the first winner's start to the last one's end; 0 when a time does not parse."""
    try:
        start = min(_instant(r.started_at) for r in results)
        end = max(_instant(r.finished_at) for r in results)
    except ValueError:
        return 0.0
    return max(0.0, (end - start).total_seconds())


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("not UTC")
    return moment


def result_of(plan: BackupPlan, manifest: Manifest, manifest_url: str, stats: RetryStats, t0: float | None,
              raw_bytes: int | None = None):
    if t0 is not None:
        seconds = time.monotonic() - t0
    else:  # a commit on its own: the backup's duration, from its plan to its manifest (the same
        # for a retried commit of a committed backup, which changes nothing)
        try:
            seconds = (_instant(manifest.finished_at) - _instant(plan.created_at)).total_seconds()
        except ValueError:
            seconds = 0.0
    retention = manifest.retention
    return BackupResult(
        url=plan.url, backup_id=plan.backup_id, table=plan.table, items=manifest.totals["items"],
        bytes=manifest.totals["bytes"], objects=len(manifest.objects),
        consumed_rcu=float(manifest.consumed_capacity.get("read_capacity_units") or 0.0),
        seconds=round(max(0.0, seconds), 3), manifest=manifest_url,
        read_rate_rcu=plan.read_rate_rcu_per_s, segments=plan.segments,
        raw_bytes=raw_bytes,
        throttle_retries=int(manifest.consumed_capacity.get("throttle_retries") or 0),
        transient_retries=int(manifest.consumed_capacity.get("transient_retries") or 0),
        tier=retention.tier if retention else None, expires_at=retention.expires_at if retention else None,
        aggregate_rcu_per_s=manifest.consumed_capacity.get("aggregate_rcu_per_s"),
        parallelism=plan.parallelism)


__all__ = ["commit_backup", "manifest_of", "missing_segments", "raw_bytes_of", "read_results"]
