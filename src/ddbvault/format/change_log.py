"""The change log, format 1.0 (docs/format.md, "The change log"): a table's stream records in the vault.

Under a destination, beside the table's backups (`changes` is not a backup id):

    <prefix>/<table>/changes/<label>/start.json                              coverage start
    <prefix>/<table>/changes/<label>/<shard-id>/<first>-<last>.jsonl.gz      a segment
    <prefix>/<table>/changes/<label>/<shard-id>/closed.json                  shard fully read
    <prefix>/<table>/changes/gaps/<YYYYMMDDTHHMMSSZ>-<hex6>.json             a gap

<label> is the stream's StreamLabel; <first>/<last> are sequence numbers zero-padded to 40
digits, so keys sort by sequence. Every object is created once and never rewritten.

A segment is gzip of UTF-8 JSON lines: a header line (HEADER_FIELDS), then the records, each one
element of GetRecords' `Records` as the wire JSON has it, in ascending sequence. The header holds
the count, the first and last sequence and time, and the sha256 of the bytes after the header.
`parse_segment` checks all of it and every record; `build_segment` writes only what it can read.

Sequence numbers are ASCII decimal strings of 1-40 digits (AWS: 21-40; moto's are shorter),
compared as integers. Times are whole seconds since the epoch (UTC), written
`YYYY-MM-DDTHH:MM:SSZ`. A record's time is its ApproximateCreationDateTime (epoch seconds, a
JSON number; moto's carry milliseconds) floored to the second.

Errors: BadLine (a ValueError) for a bad object, ValueError for a bad key or argument; no message
holds an attribute value. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

import orjson

from .._version import __version__
from .changes import Change
from .dataline import BadLine, KeySpec, key_fingerprint, parse_line
from .layout import join

__all__ = [
    "SEGMENT_FORMAT", "CHANGES_DIR", "GAPS_DIR", "GAP_REASONS", "MAX_SEGMENT_RECORDS", "MAX_SEGMENT_BYTES",
    "LogKey", "SegmentHeader", "StreamRecord", "StartRecord", "ClosedRecord", "GapRecord",
    "changes_prefix", "stream_prefix", "shard_prefix", "segment_key", "closed_key", "start_key", "gap_key",
    "parse_log_key", "check_label", "check_shard_id", "parse_sequence", "label_of_stream_arn",
    "utc_text", "parse_utc", "build_segment", "parse_segment", "parse_header", "read_header", "parse_record",
    "start_object", "closed_object", "gap_object", "parse_start", "parse_closed", "parse_gap",
    "descends_from", "is_newer",
]

SEGMENT_FORMAT = "1.0"
_MAJOR = "1"
CHANGES_DIR = "changes"
GAPS_DIR = "gaps"
START_NAME = "start.json"
CLOSED_NAME = "closed.json"
SEGMENT_SUFFIX = ".jsonl.gz"
SEQUENCE_DIGITS = 40
MAX_SEGMENT_RECORDS = 100_000
MAX_SEGMENT_BYTES = 64 * 1024 * 1024  # uncompressed, header included
MAX_SMALL_OBJECT = 64 * 1024  # start.json, closed.json, a gap: what readers get(limit=...)
MAX_LINEAGE = 10_000  # a parent chain longer than this is a loop or hostile
VIEW_TYPES = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
GAP_REASONS = ("trimmed", "follower_down", "stream_replaced", "stream_disabled", "shard_lost")

_LABEL = re.compile(r"[0-9A-Za-z:._-]{1,64}", re.ASCII)
_SHARD = re.compile(r"[0-9A-Za-z_.-]{1,65}", re.ASCII)
_SEQUENCE = re.compile(r"[0-9]{1,40}", re.ASCII)
_SEGMENT_NAME = re.compile(r"([0-9]{40})-([0-9]{40})\.jsonl\.gz", re.ASCII)
_GAP_NAME = re.compile(r"([0-9]{8}T[0-9]{6}Z)-([0-9a-f]{6})\.json", re.ASCII)
_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


# ---- names ------------------------------------------------------------------------------------

def check_label(label: object) -> str:
    """A StreamLabel usable in a key: 1-64 of [0-9A-Za-z:._-], not `.`, `..` or `gaps`.
    Raises ValueError."""
    if type(label) is not str or not _LABEL.fullmatch(label) or label in (".", "..", GAPS_DIR):
        raise ValueError("is not a stream label (1-64 of letters, digits, ':', '.', '_', '-')")
    return label


def check_shard_id(shard_id: object) -> str:
    """A ShardId: 1-65 of [0-9A-Za-z_.-], not `.` or `..`. Raises ValueError."""
    if type(shard_id) is not str or not _SHARD.fullmatch(shard_id) or shard_id in (".", ".."):
        raise ValueError("is not a shard id (1-65 of letters, digits, '_', '.', '-')")
    return shard_id


def parse_sequence(text: object) -> int:
    """A sequence number (a string of 1-40 ASCII digits) as an integer. Raises ValueError."""
    if type(text) is not str or not _SEQUENCE.fullmatch(text):
        raise ValueError("is not a sequence number (1-40 ASCII digits)")
    return int(text)


def label_of_stream_arn(stream_arn: str) -> str:
    """The StreamLabel of `arn:...:table/NAME/stream/LABEL`. Raises ValueError."""
    table_part, sep, label = stream_arn.rpartition("/stream/")
    if not sep or not table_part:
        raise ValueError("is not a stream ARN (…:table/NAME/stream/LABEL)")
    return check_label(label)


def _padded(sequence: int | str) -> str:
    number = parse_sequence(sequence) if isinstance(sequence, str) else sequence
    if type(number) is not int or not 0 <= number < 10 ** SEQUENCE_DIGITS:
        raise ValueError("is not a sequence number (1-40 ASCII digits)")
    return f"{number:040d}"


def changes_prefix(prefix: str, table: str) -> str:
    """`<prefix>/<table>/changes/`: everything of the change log, with a trailing slash."""
    return join(prefix, table, CHANGES_DIR) + "/"


def stream_prefix(prefix: str, table: str, label: str) -> str:
    return changes_prefix(prefix, table) + check_label(label) + "/"


def shard_prefix(prefix: str, table: str, label: str, shard_id: str) -> str:
    """What to list to find a shard's segments and closed.json (trailing slash)."""
    return stream_prefix(prefix, table, label) + check_shard_id(shard_id) + "/"


