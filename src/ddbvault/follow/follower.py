"""The follow loop: a table's stream, shard by shard, into the change log (docs/continuous.md).

One thread. Each round calls GetRecords once on every readable shard, buffers the records, and
writes a shard's buffer as a segment when it holds segment_max_records records, SEGMENT_FLUSH_BYTES
bytes, or is segment_max_seconds old, when the shard ends, and when the run stops. All buffers
together hold at most BUFFER_BYTES: past that, the largest is written first.

Lineage: a shard is read only once its parent is read to its end (its closed.json is in the
vault, or this run wrote it) or the parent is no longer listed by DescribeStream. A shard that
the vault has closed is never read again.

Where a shard starts (the vault is the checkpoint, follow/vault_state.py): AFTER_SEQUENCE_NUMBER
of the largest last sequence of its segments, else TRIM_HORIZON. Breaks (each becomes a gap
object before any segment after it, format/change_log/):
- TrimmedDataAccessException: the records after the checkpoint are gone; carry on from
  TRIM_HORIZON. Reason `trimmed`, unless the follower_down gap of this run covers it.
- the vault's newest object of this stream is older than 24 h at start: `follower_down`, from
  the newest record time known to 23 h before now (records younger than 24 h are never trimmed).
- the vault's last stream label differs from the table's: `stream_replaced`, from the old
  stream's newest record time to the new stream's covered_from.
- the stream is DISABLED (after reading every shard to its end), or gone (ResourceNotFound):
  `stream_disabled`, and the run stops with NotFoundError.
- a shard whose parent is gone before the vault closed it: `shard_lost` for the parent.
ExpiredIteratorException: a fresh iterator AFTER the last sequence read (no gap).

Quiet tables (docs/continuous.md, "Quiet tables"): a round in which every readable shard answered
no records, at the end of IDLE_ROUNDS such rounds, writes a poll record when the stream's newest
object in the vault is poll_record_interval_s old: every buffer first, then
`polled_at` = that round's start (wall clock) minus POLL_MARGIN_S, with each shard's last stored
sequence. A trimmed checkpoint that the newest trusted poll record names as its shard's end, with
polled_at less than 23 h ago, lost nothing: TRIM_HORIZON, no gap.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field

from ..aws.error_translation import malformed_response
from ..errors import InterruptedRun, NotFoundError
from ..dynamodb.stream_source import Shard, StreamBreak, StreamInfo, StreamSource
from ..format import change_log as cl
from ..format.dataline import BadLine
from ..plural import counted
from .log_writer import LogWriter
from .options import FollowOptions, FollowResult
from .vault_state import ShardCheckpoint, StreamState, read_header

log = logging.getLogger(__name__)
DAY_S = 86_400
MARGIN_S = 3_600  # records younger than 24 h are never trimmed; 1 h less, for clocks and latency
SEGMENT_FLUSH_BYTES = 48 * 1024 * 1024  # + one GetRecords page (<= 1 MB) stays under 64 MiB
BUFFER_BYTES = 64 * 1024 * 1024  # all shards' buffers together
IDLE_ROUNDS = 2  # until_idle: empty answers in a row from every readable shard
# A record becomes readable in its shard shortly after its write; one written this long before a
# round began is taken to be visible to that round (a poll record's polled_at margin).
POLL_MARGIN_S = 5
# DynamoDB Streams allows 5 GetRecords calls a second per shard (developer guide, "DynamoDB
# Streams" quotas); rounds that found records are spaced at least this far apart: 4 a second.
MIN_ROUND_S = 0.25


@dataclass
class ShardLog:
    """One shard as this run reads it."""

    shard_id: str
    parent: str | None
    checkpoint: str | None = None  # last sequence stored in the vault (AFTER_SEQUENCE_NUMBER)
    continues_from: str | None = None  # last sequence of the previous segment of this shard
    last_read: str | None = None  # last sequence read (buffered or stored)
    last_time: int | None = None  # time of the last record read or stored
    iterator: str | None = None
    done: bool = False  # read to its end: closed.json is in the vault
    buffer: list[bytes] = field(default_factory=list)
    buffer_bytes: int = 0
    buffered_since: float | None = None  # monotonic
    empty: int = 0  # GetRecords answers in a row without records


class Follower:
    def __init__(self, source: StreamSource, writer: LogWriter, options: FollowOptions, result: FollowResult,
                 cancelled: threading.Event):
        self.source, self.writer, self.options, self.result = source, writer, options, result
        self.cancelled = cancelled
        self.meta = writer.meta
        self.shards: dict[str, ShardLog] = {}
        self.listed: set[str] = set()
        self.down_gap_until: int | None = None  # the follower_down gap written at start covers up to here
        self.stream_started: bool = False  # start.json was in the vault before this run
        self.vault_closed: set[str] = set()  # shards the vault had closed before this run
        self.lost_reported: set[str] = set()
        self.read_shards: set[str] = set()  # shards GetRecords answered in this run
        self.closed_now: set[str] = set()  # shards whose closed.json this run wrote or found
        self.last_written: float | None = None  # newest written_at of this stream's objects known (epoch s)
        self.poll: cl.PollRecord | None = None  # the newest poll record written or trusted

    # ---- setup -------------------------------------------------------------------------------

    def load(self, info: StreamInfo, state: StreamState | None) -> None:
        """The shards DescribeStream lists, with the vault's checkpoints."""
        if state is not None:
            self.vault_closed = {shard_id for shard_id, saved in state.shards.items() if saved.closed}
        self._add_shards(info.shards, state)

    def _add_shards(self, shards: tuple[Shard, ...], state: StreamState | None) -> None:
        self.listed = {s.shard_id for s in shards}
        for shard in shards:
            if shard.shard_id in self.shards:
                continue
            entry = ShardLog(shard.shard_id, shard.parent_shard_id)
            saved = state.shards.get(shard.shard_id) if state else None
            if saved is not None:
                entry.done = saved.closed
                if saved.last_seq is not None:
                    entry.checkpoint = entry.continues_from = entry.last_read = str(saved.last_seq)
            self.shards[shard.shard_id] = entry

    def checkpoint(self) -> StreamState:
        """The stream's checkpoint as this run leaves it (every buffer written): per shard listed
        by the last DescribeStream, and per parent of one, the last sequence stored and whether
        its closed.json exists. What the next pass of a service job starts from (FollowMemory)."""
        keep = self.listed | {e.parent for e in self.shards.values() if e.shard_id in self.listed and e.parent}
        closed = self.vault_closed | self.closed_now
        state = StreamState(self.meta.label, has_start=True)
        for shard_id in sorted(keep):
            entry = self.shards.get(shard_id)
            if entry is not None or shard_id in closed:
                last = int(entry.checkpoint) if entry is not None and entry.checkpoint else None
                state.shards[shard_id] = ShardCheckpoint(last, None, shard_id in closed)
        return state

    # ---- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        t0 = time.monotonic()
        described = t0
        try:
            while not self.cancelled.is_set():
                began, began_wall = time.monotonic(), self.options.clock()
                got = self._round()
                now = time.monotonic()
                self._flush_due(now)
                if not got and self._idle():
                    self._maybe_poll(began_wall)
                if self.options.max_seconds is not None and now - t0 >= self.options.max_seconds:
                    break
                if now - described >= self.options.describe_interval_s:
                    described = now
                    if not self._redescribe():
                        break
                if self.options.until_idle and self._idle():
                    break
                self.cancelled.wait(max(0.0, MIN_ROUND_S - (now - began)) if got else self.options.poll_interval_s)
        except KeyboardInterrupt:
            self._flush_all()
            raise InterruptedRun(f"follow {self.meta.table} interrupted: "
                                 f"{counted(self.result.records, 'record', ',')} in "
                                 f"{counted(self.result.segments, 'segment')} stored; buffered records were written",
                                 hint="run `ddbvault follow` again: it continues after the last stored sequence")
        except BaseException:
            self._flush_after_failure()
            raise
        self._flush_all()

    def _readable(self) -> list[ShardLog]:
        ready = []
        for entry in self.shards.values():
            if entry.done:
                continue
            parent = self.shards.get(entry.parent) if entry.parent else None
            if entry.parent and entry.parent in self.listed and parent is not None and not parent.done:
                continue
            ready.append(entry)
        return ready

    def _idle(self) -> bool:
        ready = self._readable()
        return all(entry.empty >= IDLE_ROUNDS for entry in ready)

    def _round(self) -> bool:
        """GetRecords once on every readable shard; True when any answered records."""
        got = False
        for entry in self._readable():
            if self.cancelled.is_set():
                break
            got |= self._read(entry)
        return got

    def _read(self, entry: ShardLog) -> bool:
        if entry.parent and entry.parent not in self.listed and entry.checkpoint is None and not entry.buffer:
            self._parent_lost(entry)
        try:
            if entry.iterator is None:
                entry.iterator = self.source.iterator(self.meta.stream_arn, entry.shard_id, entry.last_read)
            page = self.source.records(entry.iterator, entry.shard_id)
        except StreamBreak as exc:
            return self._broken(entry, exc)
        self.result.get_records_calls += 1
        self.read_shards.add(entry.shard_id)
        self.result.shards = len(self.read_shards)
        entry.iterator = page.next_iterator
        if page.lines:
            self._buffer(entry, page.lines)
        entry.empty = 0 if page.lines else entry.empty + 1
        if page.next_iterator is None:
            self._close(entry)
        return bool(page.lines)

    def _buffer(self, entry: ShardLog, lines: list[bytes]) -> None:
        if entry.buffered_since is None:
            entry.buffered_since = time.monotonic()
        try:
            last = cl.parse_record(lines[-1], entry.shard_id)  # each record is checked when written
        except BadLine as exc:
            raise malformed_response(action="GetRecords", resource=f"{self.meta.stream_arn} shard {entry.shard_id}",
                                     reason=f"a stream record: {exc}") from None
        entry.buffer.extend(lines)
        entry.buffer_bytes += sum(map(len, lines)) + len(lines)
        entry.last_read, entry.last_time = str(last.sequence), last.time_s
        while len(entry.buffer) >= self.options.segment_max_records or entry.buffer_bytes >= SEGMENT_FLUSH_BYTES:
            self._write(entry)
        while sum(e.buffer_bytes for e in self.shards.values()) > BUFFER_BYTES:
            self._write(max(self.shards.values(), key=lambda e: e.buffer_bytes))

    # ---- writing -----------------------------------------------------------------------------

    def _maybe_poll(self, began_wall: float) -> None:
        """Every readable shard is at its end: a poll record, when the stream's newest object is
        poll_record_interval_s old (buffers are written first: the record claims they are stored)."""
        now = self.options.clock()
        if self.last_written is not None and now - self.last_written < self.options.poll_record_interval_s:
            return
        ready = self._readable()
        if not ready or len(ready) > cl.MAX_POLL_SHARDS:
            return  # nothing to vouch for, or more open shards than one poll record names
        self._flush_all()
        polled_at = max(0, math.floor(began_wall) - POLL_MARGIN_S)
        self.poll = self.writer.poll(polled_at, {e.shard_id: e.checkpoint for e in ready})
        self.last_written = self.poll.written_at
        self.result.polls += 1

    def _write(self, entry: ShardLog) -> None:
        """Store the first segment_max_records buffered records (at most SEGMENT_FLUSH_BYTES of them)."""
        if not entry.buffer:
            return
        take, size = 0, 0
        for line in entry.buffer[:self.options.segment_max_records]:
            if take and size + len(line) + 1 > SEGMENT_FLUSH_BYTES:
                break
            take, size = take + 1, size + len(line) + 1
        lines = entry.buffer[:take]
        header, stored = self.writer.segment(entry.shard_id, entry.parent, entry.continues_from, lines)
        del entry.buffer[:take]
        entry.buffer_bytes -= size
        entry.buffered_since = time.monotonic() if entry.buffer else None
        entry.continues_from = entry.checkpoint = header.last_sequence
        self.result.records += header.count
        if stored:
            self.result.segments += 1
        self.last_written = max(self.last_written or 0, header.written_at)
        self.result.lag_s = round(max(0.0, self.options.clock() - header.last_time), 3)

    def _flush_due(self, now: float) -> None:
        for entry in self.shards.values():
            if entry.buffered_since is not None and now - entry.buffered_since >= self.options.segment_max_seconds:
                while entry.buffer:
                    self._write(entry)

    def _flush_all(self) -> None:
        for entry in self.shards.values():
            while entry.buffer:
                self._write(entry)

    def _flush_after_failure(self) -> None:
        """Store what is buffered on the way out of a failed run; a failure to do so is logged,
        and the run's own error is the one raised (the next run reads those records again)."""
        try:
            self._flush_all()
        except Exception as exc:  # noqa: BLE001 - the first failure is the one to report
            log.warning("%s: buffered records not written (%s); the next run reads them again",
                        self.meta.table, type(exc).__name__)

    def _close(self, entry: ShardLog) -> None:
        """The shard ended (a null NextShardIterator): its records, then closed.json."""
        while entry.buffer:
            self._write(entry)
        if self.writer.closed(entry.shard_id, entry.last_read):
            self.result.closed_shards += 1
        self.closed_now.add(entry.shard_id)
        entry.done = True
        log.info("%s: shard %s read to its end", self.meta.table, entry.shard_id)
        self._redescribe()  # its children may be listed now

    # ---- breaks ------------------------------------------------------------------------------

    def _broken(self, entry: ShardLog, exc: StreamBreak) -> bool:
        if exc.code == "ExpiredIteratorException":
            self.result.iterator_renewals += 1
            entry.iterator = None  # the next read asks AFTER entry.last_read
            return False
        if exc.code == "TrimmedDataAccessException":
            self._trimmed(entry)
            return False
        self._redescribe()  # ResourceNotFoundException: the stream or the shard is gone
        if not self.cancelled.is_set() and entry.shard_id in self.listed:
            raise exc
        entry.done = True  # a shard no longer listed: nothing more to read there
        return False

    def _trimmed(self, entry: ShardLog) -> None:
        """The records after entry.last_read are gone: a gap (unless follower_down covers it),
        then TRIM_HORIZON. Buffered records are stored first: they precede the gap."""
        while entry.buffer:
            self._write(entry)
        if self._poll_covers(entry):
            log.info("%s: shard %s trimmed past its checkpoint, which the poll record of %s names as its end: "
                     "nothing lost", self.meta.table, entry.shard_id, cl.utc_text(self.poll.polled_at))
            entry.iterator, entry.last_read = None, None  # TRIM_HORIZON; the chain continues from the checkpoint
            return
        since = entry.last_time if entry.last_time is not None else self._checkpoint_time(entry)
        if self.down_gap_until is None or since is None or since > self.down_gap_until:
            self.result.gaps.append(self.writer.gap("trimmed", since, int(self.options.clock()), entry.shard_id))
        entry.iterator, entry.last_read, entry.continues_from, entry.checkpoint = None, None, None, None

    def _poll_covers(self, entry: ShardLog) -> bool:
        """True when the newest poll record says the shard ended at entry's checkpoint, was
        polled less than 23 h ago, and the checkpoint's record is over 24 h old: retention
        trimmed it, and whatever came after polled_at is not trimmed yet, so the trimmed
        records are all at or before the checkpoint, stored. Lists the shard's segments once."""
        poll = self.poll
        if poll is None or entry.shard_id not in poll.shards or entry.last_read not in (None, entry.checkpoint):
            return False
        position, checkpoint = poll.shards[entry.shard_id], entry.checkpoint
        same = (position is None and checkpoint is None) or (
            position is not None and checkpoint is not None and int(position) == int(checkpoint))
        now = self.options.clock()
        if not same or now - poll.polled_at > DAY_S - MARGIN_S:
            return False
        # Only retention (24 h) trims in DynamoDB Streams: the checkpoint's record must be that old,
        # else something else trimmed it, and then what followed it may be gone too.
        stamped = self._checkpoint_time(entry) if checkpoint is not None else None
        return checkpoint is None or (stamped is not None and now - stamped > DAY_S)

    def _checkpoint_time(self, entry: ShardLog) -> int | None:
        if entry.checkpoint is None:
            return None
        base = cl.changes_prefix(self.meta.prefix, self.meta.table)
        for candidate in self.writer.store.list_keys(cl.shard_prefix(self.meta.prefix, self.meta.table,
                                                                     self.meta.label, entry.shard_id)):
            parsed = cl.parse_log_key(candidate[len(base):])
            if parsed.kind == "segment" and parsed.last_seq == int(entry.checkpoint):
                return read_header(self.writer.store, candidate).last_time
        return None

    def _parent_lost(self, entry: ShardLog) -> None:
        """A shard whose parent is gone, unread to its end by the vault, while this stream was
        covered before this run: the parent's last records may be lost."""
        parent_id = entry.parent
        if (not self.stream_started or self.down_gap_until is not None or parent_id in self.vault_closed
                or parent_id in self.lost_reported):
            return  # a new stream, a gap that covers it already, or a parent read to its end
        self.lost_reported.add(parent_id)
        parent = self.shards.get(parent_id)
        if parent is not None and parent.done:
            return
        since = parent.last_time if parent is not None else None
        self.result.gaps.append(self.writer.gap("shard_lost", since, int(self.options.clock()), parent_id))

    def _redescribe(self) -> bool:
        """DescribeStream again: new shards join; a DISABLED stream whose shards are all read
        ends the run with a stream_disabled gap. False: stop."""
        info = self.source.describe_stream(self.meta.stream_arn)
        self._add_shards(info.shards, None)
        if info.status in ("DISABLED", "DISABLING") and all(e.done for e in self.shards.values()):
            self._stream_disabled()
            return False
        return True

    def _stream_disabled(self) -> None:
        self._flush_all()
        times = [e.last_time for e in self.shards.values() if e.last_time is not None]
        now = int(self.options.clock())
        self.result.gaps.append(self.writer.gap("stream_disabled", max(times) if times else None, now, None))
        raise NotFoundError(f"the stream of {self.meta.table} ({self.meta.stream_arn}) is disabled; every record "
                            "it held is in the change log, and changes from now on are not",
                            hint=enable_stream_hint(self.meta.table))


def enable_stream_hint(table: str) -> str:
    return (f"aws dynamodb update-table --table-name {table} --stream-specification "
            "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES")


def covered_from(created_s: float | None, now_s: float) -> int:
    """start.json's covered_from: the stream's creation when it is less than 24 h old (nothing
    trimmed yet), else 23 h before now."""
    if created_s is not None and now_s - created_s <= DAY_S:
        return math.floor(created_s)
    return math.floor(now_s - DAY_S + MARGIN_S)
