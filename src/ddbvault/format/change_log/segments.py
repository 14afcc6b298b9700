"""Change log format 1.0: stream records and segments — built, parsed and checked. Pure."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

import orjson

from ..._version import __version__
from ..changes import Change
from ..dataline import BadLine, KeySpec, parse_line
from .fields import (check_version, exact_fields, loads_object, sequence_field, shard_field, stream_arn_field,
                     text_field, view_type_field)
from .names import (EVENT_NAMES, MAX_SEGMENT_BYTES, MAX_SEGMENT_RECORDS, SEGMENT_FORMAT, LogKey,
                    label_of_stream_arn, parse_sequence, parse_utc, record_time, utc_text)

_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)


# ---- records ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One stream record of a segment: its shard, sequence number (int), time (whole epoch
    seconds), eventName, Keys and NewImage (wire form; None for a REMOVE) and the line's bytes."""

    shard_id: str
    sequence: int
    time_s: int
    event_name: str
    keys: dict
    new_image: dict | None
    raw: bytes

    @property
    def change(self) -> Change:
        """As a format.changes.Change; time_us = time_s * 1,000,000 (streams have whole seconds)."""
        return Change(self.keys, self.new_image, self.time_s * 1_000_000)


def _checked_image(image: object, field: str, key: KeySpec | None) -> dict | None:
    """`image` checked as an item by dataline's rules; returns its key attributes (with `key`)."""
    if type(image) is not dict:
        raise BadLine(f"dynamodb.{field} is not an object")
    try:
        return parse_line(orjson.dumps({"Item": image}), key)[1]
    except BadLine as exc:
        raise BadLine(f"dynamodb.{field}: {exc}") from None


def _checked_keys(keys: object, key: KeySpec | None) -> dict:
    """Keys: 1 or 2 attributes of type S, N or B (the table's key, with `key`)."""
    if type(keys) is not dict or not 1 <= len(keys) <= 2:
        raise BadLine("dynamodb.Keys is not an object of one or two key attributes")
    found = _checked_image(keys, "Keys", key)
    if any(next(iter(value)) not in ("S", "N", "B") for value in keys.values()):
        raise BadLine("dynamodb.Keys holds an attribute that is not of type S, N or B")
    if found is not None and len(found) != len(keys):
        raise BadLine("dynamodb.Keys holds attributes that are not the table's key")
    return keys


