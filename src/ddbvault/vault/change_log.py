"""A table's change log in the vault, read (change log format 1.0, docs/format.md): what it holds,
which times it makes restorable, and the newest change of each key up to a time T.

    <prefix>/<table>/changes/<label>/start.json                      coverage start of a stream
    <prefix>/<table>/changes/<label>/<shard>/<first>-<last>.jsonl.gz a segment
    <prefix>/<table>/changes/<label>/<shard>/closed.json             shard fully read
    <prefix>/<table>/changes/gaps/<stamp>-<hex6>.json                a gap

Contract:
- `read_change_log()` lists `<prefix>/<table>/changes/` once, at most `max_keys` keys (more is an
  IntegrityError: the listing is bounded), and reads every start.json and gap object (each at
  most SMALL_OBJECT_MAX bytes, at most MAX_GAPS gaps). Segments are known by their keys alone
  (stream, shard, sequence range); a key that is no log key (format/change_log.parse_log_key
  refuses it: a `..` part, a bad shard id) is never read, only named in `ignored` and logged.
- Overlapping segments (two followers, a restarted one) are de-duplicated by (stream, shard,
  sequence): per shard, segments in order of first sequence (the longest first), a segment wholly
  inside what the earlier ones cover is never read, and a record at or below the sequence already
  covered is skipped. Where two segments read in one pass both hold a sequence, they must agree on
  its change (time, event, Keys, NewImage): a disagreement is an IntegrityError, never a silent
  pick. What is not read (a contained segment) is not compared; the earlier segment wins there.
- Times are whole seconds since the epoch (ints). A record's time is its
  ApproximateCreationDateTime floored to the second; "at or before T" means time <= T, so a
  restore to T holds every change stamped within second T.
- Segments are read only where needed: within a shard, sequence order is time order, so the first
  and last segment that can hold records in [since, until] are found by bisecting on segment
  headers (the first line only, read by streaming: fmt.MAX_HEADER_LINE bytes at most), and only the
  segments between, plus the one on each side whose header the bisection trusted, are read
  whole, each checked by format/change_log.parse_segment (header, count, order, range, sha256,
  times) and against its key and this table.
- Restorable (`window`, computed by vault/restorable.py): T is restorable from a base backup B (start s, end e: a scan's
  started_at..finished_at, an export's export_time for both) when e <= T, s >= the earliest
  covered_from of the table's streams, no gap's open interval (from, to) meets [s, T], and
  T <= `known_until`: the later of (a) the furthest any stream's log is proven complete by its
  segments: the OLDEST written_at among the last segments of its open shards (the newest of all
  when every shard is closed), since the follower cuts each shard's segments on its own; and (b)
  the newest trusted poll record's polled_at (`polled_until`: at most POLLS_READ poll records
  read per stream, newest first; a poll record is trusted only where the vault's segments reach
  every shard position it names: at polled_at every shard was at its end with its records
  stored). Never later than this machine's clock (a written_at in the future is a lie or a
  skewed clock). A quiet table's window thus reaches its last poll, not its last write.
  `base_for` also proves every shard's chain of segments over [base start - 1 s, T]
  (vault/chain.py): a hole is a gap of reason "missing" (kept in `missing`, never written),
  refused like any gap. `window`/`summary` (for `list`) show only the holes already found: they
  do not walk the chains.
- Writes nothing. Raises IntegrityError (exit 6) naming the object for anything hostile, never
  quoting an item value.

AWS calls (S3 only): ListObjectsV2 under the table's changes/ prefix; GetObject of each
start.json and gap; GetObject of segment headers (a streamed read stopped after the first line)
and of the segments in range.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Iterator

import orjson

from ..errors import IntegrityError
from ..format import change_log as fmt
from ..format.dataline import BadLine, KeySpec, key_fingerprint
from ..format.layout import join
from ..storage.base import ObjectStore, TooLargeError
from .chain import bisect_first as _bisect, deduplicated as _deduplicated, holes, known_holes
from .restorable import Base, Coverage, Gap, bases_of, seconds_of, utc_text  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

CHANGES = "changes"
MAX_KEYS = fmt.MAX_LOG_KEYS  # keys listed under one table's changes/: about 2 years of a segment a minute
MAX_GAPS = 10_000
POLLS_READ = 3  # poll records read per stream: the newest by key (= polled_at) order
POLL_SKEW_S = 600  # a poll record written later than this past the reader's clock is refused
SMALL_OBJECT_MAX = fmt.MAX_SMALL_OBJECT  # start.json, closed.json, a gap
SEGMENT_MAX_RECORDS = fmt.MAX_SEGMENT_RECORDS
SEGMENT_MAX_BYTES = fmt.MAX_SEGMENT_BYTES
UNTRUSTED = "this change log cannot be trusted there; restore to a time before it, or from a copy of the vault"


@dataclass(frozen=True)
class SegmentRef:
    """A segment as its key names it (format/change_log.parse_log_key): no object read."""

    key: str
    label: str
    shard_id: str
    first_seq: int
    last_seq: int


@dataclass
class Shard:
    segments: list[SegmentRef] = field(default_factory=list)  # sorted by (first_seq, -last_seq)
    closed_key: str | None = None  # its closed.json, when listed

    @property
    def closed(self) -> bool:
        return self.closed_key is not None
    parent: str | None | bool = False  # False: not read yet


@dataclass
class Stream:
    label: str
    covered_from: int | None = None  # None: no start.json (its segments cover nothing proven)
    written_at: int | None = None  # start.json's
    stream_arn: str | None = None
    shards: dict[str, Shard] = field(default_factory=dict)
    polls: list[str] = field(default_factory=list)  # the newest POLLS_READ poll record keys, ascending


@dataclass(frozen=True)
class Record:
    """One change as replay needs it: where it sits in the log (stream, shard, sequence) and the
    change (format/changes.Change: keys, new image or None, time)."""

    label: str
    shard_id: str
    sequence: int
    time_s: int
    event_name: str
    change: object
    raw: bytes = b""


class ChangeLog:
    """What `read_change_log()` found. Segment headers and parents are read lazily and cached."""

    clock: Callable[[], float] = staticmethod(time.time)  # "now" for known_until (tests of hand-built logs move it)

    def __init__(self, store: ObjectStore, root: str, table: str):
        self.store, self.root, self.table = store, root, table
        self.streams: dict[str, Stream] = {}
        self.gaps: list[Gap] = []
        self.missing: list[Gap] = []  # holes in the segments' chains found so far (vault/chain.py), never written
        self.closed_records: dict[str, object] = {}  # closed.json by key, read by vault/chain.py
        self.ignored: list[str] = []
        self._headers: dict[str, object] = {}
        self.spec: KeySpec | None = None  # the table's key, when known: every record's Keys checked against it
        self.reads = 0  # segments read whole
        self.header_reads = 0  # segments read up to their first line (the bisection)

    # ---- what the listing shows -------------------------------------------------------------
    @property
    def empty(self) -> bool:
        return not self.streams and not self.gaps

    @property
    def segment_count(self) -> int:
        return sum(len(shard.segments) for s in self.streams.values() for shard in s.shards.values())

    def covered_from(self) -> int | None:
        starts = [s.covered_from for s in self.streams.values() if s.covered_from is not None]
        return min(starts) if starts else None

    def known_until(self, now: float | None = None) -> int | None:
        """The furthest any stream's log is proven complete (_stream_end: the oldest written_at
        among the last segments of its open shards) or the newest trusted poll record's polled_at
        (polled_until), whichever is later, never later than `now` (default: this
        machine's clock; a written_at in the future is a lie or a skewed clock, and would make
        future times "restorable"). None: no segment."""
        ends = [end for end in map(self._stream_end, self.streams.values()) if end is not None]
        polled = self.polled_until()
        if polled is not None:
            ends.append(polled)
        if not ends:
            return None
        return min(max(ends), math.floor(self.clock() if now is None else now))

    def _stream_end(self, stream: Stream) -> int | None:
        """How far `stream`'s log is proven complete: the OLDEST written_at among the last
        segments of its open shards, or, once every shard is closed (read to its end), the
        newest among all. None: the stream has no segment.

        The oldest, not the newest: the follower cuts each shard's segments on its own, so a
        segment written at W in one shard says nothing of another shard's records before W (a
        follower that stopped with them buffered wrote them nowhere). A shard that gets no
        records writes no segment, so a quiet open shard holds the end back: refusing, not
        restoring a table that may lack changes."""
        shards = [s for s in stream.shards.values() if s.segments]
        if not shards:
            return None
        open_shards = [s for s in shards if not s.closed]
        pick = min if open_shards else max
        return pick(self.header(max(shard.segments, key=lambda ref: (ref.last_seq, ref.first_seq))).written_at
                    for shard in open_shards or shards)  # the segment that reaches furthest into each shard

    def polled_until(self) -> int | None:
        """The newest polled_at among the streams' trusted poll records; None: none."""
        if not hasattr(self, "_polled"):
            found = [p.polled_at for s in self.streams.values() if (p := _trusted_poll(self, s)) is not None]
            self._polled = max(found) if found else None
        return self._polled

    def implied_gaps(self) -> list[Gap]:
        """Gaps no object states but the streams imply: when a stream's log starts
        (covered_from) after every earlier stream's log is known to end (the newest written_at
        of its last segments, or its start.json's when it has none), the time between is
        covered by no stream. The follower writes a `stream_replaced` gap there; if that object
        is lost or was never written, this one keeps a restore from crossing the hole."""
        implied, reach = [], None
        for stream in sorted((s for s in self.streams.values() if s.covered_from is not None),
                             key=lambda s: (s.covered_from, s.label)):
            if reach is not None and stream.covered_from > reach:
                implied.append(Gap(reach, stream.covered_from, "stream_replaced",
                                   f"{self.root}/{stream.label} (implied: no stream's log covers this time)"))
            end = self._stream_end(stream)
            end = stream.written_at if end is None else end
            reach = end if reach is None else max(reach, end)
        return implied

    def coverage(self) -> Coverage:
        """What the log covers (vault/restorable.py): reads the newest segments' headers. Its
        gaps are the gap objects, the holes in the chain found so far (`missing`) and
        implied_gaps()."""
        return Coverage(self.table, self.covered_from(), self.known_until(),
                        [*self.gaps, *self.missing, *self.implied_gaps()])

    def window(self, bases: list[Base]) -> list[tuple[int, int]]:
        """The restorable times from `bases`: sorted, merged intervals [from, to], whole seconds."""
        return self.coverage().window(bases)

    def base_for(self, at: int, bases: list[Base]) -> Base:
        """The newest base from which `at` is restorable, with the chain of every shard proven
        whole over [base start - 1 s, at] (vault/chain.py): a hole there is added to `missing`
        as a gap and the next base is tried. Raises what Coverage.base_for raises (a hole is
        refused like any gap, named with its shard)."""
        for _ in range(len(bases) + 1):  # each round rules out the base it tried, or returns
            base = self.coverage().base_for(at, bases)
            found = [gap for gap in holes(self, base.start - 1, at) if gap not in self.missing]
            self.missing += found
            if not any(gap.blocks(base.start, at) for gap in found):
                return base
        return self.coverage().base_for(at, bases)

    def header(self, ref: SegmentRef):
        """The header of segment `ref` (cached): its first line only (format/change_log.read_header,
        at most MAX_HEADER_LINE bytes inflated), checked against the key and this table."""
        cached = self._headers.get(ref.key)
        if cached is None:
            self.header_reads += 1
            try:
                with self.store.open_reader(ref.key) as reader:
                    header = fmt.read_header(reader)
            except (BadLine, ValueError) as exc:
                raise IntegrityError(f"segment {self.store.url_of(ref.key)}: {exc}", hint=UNTRUSTED) from None
            cached = self._headers[ref.key] = self._checked(ref, header)
        return cached

    def cached_header(self, ref: SegmentRef):
        """The header of `ref` if already read, else None (no read)."""
        return self._headers.get(ref.key)

    def _checked(self, ref: SegmentRef, header):
        """`header` of the segment at `ref`, proven to be this table's and to match its key."""
        where = self.store.url_of(ref.key)
        if header.table != self.table:
            raise IntegrityError(f"segment {where}: its header names another table than {self.table}",
                                 hint=UNTRUSTED)
        if header.label != ref.label or header.shard_id != ref.shard_id:
            raise IntegrityError(f"segment {where}: its header names another stream or shard than its key",
                                 hint=UNTRUSTED)
        if (header.first_int, header.last_int) != (ref.first_seq, ref.last_seq):
            raise IntegrityError(f"segment {where}: its header's sequence range differs from its key",
                                 hint=UNTRUSTED)
        shard = self.streams[ref.label].shards[ref.shard_id]
        if shard.parent is False:  # the first header read of the shard sets its parent ...
            shard.parent = header.parent_shard_id
        elif shard.parent != header.parent_shard_id:  # ... and every other one must agree
            raise IntegrityError(f"segment {where}: its header names another parent shard than the shard's "
                                 "other segments", hint=UNTRUSTED)
        return header

    def read_segment(self, ref) -> list:
        """Every record of segment `ref`, checked (format/change_log.parse_segment, then
        against its key and this table)."""
        where = self.store.url_of(ref.key)
        self.reads += 1
        try:
            data = self.store.get(ref.key, limit=SEGMENT_MAX_BYTES)
        except TooLargeError:
            raise IntegrityError(f"segment {where} is over {SEGMENT_MAX_BYTES:,} bytes stored", hint=UNTRUSTED) from None
        try:
            header, records = fmt.parse_segment(data, max_records=SEGMENT_MAX_RECORDS, max_bytes=SEGMENT_MAX_BYTES,
                                                key=self.spec)
        except (BadLine, ValueError) as exc:
            raise IntegrityError(f"segment {where}: {exc}", hint=UNTRUSTED) from None
        self._headers[ref.key] = self._checked(ref, header)
        return records

    def parents(self, label: str) -> "_Parents":
        """Shard -> parent shard of stream `label`, read lazily from each shard's first segment
        header (an empty shard's parent is not in the vault: None)."""
        return _Parents(self, self.streams[label])

    def newer(self, a: Record, b: Record) -> bool:
        """True when record `a` is newer than `b` (same key): a later stream (labels are creation
        times, ISO 8601), then shard lineage, then the larger sequence number
        (format/change_log.is_newer)."""
        if a.label != b.label:
            return a.label > b.label
        try:
            return fmt.is_newer(a, b, self.parents(a.label))
        except BadLine as exc:
            raise IntegrityError(f"{self.store.url_of(self.root)}/{a.label}: {exc}", hint=UNTRUSTED) from None

    def records(self, since: int, until: int) -> Iterator[Record]:
        """Every record with since <= time <= until, de-duplicated, stream by stream, shard by
        shard (sequence order within a shard). Reads only the segments that can hold them."""
        for label in sorted(self.streams):
            stream = self.streams[label]
            for shard_id in sorted(stream.shards):
                yield from self._shard_records(stream, shard_id, since, until)

    def _shard_records(self, stream: Stream, shard_id: str, since: int, until: int) -> Iterator[Record]:
        segments = _deduplicated(stream.shards[shard_id].segments)
        low = _bisect(segments, lambda ref: self.header(ref).last_time >= since)
        high = _bisect(segments, lambda ref: self.header(ref).first_time > until)
        # The bisection trusted the headers of segments low-1 and high (the last said to end before
        # `since`, the first said to start after `until`). A header is not covered by its
        # records_sha256, so both are read whole too: parse_segment proves their times, and a
        # header that lies to hide records from the range stops the read instead of dropping them.
        low, high = max(low - 1, 0), min(high + 1, len(segments))
        covered = segments[low - 1].last_seq if low else -1
        seen: dict[int, bytes] = {}  # sequence -> digest of what an earlier segment read here held
        previous: int | None = None  # last_time of the segment read before (None: not read)
        for ref in segments[low:high]:
            seen = {seq: digest for seq, digest in seen.items() if seq >= ref.first_seq}  # only overlaps
            records = self.read_segment(ref)
            self._check_continuity(ref, covered, since, until, previous)
            previous = self.header(ref).last_time
            for record in records:
                digest = _content_digest(record)
                if record.sequence <= covered:
                    if seen.get(record.sequence, digest) != digest:
                        raise IntegrityError(
                            f"segment {self.store.url_of(ref.key)} holds sequence {record.sequence} of shard "
                            f"{shard_id} with another change than an earlier segment of the shard does",
                            hint=UNTRUSTED)
                    continue
                covered = record.sequence
                seen[record.sequence] = digest
                if since <= record.time_s <= until:
                    yield Record(stream.label, shard_id, record.sequence, record.time_s, record.event_name,
                                 record.change, record.raw)


    def _check_continuity(self, ref: SegmentRef, covered: int, since: int, until: int,
                          previous: int | None) -> None:
        """Segment `ref` (its header proven) continues from a sequence the vault holds: its
        continues_from is at most `covered` (the largest sequence of the shard's earlier
        segments, -1 for none). Otherwise a segment is missing between them (lost, deleted by a
        lifecycle rule); the records it held are stamped between `previous` (the last_time of the
        segment read before, None: unknown) and ref's first_time, and when that may meet
        [since, until] a restore would silently lack them: IntegrityError.
        continues_from null (the shard's first segment, or the first after a `trimmed` gap,
        which the gap accounts for) is not checked."""
        header = self.header(ref)
        if header.continues_from is None or int(header.continues_from) <= covered:
            return
        if header.first_time < since or (previous is not None and previous > until):
            return
        raise IntegrityError(f"segment {self.store.url_of(ref.key)} continues from sequence {header.continues_from} "
                             f"of shard {ref.shard_id}, but the vault holds that shard only up to "
                             f"{covered if covered >= 0 else 'nothing'} before it: a segment is missing",
                             hint=UNTRUSTED)