def segment_key(prefix: str, table: str, label: str, shard_id: str,
                first_seq: int | str, last_seq: int | str) -> str:
    return shard_prefix(prefix, table, label, shard_id) + f"{_padded(first_seq)}-{_padded(last_seq)}{SEGMENT_SUFFIX}"


def closed_key(prefix: str, table: str, label: str, shard_id: str) -> str:
    return shard_prefix(prefix, table, label, shard_id) + CLOSED_NAME


def start_key(prefix: str, table: str, label: str) -> str:
    return stream_prefix(prefix, table, label) + START_NAME


def gap_key(prefix: str, table: str, when: int | datetime, suffix: str) -> str:
    """`.../changes/gaps/<YYYYMMDDTHHMMSSZ>-<suffix>.json`; `suffix`: 6 lowercase hex digits."""
    if not re.fullmatch(r"[0-9a-f]{6}", suffix, re.ASCII):
        raise ValueError("gap key suffix is not 6 lowercase hex digits")
    stamp = _as_datetime(when).strftime("%Y%m%dT%H%M%SZ")
    return changes_prefix(prefix, table) + f"{GAPS_DIR}/{stamp}-{suffix}.json"


@dataclass(frozen=True, slots=True)
class LogKey:
    """What a key under `changes/` names. kind: "segment" | "closed" | "start" | "gap".
    label: the stream label (None for a gap); shard_id: for a segment and closed.json;
    first_seq/last_seq: for a segment; name: the last part of the key."""

    kind: str
    label: str | None
    shard_id: str | None
    first_seq: int | None
    last_seq: int | None
    name: str


def parse_log_key(relative: str) -> LogKey:
    """A key relative to `<prefix>/<table>/changes/` (changes_prefix). Raises BadLine for a key
    that is none of the four kinds (an odd part, '..', a first sequence past the last)."""
    parts = relative.split("/") if type(relative) is str else []
    try:
        if len(parts) == 2 and parts[0] == GAPS_DIR and (gap := _GAP_NAME.fullmatch(parts[1])):
            _parse_stamp(gap.group(1))
            return LogKey("gap", None, None, None, None, parts[1])
        if len(parts) == 2 and parts[1] == START_NAME:
            return LogKey("start", check_label(parts[0]), None, None, None, parts[1])
        if len(parts) == 3:
            label, shard_id = check_label(parts[0]), check_shard_id(parts[1])
            if parts[2] == CLOSED_NAME:
                return LogKey("closed", label, shard_id, None, None, parts[2])
            if segment := _SEGMENT_NAME.fullmatch(parts[2]):
                first, last = int(segment.group(1)), int(segment.group(2))
                if first <= last:
                    return LogKey("segment", label, shard_id, first, last, parts[2])
    except ValueError:
        pass
    raise BadLine("is not a change-log key (<label>/start.json, <label>/<shard>/<first>-<last>.jsonl.gz, "
                  "<label>/<shard>/closed.json or gaps/<YYYYMMDDTHHMMSSZ>-<hex6>.json)")