def parse_record(line: bytes, shard_id: str, key: KeySpec | None = None) -> StreamRecord:
    """One record line (a GetRecords `Records` element in wire JSON). Checks eventName,
    SequenceNumber, ApproximateCreationDateTime, Keys, and NewImage: present for INSERT/MODIFY,
    holding the same key as Keys. Raises BadLine (no value in its message)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not one JSON object ({exc.msg})") from None
    body = record.get("dynamodb") if type(record) is dict else None
    if type(body) is not dict:
        raise BadLine('not a stream record {"eventName", "dynamodb": {...}}')
    event = record.get("eventName")
    if event not in EVENT_NAMES:
        raise BadLine("eventName is not INSERT, MODIFY or REMOVE")
    try:
        sequence = parse_sequence(body.get("SequenceNumber"))
    except ValueError:
        raise BadLine("dynamodb.SequenceNumber is not a sequence number (1-40 ASCII digits)") from None
    time_s = record_time(body.get("ApproximateCreationDateTime"))
    keys = _checked_keys(body.get("Keys"), key)
    new_image = None
    if event == "REMOVE":
        if body.get("NewImage", {}) != {}:  # moto sends an empty NewImage with a REMOVE
            raise BadLine("a REMOVE record has a dynamodb.NewImage")
    else:
        if "NewImage" not in body:
            raise BadLine(f"an {event} record has no dynamodb.NewImage (the stream view type must hold new images)")
        new_image = body["NewImage"]
        _checked_image(new_image, "NewImage", None)
        if any(new_image.get(name) != value for name, value in keys.items()):
            raise BadLine("dynamodb.NewImage's key differs from dynamodb.Keys")
    if body.get("OldImage", {}) != {}:  # moto sends an empty OldImage with an INSERT
        _checked_image(body["OldImage"], "OldImage", None)
    return StreamRecord(shard_id, sequence, time_s, event, keys, new_image, line)



# ---- segments ---------------------------------------------------------------------------------

HEADER_FIELDS = ("change_log", "tool_version", "table", "table_arn", "stream_arn", "stream_view_type",
                 "shard_id", "parent_shard_id", "continues_from", "first_sequence", "last_sequence",
                 "count", "first_time", "last_time", "records_sha256", "written_at")
# What a writer gives build_segment; the rest is computed from the records.
GIVEN_FIELDS = ("table", "table_arn", "stream_arn", "stream_view_type", "shard_id", "parent_shard_id",
                "continues_from")


@dataclass(frozen=True, slots=True)
class SegmentHeader:
    """A segment's first line. Sequences are the decimal strings as AWS gave them (`*_int`:
    as integers); times are epoch seconds."""

    change_log: str
    tool_version: str
    table: str
    table_arn: str
    stream_arn: str
    stream_view_type: str
    shard_id: str
    parent_shard_id: str | None
    continues_from: str | None
    first_sequence: str
    last_sequence: str
    count: int
    first_time: int
    last_time: int
    records_sha256: str
    written_at: int

    @property
    def first_int(self) -> int:
        return int(self.first_sequence)

    @property
    def last_int(self) -> int:
        return int(self.last_sequence)

    @property
    def label(self) -> str:
        return label_of_stream_arn(self.stream_arn)


def build_segment(header_fields: Mapping, record_lines: list[bytes], *, written_at: int | None = None,
                  key: KeySpec | None = None) -> bytes:
    """A segment (gzip bytes) of `record_lines` (each one record's JSON, without a newline, in
    ascending sequence) with a header of `header_fields` (GIVEN_FIELDS) and what the records
    say (sequences, count, times, sha256). Every line is checked as parse_segment checks it, so
    what is written can be read. Raises BadLine / ValueError."""
    unknown = set(header_fields) - set(GIVEN_FIELDS)
    if unknown or not record_lines:
        raise ValueError("build_segment takes GIVEN_FIELDS and at least one record")
    shard_id = header_fields["shard_id"]
    records = [parse_record(line, shard_id, key) for line in record_lines]
    body = b"".join(line + b"\n" for line in record_lines)
    header = {
        "change_log": SEGMENT_FORMAT, "tool_version": __version__,
        **{name: header_fields.get(name) for name in GIVEN_FIELDS},
        "first_sequence": _sequencetext_field(records[0].raw), "last_sequence": _sequencetext_field(records[-1].raw),
        "count": len(records),
        "first_time": utc_text(min(r.time_s for r in records)),
        "last_time": utc_text(max(r.time_s for r in records)),
        "records_sha256": hashlib.sha256(body).hexdigest(),
        "written_at": utc_text(written_at if written_at is not None else datetime.now(timezone.utc)),
    }
    head = orjson.dumps(header)
    _check_header(_header_dict(parse_header(head)), records, body, MAX_SEGMENT_RECORDS)  # the reader's checks
    data = head + b"\n" + body
    if len(data) > MAX_SEGMENT_BYTES:
        raise ValueError(f"a segment holds at most {MAX_SEGMENT_BYTES:,} bytes uncompressed")
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    return compressor.compress(data) + compressor.flush()


def _sequencetext_field(raw: bytes) -> str:
    return orjson.loads(raw)["dynamodb"]["SequenceNumber"]


def _gunzip(data: bytes, max_bytes: int) -> bytes:
    """The gzip member `data` holds, refusing more than `max_bytes` of output and trailing bytes."""
    inflater = zlib.decompressobj(31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error:
        raise BadLine("the segment is not gzip data") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise BadLine(f"the segment holds more than {max_bytes:,} bytes uncompressed")
    if not inflater.eof or inflater.unused_data:
        raise BadLine("the segment's gzip data is truncated or followed by other bytes")
    return out


def parse_segment(data: bytes, *, max_records: int = MAX_SEGMENT_RECORDS, max_bytes: int = MAX_SEGMENT_BYTES,
                  expect: LogKey | None = None, key: KeySpec | None = None) -> tuple[SegmentHeader, list[StreamRecord]]:
    """(header, records) of a segment's bytes, checked: gzip within `max_bytes` uncompressed, a
    1.x header with exactly HEADER_FIELDS, `count` records (1..max_records) whose bytes hash to
    `records_sha256`, each a valid stream record, in strictly ascending sequence from
    first_sequence to last_sequence after continues_from, with first/last_time their earliest
    and latest times. With `expect` (the segment's parsed key), the header's shard and sequence
    range must be the key's. Raises BadLine naming the first problem and no value."""
    text = _gunzip(data, max_bytes)
    head, newline, body = text.partition(b"\n")
    if not newline:
        raise BadLine("the segment has no header line")
    header = parse_header(head)
    if not 1 <= header.count <= max_records:
        raise BadLine(f"count is not 1 to {max_records:,}")
    if body and not body.endswith(b"\n"):
        raise BadLine("the last record line does not end in a newline")
    lines = body.split(b"\n")[:-1] if body else []
    if len(lines) != header.count:
        raise BadLine(f"the segment holds {len(lines):,} record lines, its header says {header.count:,}")
    records = []
    for number, line in enumerate(lines, 2):
        try:
            records.append(parse_record(line, header.shard_id, key))
        except BadLine as exc:
            raise BadLine(f"line {number}: {exc}") from None
    _check_header(_header_dict(header), records, body, max_records)
    if expect is not None and (expect.kind, expect.shard_id, expect.first_seq, expect.last_seq) != (
            "segment", header.shard_id, header.first_int, header.last_int):
        raise BadLine("the segment's header names another shard or sequence range than its key")
    return header, records


MAX_HEADER_LINE = 64 * 1024


def read_header(reader, *, chunk: int = 16 * 1024) -> SegmentHeader:
    """The header of a segment from `reader` (a binary stream of its gzip bytes), reading only
    as far as the first newline: at most MAX_HEADER_LINE bytes of header. Raises BadLine."""
    inflater, text = zlib.decompressobj(31), b""
    while b"\n" not in text:
        data = reader.read(chunk)
        if not data:
            raise BadLine("the segment ends before its header line does")
        try:
            text += inflater.decompress(data, MAX_HEADER_LINE + 1 - len(text))
        except zlib.error:
            raise BadLine("the segment is not gzip data") from None
        if len(text) > MAX_HEADER_LINE and b"\n" not in text[:MAX_HEADER_LINE + 1]:
            raise BadLine(f"the segment's header line is over {MAX_HEADER_LINE:,} bytes")
        if inflater.unconsumed_tail and b"\n" not in text:
            raise BadLine(f"the segment's header line is over {MAX_HEADER_LINE:,} bytes")
    return parse_header(text.partition(b"\n")[0])


def _header_dict(header: SegmentHeader) -> dict:
    return {name: getattr(header, name) for name in HEADER_FIELDS}


def _check_header(header: dict, records: list[StreamRecord], body: bytes, max_records: int) -> None:
    """The checks between a header and its records (shared by build and parse)."""
    if header["count"] != len(records) or not 1 <= len(records) <= max_records:
        raise BadLine("count is not the number of records")
    if hashlib.sha256(body).hexdigest() != header["records_sha256"]:
        raise BadLine("records_sha256 is not the sha256 of the record lines")
    previous = None if header["continues_from"] is None else int(header["continues_from"])
    for record in records:
        if previous is not None and record.sequence <= previous:
            raise BadLine("record sequence numbers are not strictly ascending after continues_from")
        previous = record.sequence
    if (records[0].sequence, records[-1].sequence) != (int(header["first_sequence"]), int(header["last_sequence"])):
        raise BadLine("first_sequence/last_sequence are not the first and last records' sequence numbers")
    times = [r.time_s for r in records]
    first, last = (parse_utc(header[f], f) if type(header[f]) is str else header[f] for f in ("first_time", "last_time"))
    if (first, last) != (min(times), max(times)):
        raise BadLine("first_time/last_time are not the records' earliest and latest times")


def parse_header(line: bytes) -> SegmentHeader:
    """A segment's first line (without its newline), checked alone: fields and their types.
    What needs the records (count, sums, order) is parse_segment's. Raises BadLine."""
    what = "the segment header"
    obj = loads_object(line, what)
    if "change_log" in obj:
        check_version(obj["change_log"], what)
    exact_fields(obj, HEADER_FIELDS, what)
    count = obj["count"]
    if type(count) is not int:
        raise BadLine(f"{what}'s count is not an integer")
    if obj["parent_shard_id"] is not None and obj["parent_shard_id"] == obj["shard_id"]:
        raise BadLine(f"{what}'s parent_shard_id is its own shard_id (a shard cannot descend from itself)")
    sha = obj["records_sha256"]
    if type(sha) is not str or not _HEX.fullmatch(sha):
        raise BadLine(f"{what}'s records_sha256 is not 64 lowercase hex digits")
    return SegmentHeader(
        change_log=obj["change_log"], tool_version=text_field(obj, "tool_version", what, limit=64),
        table=text_field(obj, "table", what, limit=255), table_arn=text_field(obj, "table_arn", what),
        stream_arn=stream_arn_field(obj, what), stream_view_type=view_type_field(obj, what),
        shard_id=shard_field(obj, "shard_id", what),
        parent_shard_id=shard_field(obj, "parent_shard_id", what, nullable=True),
        continues_from=sequence_field(obj, "continues_from", what, nullable=True),
        first_sequence=sequence_field(obj, "first_sequence", what),
        last_sequence=sequence_field(obj, "last_sequence", what),
        count=count, first_time=parse_utc(obj["first_time"], "first_time"),
        last_time=parse_utc(obj["last_time"], "last_time"), records_sha256=sha,
        written_at=parse_utc(obj["written_at"], "written_at"))