class _Parents(Mapping):
    """A read-only shard -> parent mapping that reads a shard's first segment header on first use."""

    def __init__(self, log: ChangeLog, stream: Stream):
        self.log, self.stream = log, stream

    def __getitem__(self, shard_id: str) -> str | None:
        shard = self.stream.shards.get(shard_id)
        if shard is None or not shard.segments:
            raise KeyError(shard_id)
        if shard.parent is False:
            self.log.header(shard.segments[0])  # sets shard.parent (ChangeLog._checked)
        return shard.parent

    def __iter__(self):
        return iter(self.stream.shards)

    def __len__(self) -> int:
        return len(self.stream.shards)


def _content_digest(record) -> bytes:
    """What two copies of one stream record must agree on (its time, event, Keys and NewImage),
    whatever the order of their JSON fields: a 32-byte digest."""
    return hashlib.sha256(orjson.dumps([record.time_s, record.event_name, record.keys, record.new_image],
                                       option=orjson.OPT_SORT_KEYS)).digest()


def changes_root(prefix: str, table: str) -> str:
    return join(prefix, table, CHANGES)


def read_change_log(store: ObjectStore, prefix: str, table: str, *, max_keys: int = MAX_KEYS) -> ChangeLog:
    """The change log of `table` under `prefix` in `store` (see the module docstring). Raises
    IntegrityError for more than `max_keys` keys or a start/gap object that does not parse."""
    root = changes_root(prefix, table)
    result = ChangeLog(store, root, table)
    starts, gaps = [], []
    for count, key in enumerate(store.list_keys(root + "/"), 1):
        if count > max_keys:
            raise IntegrityError(f"{store.url_of(root)} holds more than {max_keys:,} objects, the most ddbvault "
                                 "lists of one table's change log", hint="restore from a copy of the vault without the "
                                 "oldest segments, and follow into a new destination prefix from now on")
        try:
            ref = fmt.parse_log_key(key[len(root) + 1:])
        except (BadLine, ValueError):
            result.ignored.append(key)
            continue
        if ref.kind == "gap":
            gaps.append(key)
            if len(gaps) > MAX_GAPS:
                raise IntegrityError(f"{store.url_of(root)} holds more than {MAX_GAPS:,} gaps", hint=UNTRUSTED)
            continue
        stream = result.streams.setdefault(ref.label, Stream(ref.label))
        if ref.kind == "start":
            starts.append((stream, key))
        elif ref.kind == "closed":
            stream.shards.setdefault(ref.shard_id, Shard()).closed_key = key
        elif ref.kind == "segment":
            stream.shards.setdefault(ref.shard_id, Shard()).segments.append(
                SegmentRef(key, ref.label, ref.shard_id, ref.first_seq, ref.last_seq))
        elif ref.kind == "poll":  # keys come in ascending order: keep the newest few
            stream.polls = (stream.polls + [key])[-POLLS_READ:]
    for key in result.ignored[:10]:
        # %r: a key is any bytes a bucket holds; a newline or an escape in it must not forge log lines
        log.warning("change log of %s: %r is not a change-log object; ignored", table, store.url_of(key)[:300])
    for stream, key in starts:
        start = _small(store, key, fmt.parse_start)
        _check_table(store, key, start, table)
        if start.stream_arn.rpartition("/stream/")[2] != stream.label:
            raise IntegrityError(f"{store.url_of(key)} is of another stream than {stream.label}", hint=UNTRUSTED)
        stream.covered_from, stream.stream_arn = start.covered_from, start.stream_arn
        stream.written_at = start.written_at
    for key in gaps:
        gap = _small(store, key, fmt.parse_gap)
        _check_table(store, key, gap, table)
        result.gaps.append(Gap(gap.from_s, gap.to_s, gap.reason, key))
    for stream in result.streams.values():
        for shard in stream.shards.values():
            shard.segments.sort(key=lambda r: (r.first_seq, -r.last_seq))
    return result


