"""follow_table(): a table's DynamoDB stream into the change log in the vault (docs/continuous.md).

The change log's format is format/change_log/ (docs/format.md, "The change log"); the loop is
follow/follower.py; the vault is the checkpoint (follow/vault_state.py).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time

from ..aws.session import make_session
from ..dynamodb.stream_source import StreamInfo, StreamSource
from ..errors import UsageError
from ..format import change_log as cl
from ..format.dataline import KeySpec
from ..format.layout import parse_table_ref
from ..storage import WriteOptions, open_store, session_for
from ..storage.destination import parse_destination
from .follower import DAY_S, MARGIN_S, Follower, covered_from, enable_stream_hint
from .log_writer import LogWriter, StreamMeta
from .options import FollowOptions, FollowResult
from .vault_state import Carried, FollowMemory, StreamState, read_header, read_log_state, read_start, trusted_poll

__all__ = ["FollowMemory", "FollowOptions", "FollowResult", "follow_table"]
log = logging.getLogger(__name__)
FOLLOWED_VIEW_TYPES = cl.VIEW_TYPES  # NEW_IMAGE, NEW_AND_OLD_IMAGES: a replay needs the new image


def follow_table(options: FollowOptions, *, cancelled: threading.Event | None = None,
                 memory: FollowMemory | None = None) -> FollowResult:
    """Read options.table's stream into the change log under options.destination until stopped:
    options.until_idle, options.max_seconds, `cancelled`, or Ctrl-C/SIGTERM (KeyboardInterrupt).
    Whatever is buffered is written before returning or raising (a shorter segment is complete
    in itself). Returns a FollowResult.

    `memory` (a FollowMemory the caller keeps between calls; the service's follow jobs): a call
    that ends normally leaves its checkpoint there, and the next call for the same table and
    destination starts from it instead of listing the change log, when the stream is the same
    and the previous call ended less than 23 h before. Without it (or after a failed call, or
    a restart) the vault is listed, as always.

    AWS calls: STS AssumeRole (roles) and GetCallerIdentity; DynamoDB DescribeTable; DynamoDB
    Streams DescribeStream, GetShardIterator, GetRecords
    (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Operations_Amazon_DynamoDB_Streams.html);
    S3 HeadBucket, ListObjectsV2 of `<prefix>/<table>/changes/` once at start (none when
    `memory` carries the checkpoint), GetObject of a few segment headers, start.json and up to
    3 poll records, PutObject (If-None-Match: *) per segment and per closed.json / start.json /
    gap / poll record (a quiet stream: at most one per options.poll_record_interval_s).

    options.table is a name or a table ARN (format.layout.parse_table_ref): by ARN, DescribeTable
    names the table by it (another account's table, through its resource-based policy:
    docs/continuous-access.md), the table principal calls in the ARN's region, and the change
    log is kept under the table's name. The stream calls name the stream ARN either way.

    Raises: UsageError (2) for bad options (a malformed table or table ARN, a region that
    disagrees with the ARN's), a table without a stream or with a KEYS_ONLY /
    OLD_IMAGE stream (the message gives the fix); NotFoundError (3) for a missing table or
    bucket, or a stream disabled while followed (after a stream_disabled gap); AccessDeniedError
    (4); AwsError (5), RetriesExhaustedError (5); IntegrityError (6) for a foreign or damaged
    object under changes/; InterruptedRun (130) when interrupted, after writing the buffers.
    """
    options.validate()
    ref = parse_table_ref(options.table)
    principal = options.table_principal
    principal = dataclasses.replace(principal, region=ref.region_for(principal.region))
    destination = parse_destination(options.destination)
    cancelled = cancelled or threading.Event()
    t0 = time.monotonic()
    source = StreamSource(make_session(principal), ref.api_name, retry=options.retry, cancelled=cancelled)
    table = source.describe_table()
    stream_arn, view_type = _checked_stream(table, ref.name)
    info = source.describe_stream(stream_arn)
    label = cl.label_of_stream_arn(stream_arn)
    store = open_store(destination, session_for(destination, options.vault_principal),
                       WriteOptions(acl=options.acl, sse=options.sse, kms_key_id=options.kms_key_id),
                       stats=source.stats)
    store.check_writable()
    meta = StreamMeta(destination.prefix, ref.name, table.get("TableArn", source.arn), stream_arn, label,
                      view_type, KeySpec.of(table))
    writer = LogWriter(store, meta, options.clock)
    result = FollowResult(table=ref.name, stream_arn=stream_arn)
    follower = Follower(source, writer, options, result, cancelled)
    target = (ref.api_name, destination.url_of(cl.changes_prefix(destination.prefix, ref.name)))
    carried = memory.take(target) if memory is not None else None
    fresh = carried is not None and 0 <= options.clock() - carried.read_at <= DAY_S - MARGIN_S
    if fresh and carried.state.label == label:  # else: the vault's gaps rules (a new stream, a follower down)
        follower.stream_started = True
        follower.lost_reported = set(carried.lost_reported)
        follower.last_written, follower.poll = carried.last_written, carried.poll
        follower.load(info, carried.state)
    else:
        _open_stream(follower, info, read_log_state(store, destination.prefix, ref.name))
    log.info("following %s (stream %s, %d shards) into %s", ref, label, len(info.shards),
             destination.url_of(cl.stream_prefix(destination.prefix, ref.name, label)))
    try:
        follower.run()
    finally:
        result.seconds = round(time.monotonic() - t0, 3)
        result.throttle_retries, result.transient_retries = source.stats.throttles, source.stats.transient
    if memory is not None:  # only a run that ended normally: after a failure the next one lists
        memory.keep(Carried(target, follower.checkpoint(), options.clock(), frozenset(follower.lost_reported),
                            follower.last_written, follower.poll))
    return result


def _checked_stream(table: dict, name: str) -> tuple[str, str]:
    """(LatestStreamArn, StreamViewType) of a table whose stream holds new images; UsageError
    naming the fix otherwise."""
    spec = table.get("StreamSpecification") or {}
    arn = table.get("LatestStreamArn")
    if not spec.get("StreamEnabled") or not arn:
        raise UsageError(f"table {name} has no DynamoDB stream: the change log is read from it",
                         hint=enable_stream_hint(name))
    view = spec.get("StreamViewType")
    if view not in FOLLOWED_VIEW_TYPES:
        raise UsageError(f"the stream of table {name} is {view}: its records hold no new image, so they cannot "
                         "be replayed; NEW_IMAGE or NEW_AND_OLD_IMAGES is needed",
                         hint=f"aws dynamodb update-table --table-name {name} --stream-specification "
                              f"StreamEnabled=false, then {enable_stream_hint(name)}")
    try:
        cl.label_of_stream_arn(arn)
    except ValueError:
        raise UsageError(f"table {name}'s LatestStreamArn is not a stream ARN with a usable label",
                         hint="check the endpoint (AWS_ENDPOINT_URL*) answers like DynamoDB") from None
    return arn, view


def _open_stream(follower: Follower, info: StreamInfo, logs: dict[str, StreamState]) -> None:
    """Before reading: the gaps the vault shows (stream_replaced, follower_down), then start.json
    of a stream the vault does not have yet, then each shard's checkpoint."""
    writer, meta, clock = follower.writer, follower.meta, follower.options.clock
    now = clock()
    state = logs.get(meta.label)
    if state is not None and state.has_start:
        follower.stream_started = True
        _follower_down(follower, state, now)
    else:
        start = covered_from(info.created_s, now)
        _stream_replaced(follower, logs, start)
        writer.start(start)
        follower.last_written = now
    follower.load(info, state)


def _stream_replaced(follower: Follower, logs: dict[str, StreamState], start: int) -> None:
    """The vault's newest other stream of this table ended where the new one starts: a gap
    from its newest record time (None: unknown) to `start`."""
    earlier = sorted(label for label, state in logs.items() if state.has_start and label < follower.meta.label)
    if not earlier:
        return
    old = logs[earlier[-1]]
    store, meta = follower.writer.store, follower.meta
    newest = old.newest_segment()
    since = read_header(store, newest).last_time if newest else read_start(store, meta.prefix, meta.table,
                                                                           old.label).covered_from
    old_arn = meta.stream_arn.rpartition("/stream/")[0] + "/stream/" + old.label
    follower.result.gaps.append(follower.writer.gap("stream_replaced", since, start, None, stream_arn=old_arn))


def _follower_down(follower: Follower, state: StreamState, now: float) -> None:
    """The vault's newest object of this stream (start.json, a segment's written_at, a trusted
    poll record's polled_at) is over 24 h old: records may have been trimmed since. A gap from
    the newest time known covered to 23 h before now."""
    store, meta = follower.writer.store, follower.meta
    start = read_start(store, meta.prefix, meta.table, meta.label)
    newest_key = state.newest_segment()
    header = read_header(store, newest_key) if newest_key else None
    poll = follower.poll = trusted_poll(store, meta, state)
    last_seen = max(start.written_at, header.written_at if header else 0, poll.polled_at if poll else 0)
    follower.last_written = max(last_seen, poll.written_at if poll else 0)
    if now - last_seen <= DAY_S:
        return
    since = max(header.last_time if header else start.covered_from, poll.polled_at if poll else 0)
    until = max(since, math.floor(now - DAY_S + MARGIN_S))
    follower.down_gap_until = until
    follower.result.gaps.append(follower.writer.gap("follower_down", since, until, None))

