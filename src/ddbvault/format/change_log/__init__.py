"""The change log, format 1.0 (docs/format.md, "The change log"): a table's stream records in the vault.

Under a destination, beside the table's backups (`changes` is not a backup id):

    <prefix>/<table>/changes/<label>/start.json                              coverage start
    <prefix>/<table>/changes/<label>/<shard-id>/<first>-<last>.jsonl.gz      a segment
    <prefix>/<table>/changes/<label>/<shard-id>/closed.json                  shard fully read
    <prefix>/<table>/changes/gaps/<YYYYMMDDTHHMMSSZ>-<hex6>.json             a gap
    <prefix>/<table>/changes/<label>/polls/<YYYYMMDDTHHMMSSZ>-<hex6>.json    a poll record

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

The modules: names.py (constants, labels, shard ids, sequences, keys, times), segments.py (records
and segments), objects.py (start.json, closed.json, gaps, poll records; the order of records), fields.py (the
checks the objects share). Import the names from here: `from ddbvault.format import change_log as cl`.
"""


from __future__ import annotations

from .names import (  # noqa: F401 - the contract's names, in one place
    SEGMENT_FORMAT, MAJOR, CHANGES_DIR, GAPS_DIR, POLLS_DIR, poll_key, START_NAME, CLOSED_NAME, SEGMENT_SUFFIX, SEQUENCE_DIGITS,
    MAX_SEGMENT_RECORDS, MAX_SEGMENT_BYTES, MAX_SMALL_OBJECT, MAX_LINEAGE, MAX_LOG_KEYS, VIEW_TYPES, EVENT_NAMES,
    GAP_REASONS, SEGMENT_TAG_KEY, SEGMENT_TAG_VALUE, SEGMENT_TAGGING, check_label, check_shard_id, parse_sequence, label_of_stream_arn, changes_prefix,
    stream_prefix, shard_prefix, segment_key, closed_key, start_key, gap_key, LogKey, parse_log_key,
    utc_text, parse_utc, record_time,
)
from .segments import (  # noqa: F401 - the contract's names, in one place
    StreamRecord, parse_record, HEADER_FIELDS, GIVEN_FIELDS, SegmentHeader, build_segment, parse_segment,
    MAX_HEADER_LINE, read_header, parse_header,
)
from .objects import (  # noqa: F401 - the contract's names, in one place
    START_FIELDS, CLOSED_FIELDS, GAP_FIELDS, StartRecord, ClosedRecord, GapRecord, start_object,
    closed_object, gap_object, parse_start, parse_closed, parse_gap, descends_from, is_newer, record_identity,
    fingerprint, POLL_FIELDS, MAX_POLL_SHARDS, PollRecord, poll_object, parse_poll,
)

__all__ = [
    "SEGMENT_FORMAT", "MAJOR", "CHANGES_DIR", "GAPS_DIR", "START_NAME", "CLOSED_NAME", "SEGMENT_SUFFIX",
    "SEQUENCE_DIGITS", "MAX_SEGMENT_RECORDS", "MAX_SEGMENT_BYTES", "MAX_SMALL_OBJECT", "MAX_LINEAGE", "MAX_LOG_KEYS",
    "VIEW_TYPES", "EVENT_NAMES", "GAP_REASONS", "SEGMENT_TAG_KEY", "SEGMENT_TAG_VALUE", "SEGMENT_TAGGING", "check_label", "check_shard_id", "parse_sequence",
    "label_of_stream_arn", "changes_prefix", "stream_prefix", "shard_prefix", "segment_key",
    "closed_key", "start_key", "gap_key", "LogKey", "parse_log_key", "utc_text", "parse_utc",
    "record_time", "StreamRecord", "parse_record", "HEADER_FIELDS", "GIVEN_FIELDS", "SegmentHeader",
    "build_segment", "parse_segment", "MAX_HEADER_LINE", "read_header", "parse_header", "START_FIELDS",
    "CLOSED_FIELDS", "GAP_FIELDS", "StartRecord", "ClosedRecord", "GapRecord", "start_object",
    "closed_object", "gap_object", "parse_start", "parse_closed", "parse_gap", "descends_from", "is_newer",
    "record_identity", "fingerprint", "POLLS_DIR", "poll_key", "POLL_FIELDS", "MAX_POLL_SHARDS", "PollRecord",
    "poll_object", "parse_poll",
]
