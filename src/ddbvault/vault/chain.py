"""Proof that a table's change log holds every record a restore replays (docs/continuous-restore.md,
"Continuity"): per shard, the chain of `continues_from` links of the segments present.

A segment with `continues_from` c (null: the shard's start, read from TRIM_HORIZON) proves that
no record of its shard lies between c and its first sequence; with its own records it proves the
sequence range (c, last]. Per shard, the segments are taken as ChangeLog de-duplicates them (in
order of first sequence; one wholly inside what the earlier ones cover adds nothing: on data two
followers of the same shard wrote, such a segment cannot bridge a hole, since the record a later
link names lies in a segment that does reach it). A link c beyond what the earlier segments
reach is a hole: segments were lost (a lifecycle rule expired them, a person deleted them, a
follower never wrote them). A closed shard whose closed.json names a last sequence beyond the
last segment present lost its tail.

A hole becomes a Gap of reason "missing", in memory only (nothing is written): the open interval
from the last whole second proven before it to the first proven after it. Times are whole seconds
and several records share one, so a hole after a record of second t may hold records of second
t too: the interval is (last_time - 1, first_time + 1); a lost head (the first segment present
continues from a sequence no segment reaches) is (None, first_time + 1): the shard is covered
only from after its earliest present record; a lost tail ends at closed_at + 1 (the follower saw
the shard end after its last record).

Cost (the same reads a replay of [since, until] makes): per shard, the segment headers the
bisection of ChangeLog.records reads, plus the header of the first segment after `until` (its
link may name a hole before `until`), plus closed.json of each closed shard whose present
segments end at or before `until`. `list` does not walk chains: `known_holes()` looks only at
the headers it has read (docs/continuous-restore.md, "What `list` proves").

AWS calls (S3 only, through the ChangeLog's store): GetObject of segment headers (a streamed
read stopped after the first line) and of closed.json objects (64 KiB at most).
"""

from __future__ import annotations

import bisect
from typing import Callable

from ..errors import IntegrityError
from ..format import change_log as fmt
from ..format.dataline import BadLine
from ..storage.base import TooLargeError
from .restorable import Gap

MISSING = "missing"
HINT = "the change log cannot be trusted there; restore to a time before it, or from a copy of the vault"


def holes(log, since: int, until: int) -> list[Gap]:
    """The "missing" gaps of `log` (a vault.change_log.ChangeLog) that may hide records with
    since <= time <= until, every stream and shard; [] when the chain is whole there. Raises
    IntegrityError for a closed.json that does not parse (and whatever ChangeLog.header raises)."""
    found: list[Gap] = []
    for label in sorted(log.streams):
        stream = log.streams[label]
        for shard_id in sorted(stream.shards):
            found += shard_holes(log, label, shard_id, since, until)
    return found


def shard_holes(log, label: str, shard_id: str, since: int, until: int) -> list[Gap]:
    """The holes of one shard's chain around [since, until] (see the module docstring)."""
    shard = log.streams[label].shards[shard_id]
    where = log.store.url_of(f"{log.root}/{label}/{shard_id}/")
    segments = deduplicated(shard.segments)
    low = bisect_first(segments, lambda ref: log.header(ref).last_time >= since)
    high = bisect_first(segments, lambda ref: log.header(ref).first_time > until)
    found: list[Gap] = []
    reach, reach_time = None, None  # the last sequence proven so far (None: nothing yet) and its time
    if low:
        reach, reach_time = segments[low - 1].last_seq, log.header(segments[low - 1]).last_time
    for ref in segments[low:high + 1]:
        header = log.header(ref)
        link = None if header.continues_from is None else int(header.continues_from)
        if link is not None and (reach is None or link > reach):
            found.append(Gap(None if reach_time is None else reach_time - 1, header.first_time + 1, MISSING, where))
        reach, reach_time = ref.last_seq, header.last_time
    if high == len(segments) and shard.closed_key:
        closed = closed_record(log, shard.closed_key)
        if closed.last_sequence is not None and (reach is None or int(closed.last_sequence) > reach):
            found.append(Gap(None if reach_time is None else reach_time - 1, closed.closed_at + 1, MISSING, where))
    return found


def known_holes(log) -> list[Gap]:
    """The holes that the segment headers `log` has already read show, for `list`: a segment
    whose link reaches past the segment before it (by key) or, first of its shard, continues
    from a sequence no segment reaches. Reads one more header per hole (the one before it),
    never walks a chain: holes elsewhere are found only by `holes()` (restore)."""
    found: list[Gap] = []
    for label in sorted(log.streams):
        for shard_id, shard in sorted(log.streams[label].shards.items()):
            where = log.store.url_of(f"{log.root}/{label}/{shard_id}/")
            segments = deduplicated(shard.segments)
            for index, ref in enumerate(segments):
                header = log.cached_header(ref)
                if header is None or header.continues_from is None:
                    continue
                if index == 0:
                    found.append(Gap(None, header.first_time + 1, MISSING, where))
                elif int(header.continues_from) > segments[index - 1].last_seq:
                    before = log.header(segments[index - 1]).last_time
                    found.append(Gap(before - 1, header.first_time + 1, MISSING, where))
    return found


def closed_record(log, key: str):
    """closed.json at `key` (format/change_log.parse_closed), read once per ChangeLog."""
    cached = log.closed_records.get(key)
    if cached is None:
        where = log.store.url_of(key)
        try:
            cached = fmt.parse_closed(log.store.get(key, limit=fmt.MAX_SMALL_OBJECT))
        except TooLargeError:
            raise IntegrityError(f"{where} is over {fmt.MAX_SMALL_OBJECT:,} bytes", hint=HINT) from None
        except (BadLine, ValueError) as exc:
            raise IntegrityError(f"{where}: {exc}", hint=HINT) from None
        if key.rstrip("/").split("/")[-2] != cached.shard_id:
            raise IntegrityError(f"{where} names another shard than its key", hint=HINT)
        log.closed_records[key] = cached
    return cached


def deduplicated(segments: list) -> list:
    """The segments of one shard that add records: sorted by first sequence (the longest first),
    each one wholly inside what the earlier ones cover dropped. Keys alone decide."""
    kept, covered = [], -1
    for ref in sorted(segments, key=lambda r: (r.first_seq, -r.last_seq)):
        if ref.last_seq > covered:
            kept.append(ref)
            covered = ref.last_seq
    return kept


def bisect_first(items: list, past: Callable[[object], bool]) -> int:
    """The first index whose item satisfies `past` (monotone: False... then True...); len(items)
    when none does. log2(n) calls of `past`."""
    return bisect.bisect_left(items, True, key=past)