# ---- time -------------------------------------------------------------------------------------

def _as_datetime(when: int | datetime) -> datetime:
    if isinstance(when, datetime):
        return when.astimezone(timezone.utc)
    return datetime.fromtimestamp(when, timezone.utc)


def utc_text(when: int | float | datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` of epoch seconds (floored) or an aware datetime."""
    if not isinstance(when, datetime):
        when = math.floor(when)
    return _as_datetime(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_stamp(text: str) -> int:
    return int(datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp())


def parse_utc(text: object, field: str = "time") -> int:
    """Epoch seconds of `YYYY-MM-DDTHH:MM:SSZ`. Raises BadLine naming `field`."""
    if type(text) is str and _UTC.fullmatch(text):
        try:
            return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())
        except ValueError:
            pass
    raise BadLine(f"{field} is not a UTC time YYYY-MM-DDTHH:MM:SSZ")


def _record_time(value: object) -> int:
    """ApproximateCreationDateTime (a JSON number, 0 to year 9999) floored to whole epoch seconds."""
    if type(value) in (int, float) and math.isfinite(value) and 0 <= value <= _MAX_EPOCH:
        return math.floor(value)
    raise BadLine("dynamodb.ApproximateCreationDateTime is not epoch seconds")


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
    time_s = _record_time(body.get("ApproximateCreationDateTime"))
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
        "first_sequence": _sequence_text(records[0].raw), "last_sequence": _sequence_text(records[-1].raw),
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


def _sequence_text(raw: bytes) -> str:
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


def _loads_object(data: bytes, what: str) -> dict:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"{what} is not one JSON object ({exc.msg})") from None
    if type(value) is not dict:
        raise BadLine(f"{what} is not one JSON object")
    return value


def _check_version(value: object, what: str) -> None:
    if type(value) is not str or not re.fullmatch(r"[0-9]{1,4}\.[0-9]{1,4}", value, re.ASCII):
        raise BadLine(f"{what}'s change_log is not a version MAJOR.MINOR")
    if value.split(".")[0] != _MAJOR:
        raise BadLine(f"{what} is change log format {value}; this ddbvault reads {_MAJOR}.x")


def _fields(obj: dict, names: tuple[str, ...], what: str) -> None:
    if set(obj) != set(names):
        missing, extra = sorted(set(names) - set(obj)), sorted(set(obj) - set(names))
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown fields ({len(extra)})"
        raise BadLine(f"{what} {problem}")


def _text(obj: dict, name: str, what: str, *, nullable: bool = False, limit: int = 2048) -> str | None:
    value = obj[name]
    if value is None and nullable:
        return None
    if type(value) is not str or not 1 <= len(value) <= limit:
        raise BadLine(f"{what}'s {name} is not a string of 1-{limit} characters")
    return value


def _sequence_field(obj: dict, name: str, what: str, *, nullable: bool = False) -> str | None:
    value = obj[name]
    if value is None and nullable:
        return None
    try:
        parse_sequence(value)
    except ValueError:
        raise BadLine(f"{what}'s {name} is not a sequence number (1-40 ASCII digits)") from None
    return value


def _shard_field(obj: dict, name: str, what: str, *, nullable: bool = False) -> str | None:
    value = obj[name]
    if value is None and nullable:
        return None
    try:
        return check_shard_id(value)
    except ValueError:
        raise BadLine(f"{what}'s {name} is not a shard id") from None


def _stream_arn(obj: dict, what: str) -> str:
    value = _text(obj, "stream_arn", what)
    try:
        label_of_stream_arn(value)
    except ValueError:
        raise BadLine(f"{what}'s stream_arn is not a stream ARN with a valid label") from None
    return value


def _view_type(obj: dict, what: str) -> str:
    if obj["stream_view_type"] not in VIEW_TYPES:
        raise BadLine(f"{what}'s stream_view_type is not NEW_IMAGE or NEW_AND_OLD_IMAGES")
    return obj["stream_view_type"]


def parse_header(line: bytes) -> SegmentHeader:
    """A segment's first line (without its newline), checked alone: fields and their types.
    What needs the records (count, sums, order) is parse_segment's. Raises BadLine."""
    what = "the segment header"
    obj = _loads_object(line, what)
    if "change_log" in obj:
        _check_version(obj["change_log"], what)
    _fields(obj, HEADER_FIELDS, what)
    count = obj["count"]
    if type(count) is not int:
        raise BadLine(f"{what}'s count is not an integer")
    sha = obj["records_sha256"]
    if type(sha) is not str or not _HEX.fullmatch(sha):
        raise BadLine(f"{what}'s records_sha256 is not 64 lowercase hex digits")
    return SegmentHeader(
        change_log=obj["change_log"], tool_version=_text(obj, "tool_version", what, limit=64),
        table=_text(obj, "table", what, limit=255), table_arn=_text(obj, "table_arn", what),
        stream_arn=_stream_arn(obj, what), stream_view_type=_view_type(obj, what),
        shard_id=_shard_field(obj, "shard_id", what),
        parent_shard_id=_shard_field(obj, "parent_shard_id", what, nullable=True),
        continues_from=_sequence_field(obj, "continues_from", what, nullable=True),
        first_sequence=_sequence_field(obj, "first_sequence", what),
        last_sequence=_sequence_field(obj, "last_sequence", what),
        count=count, first_time=parse_utc(obj["first_time"], "first_time"),
        last_time=parse_utc(obj["last_time"], "last_time"), records_sha256=sha,
        written_at=parse_utc(obj["written_at"], "written_at"))


# ---- start.json, closed.json, gaps ------------------------------------------------------------

START_FIELDS = ("change_log", "table", "stream_arn", "stream_view_type", "covered_from", "written_at")
CLOSED_FIELDS = ("change_log", "shard_id", "last_sequence", "closed_at")
GAP_FIELDS = ("change_log", "table", "from", "to", "reason", "stream_arn", "shard_id", "detected_at")


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
    obj = _loads_object(data, what)
    if "change_log" in obj:
        _check_version(obj["change_log"], what)
    _fields(obj, names, what)
    return obj


def parse_start(data: bytes) -> StartRecord:
    obj = _small(data, START_FIELDS, "start.json")
    return StartRecord(_text(obj, "table", "start.json", limit=255), _stream_arn(obj, "start.json"),
                       _view_type(obj, "start.json"), parse_utc(obj["covered_from"], "covered_from"),
                       parse_utc(obj["written_at"], "written_at"))


def parse_closed(data: bytes) -> ClosedRecord:
    obj = _small(data, CLOSED_FIELDS, "closed.json")
    return ClosedRecord(_shard_field(obj, "shard_id", "closed.json"),
                        _sequence_field(obj, "last_sequence", "closed.json", nullable=True),
                        parse_utc(obj["closed_at"], "closed_at"))


def parse_gap(data: bytes) -> GapRecord:
    obj = _small(data, GAP_FIELDS, "the gap")
    if obj["reason"] not in GAP_REASONS:
        raise BadLine(f"the gap's reason is not one of {', '.join(GAP_REASONS)}")
    from_s = None if obj["from"] is None else parse_utc(obj["from"], "from")
    to_s = parse_utc(obj["to"], "to")
    if from_s is not None and from_s > to_s:
        raise BadLine("the gap's from is after its to")
    return GapRecord(_text(obj, "table", "the gap", limit=255), from_s, to_s, obj["reason"],
                     _stream_arn(obj, "the gap"), _shard_field(obj, "shard_id", "the gap", nullable=True),
                     parse_utc(obj["detected_at"], "detected_at"))


# ---- order ------------------------------------------------------------------------------------

def descends_from(shard_id: str, ancestor: str, parents: Mapping[str, str | None]) -> bool:
    """True when `ancestor` is a (grand…)parent of `shard_id` in `parents` (shard -> parent
    shard or None). A chain longer than MAX_LINEAGE (a loop) raises BadLine."""
    current = parents.get(shard_id)
    for _ in range(MAX_LINEAGE):
        if current is None:
            return False
        if current == ancestor:
            return True
        current = parents.get(current)
    raise BadLine(f"shard lineage is longer than {MAX_LINEAGE:,} shards (a loop in parent_shard_id)")


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