def _trusted_poll(changes: ChangeLog, stream: Stream):
    """The newest of `stream`'s POLLS_READ newest poll records that the vault backs: every
    shard position it names is reached by that shard's segments, and every shard the vault
    holds open segments of is named (a poll older than a split vouches for nothing after it).
    One that does not back itself is skipped (logged); one that does not parse, names another
    table or stream, or was written over POLL_SKEW_S in the future is an IntegrityError."""
    for key in reversed(stream.polls):
        poll = _small(changes.store, key, fmt.parse_poll)
        _check_table(changes.store, key, poll, changes.table)
        where = changes.store.url_of(key)
        if poll.stream_arn.rpartition("/stream/")[2] != stream.label:
            raise IntegrityError(f"{where} is of another stream than {stream.label}", hint=UNTRUSTED)
        if poll.written_at > time.time() + POLL_SKEW_S:
            raise IntegrityError(f"{where} is written in the future (its written_at is after now)", hint=UNTRUSTED)
        reached = {shard_id: max(ref.last_seq for ref in shard.segments)
                   for shard_id, shard in stream.shards.items() if shard.segments}
        open_held = {shard_id for shard_id, shard in stream.shards.items() if shard.segments and not shard.closed}
        if all(seq is None or reached.get(shard_id, -1) >= int(seq) for shard_id, seq in poll.shards.items()) \
                and open_held <= set(poll.shards):
            return poll
        changes.ignored.append(key)
        log.warning("change log of %s: poll record %s names shard positions the vault's segments do not hold, "
                    "or misses an open shard; not trusted", changes.table, where)
    return None


