"""Change log format 1.0: start.json, closed.json, gaps, and the order of records by lineage. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import orjson

from ..dataline import BadLine, key_fingerprint
from .fields import check_version, exact_fields, loads_object, sequence_field, shard_field, stream_arn_field, text_field, view_type_field
from .names import (GAP_REASONS, MAX_LINEAGE, MAX_SMALL_OBJECT, SEGMENT_FORMAT, check_shard_id, parse_sequence,
                    parse_utc, utc_text)
from .segments import StreamRecord


# ---- start.json, closed.json, gaps ------------------------------------------------------------

START_FIELDS = ("change_log", "table", "stream_arn", "stream_view_type", "covered_from", "written_at")
CLOSED_FIELDS = ("change_log", "shard_id", "last_sequence", "closed_at")
GAP_FIELDS = ("change_log", "table", "from", "to", "reason", "stream_arn", "shard_id", "detected_at")
POLL_FIELDS = ("change_log", "table", "stream_arn", "polled_at", "shards", "written_at")
MAX_POLL_SHARDS = 500  # shard positions in one poll record: ~120 bytes each, under MAX_SMALL_OBJECT


@dataclass(frozen=True, slots=True)
class StartRecord:
    """start.json: from covered_from (epoch seconds) on, every change is in this stream's log."""

    table: str
    stream_arn: str
    stream_view_type: str
    covered_from: int
    written_at: int


@dataclass(frozen=True, slots=True)
class ClosedRecord:
    """closed.json: the shard was read to its end; last_sequence None: it held no record."""

    shard_id: str
    last_sequence: str | None
    closed_at: int


@dataclass(frozen=True, slots=True)
class GapRecord:
    """A gap: between `from_s` (None: unknown) and `to_s` the log may miss changes (epoch s)."""

    table: str
    from_s: int | None
    to_s: int
    reason: str
    stream_arn: str
    shard_id: str | None
    detected_at: int

    def to_dict(self) -> dict:
        """The object as written (times as UTC text)."""
        return {"change_log": SEGMENT_FORMAT, "table": self.table,
                "from": None if self.from_s is None else utc_text(self.from_s), "to": utc_text(self.to_s),
                "reason": self.reason, "stream_arn": self.stream_arn, "shard_id": self.shard_id,
                "detected_at": utc_text(self.detected_at)}


@dataclass(frozen=True, slots=True)
class PollRecord:
    """A poll record (`<label>/polls/<stamp>-<hex6>.json`): at `polled_at` (epoch s) every shard
    of the stream in `shards` was read to its end, and the vault holds every record of each up
    to its sequence (None: the shard had none to hold). `written_at` >= polled_at."""

    table: str
    stream_arn: str
    polled_at: int
    shards: dict  # shard id -> last sequence (decimal string) | None
    written_at: int


def poll_object(poll: PollRecord) -> bytes:
    data = orjson.dumps({"change_log": SEGMENT_FORMAT, "table": poll.table, "stream_arn": poll.stream_arn,
                         "polled_at": utc_text(poll.polled_at), "shards": dict(sorted(poll.shards.items())),
                         "written_at": utc_text(poll.written_at)})
    parse_poll(data)
    return data


def parse_poll(data: bytes) -> PollRecord:
    """A poll record, checked: the fields, 1..MAX_POLL_SHARDS shard ids each with a sequence
    number or null, polled_at not after written_at. Raises BadLine (no value quoted)."""
    obj = _small(data, POLL_FIELDS, "the poll record")
    shards = obj["shards"]
    if type(shards) is not dict or not 1 <= len(shards) <= MAX_POLL_SHARDS:
        raise BadLine(f"the poll record's shards is not an object of 1-{MAX_POLL_SHARDS} shard positions")
    for shard_id, sequence in shards.items():
        try:
            check_shard_id(shard_id)
        except ValueError:
            raise BadLine("the poll record's shards holds a key that is not a shard id") from None
        if sequence is not None:
            try:
                parse_sequence(sequence)
            except ValueError:
                raise BadLine("the poll record's shards holds a position that is not a sequence number "
                              "(1-40 ASCII digits) or null") from None
    polled_at, written_at = parse_utc(obj["polled_at"], "polled_at"), parse_utc(obj["written_at"], "written_at")
    if polled_at > written_at:
        raise BadLine("the poll record's polled_at is after its written_at")
    return PollRecord(text_field(obj, "table", "the poll record", limit=255), stream_arn_field(obj, "the poll record"),
                      polled_at, dict(shards), written_at)