def _small(store: ObjectStore, key: str, parse):
    where = store.url_of(key)
    try:
        return parse(store.get(key, limit=SMALL_OBJECT_MAX))
    except TooLargeError:
        raise IntegrityError(f"{where} is over {SMALL_OBJECT_MAX:,} bytes", hint=UNTRUSTED) from None
    except (BadLine, ValueError) as exc:
        raise IntegrityError(f"{where}: {exc}", hint=UNTRUSTED) from None


def _check_table(store: ObjectStore, key: str, obj, table: str) -> None:
    if obj.table != table:
        raise IntegrityError(f"{store.url_of(key)} is of another table than {table}", hint=UNTRUSTED)


def fingerprint(keys: dict, spec: KeySpec | None) -> bytes:
    """key_fingerprint of a key in the table's key order (stream records and JSON keys may
    list the attributes in any order)."""
    if spec is not None:
        return key_fingerprint({name: keys[name] for name, _ in spec.attributes if name in keys})
    return key_fingerprint(dict(sorted(keys.items())))


def newest_changes(log: ChangeLog, since: int, until: int, spec: KeySpec | None,
                   wanted: set[bytes] | None = None) -> dict[bytes, Record]:
    """The newest record (ChangeLog.newer) of each key with since <= time <= until; only keys
    whose fingerprint is in `wanted` when given. Memory: one record per changed key."""
    newest: dict[bytes, Record] = {}
    for record in log.records(since, until):
        fp = fingerprint(record.change.keys, spec)
        if wanted is not None and fp not in wanted:
            continue
        earlier = newest.get(fp)
        if earlier is None or log.newer(record, earlier):
            newest[fp] = record if wanted is not None else _lean(record)
    return newest


def _lean(record: Record) -> Record:
    """The record without its raw line: a whole-table replay keeps one per changed key."""
    return Record(record.label, record.shard_id, record.sequence, record.time_s, record.event_name, record.change)


def summary(log: ChangeLog, bases: list[Base]) -> dict:
    """What `ddbvault list` shows of a table's log: {"window": [{"from", "to"}, ...], "gaps":
    [{"from", "to", "reason"}], "covered_from", "known_until", "streams", "segments", "ignored"}.
    Reads no segment but the last of each open shard (its header only); the holes in the chain
    those headers show (vault/chain.known_holes) are gaps of reason "missing". A hole elsewhere
    is not seen here: restore proves the chain of what it replays."""
    log.known_until()  # reads the headers known_holes looks at
    log.missing += [gap for gap in known_holes(log) if gap not in log.missing]
    coverage = log.coverage()
    known, covered = coverage.known_until, coverage.covered_from
    return {"window": [{"from": utc_text(a), "to": utc_text(b)} for a, b in coverage.window(bases)],
            "gaps": [g.to_dict() for g in sorted(coverage.gaps, key=lambda g: (g.end, g.start or 0))],
            "covered_from": None if covered is None else utc_text(covered),
            "known_until": None if known is None else utc_text(known),
            "polled_until": None if (polled := log.polled_until()) is None else utc_text(polled),
            "streams": len(log.streams), "segments": log.segment_count, "ignored": len(log.ignored)}