def start_object(start: StartRecord) -> bytes:
    data = orjson.dumps({"change_log": SEGMENT_FORMAT, "table": start.table, "stream_arn": start.stream_arn,
                         "stream_view_type": start.stream_view_type, "covered_from": utc_text(start.covered_from),
                         "written_at": utc_text(start.written_at)})
    parse_start(data)
    return data


def closed_object(closed: ClosedRecord) -> bytes:
    data = orjson.dumps({"change_log": SEGMENT_FORMAT, "shard_id": closed.shard_id,
                         "last_sequence": closed.last_sequence, "closed_at": utc_text(closed.closed_at)})
    parse_closed(data)
    return data


def gap_object(gap: GapRecord) -> bytes:
    data = orjson.dumps(gap.to_dict())
    parse_gap(data)
    return data


def _small(data: bytes, names: tuple[str, ...], what: str) -> dict:
    if len(data) > MAX_SMALL_OBJECT:
        raise BadLine(f"{what} is over {MAX_SMALL_OBJECT:,} bytes")
    obj = loads_object(data, what)
    if "change_log" in obj:
        check_version(obj["change_log"], what)
    exact_fields(obj, names, what)
    return obj


def parse_start(data: bytes) -> StartRecord:
    obj = _small(data, START_FIELDS, "start.json")
    return StartRecord(text_field(obj, "table", "start.json", limit=255), stream_arn_field(obj, "start.json"),
                       view_type_field(obj, "start.json"), parse_utc(obj["covered_from"], "covered_from"),
                       parse_utc(obj["written_at"], "written_at"))


def parse_closed(data: bytes) -> ClosedRecord:
    obj = _small(data, CLOSED_FIELDS, "closed.json")
    return ClosedRecord(shard_field(obj, "shard_id", "closed.json"),
                        sequence_field(obj, "last_sequence", "closed.json", nullable=True),
                        parse_utc(obj["closed_at"], "closed_at"))


def parse_gap(data: bytes) -> GapRecord:
    obj = _small(data, GAP_FIELDS, "the gap")
    if obj["reason"] not in GAP_REASONS:
        raise BadLine(f"the gap's reason is not one of {', '.join(GAP_REASONS)}")
    from_s = None if obj["from"] is None else parse_utc(obj["from"], "from")
    to_s = parse_utc(obj["to"], "to")
    if from_s is not None and from_s > to_s:
        raise BadLine("the gap's from is after its to")
    return GapRecord(text_field(obj, "table", "the gap", limit=255), from_s, to_s, obj["reason"],
                     stream_arn_field(obj, "the gap"), shard_field(obj, "shard_id", "the gap", nullable=True),
                     parse_utc(obj["detected_at"], "detected_at"))


# ---- order ------------------------------------------------------------------------------------

def descends_from(shard_id: str, ancestor: str, parents: Mapping[str, str | None]) -> bool:
    """True when `ancestor` is a (grand…)parent of `shard_id` in `parents` (shard -> parent
    shard or None). The whole chain up from `shard_id` is walked, so a loop in it (a shard
    descending from itself, or two shards each the other's parent) raises BadLine even where
    `ancestor` is on the loop; so does a chain longer than MAX_LINEAGE."""
    seen = {shard_id}
    found = False
    current = parents.get(shard_id)
    while current is not None:
        if current in seen:
            raise BadLine("shard lineage has a loop (a shard descends from itself through parent_shard_id)")
        if len(seen) > MAX_LINEAGE:
            raise BadLine(f"shard lineage is longer than {MAX_LINEAGE:,} shards")
        seen.add(current)
        found = found or current == ancestor
        current = parents.get(current)
    return found


def is_newer(b: StreamRecord, a: StreamRecord, parents: Mapping[str, str | None]) -> bool:
    """True when record `b` is newer than record `a` of the same stream: b's shard descends
    from a's, else (unrelated shards, or the same one) b's sequence number is larger."""
    if b.shard_id != a.shard_id:
        if descends_from(b.shard_id, a.shard_id, parents):
            return True
        if descends_from(a.shard_id, b.shard_id, parents):
            return False
    return b.sequence > a.sequence


def record_identity(stream_arn: str, record: StreamRecord) -> tuple[str, str, int]:
    """What de-duplicates records across overlapping segments: (stream ARN, shard, sequence)."""
    return (stream_arn, record.shard_id, record.sequence)


def fingerprint(record: StreamRecord) -> bytes:
    """The record's item (format.dataline.key_fingerprint of its Keys)."""
    return key_fingerprint(record.keys)