def attach_summaries(dest: str, entries, principal=None) -> dict[str, dict]:
    """Set `change_log` (summary()) on every entry of a table that has a change log under `dest`;
    returns the summaries by table. A table whose log cannot be read (IntegrityError: a hostile
    or damaged object) gets an empty window and `error` (the message, naming the object), and
    the other tables are still summarised. One listing of each table's changes/ prefix, its start and gap
    objects, and the header of the last segment of each open shard: never every segment."""
    from ..storage import open_store, session_for
    from ..storage.destination import parse_destination

    destination = parse_destination(dest)
    store = open_store(destination, session_for(destination, principal))
    summaries = {}
    for table in sorted({e.table for e in entries}):
        try:
            found = read_change_log(store, destination.prefix, table)
            if found.empty:
                continue
            summaries[table] = summary(found, bases_of(e for e in entries if e.table == table))
        except IntegrityError as exc:  # one table's damaged log: shown on its rows, the listing goes on
            summaries[table] = {"window": [], "gaps": [], "covered_from": None, "known_until": None,
                                "streams": None, "segments": None, "ignored": None, "error": exc.message}
        for entry in entries:
            if entry.table == table:
                entry.change_log = summaries[table]
    return summaries


def format_summary(table: str, found: dict) -> list[str]:
    """Text lines for `ddbvault list`: the window, then one line per gap (or why the log could
    not be read: nothing of it is restorable then)."""
    if found.get("error"):
        return [f"{table}: restorable (--at): none: the change log cannot be read: {found['error']}"]
    window = ", ".join(f"{w['from']} .. {w['to']}" for w in found["window"]) or \
        "none yet (it needs a complete full backup taken while the log covers the table)"
    lines = [f"{table}: restorable (--at): {window}"]
    lines += [f"{table}: gap {g['from'] or 'unknown'} .. {g['to']} ({g['reason']})" for g in found["gaps"]]
    if found["ignored"]:
        lines.append(f"{table}: {found['ignored']} objects under changes/ are no change-log objects (ignored)")
    return lines
