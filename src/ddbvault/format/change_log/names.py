"""Change log format 1.0: names and times — constants, stream labels, shard ids, sequence numbers,
the object keys and their parsing, and UTC times in whole seconds. Pure."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from ..dataline import BadLine
from ..layout import join

SEGMENT_FORMAT = "1.0"
MAJOR = "1"
CHANGES_DIR = "changes"
GAPS_DIR = "gaps"
POLLS_DIR = "polls"  # <label>/polls/: poll records (a shard id never is "polls": AWS's begin "shardId-")
START_NAME = "start.json"
CLOSED_NAME = "closed.json"
SEGMENT_SUFFIX = ".jsonl.gz"
SEQUENCE_DIGITS = 40
MAX_SEGMENT_RECORDS = 100_000
MAX_SEGMENT_BYTES = 64 * 1024 * 1024  # uncompressed, header included
MAX_SMALL_OBJECT = 64 * 1024  # start.json, closed.json, a gap: what readers get(limit=...)
MAX_LOG_KEYS = 1_000_000  # objects under one table's changes/ that followers write and readers list
MAX_LINEAGE = 10_000  # a parent chain longer than this is a loop or hostile
VIEW_TYPES = ("NEW_IMAGE", "NEW_AND_OLD_IMAGES")
EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
GAP_REASONS = ("trimmed", "follower_down", "stream_replaced", "stream_disabled", "shard_lost")
# The S3 object tag every segment carries (sent with its PutObject): a lifecycle rule filtered by it
# and the table's changes/ prefix expires segments and never start.json, closed.json or a gap.
SEGMENT_TAG_KEY = "ddbvault-log"
SEGMENT_TAG_VALUE = "segment"
SEGMENT_TAGGING = f"{SEGMENT_TAG_KEY}={SEGMENT_TAG_VALUE}"  # URL-encoded, as PutObject's Tagging takes it

_LABEL = re.compile(r"[0-9A-Za-z:._-]{1,64}", re.ASCII)
_SHARD = re.compile(r"[0-9A-Za-z_.-]{1,65}", re.ASCII)
_SEQUENCE = re.compile(r"[0-9]{1,40}", re.ASCII)
_SEGMENT_NAME = re.compile(r"([0-9]{40})-([0-9]{40})\.jsonl\.gz", re.ASCII)
_GAP_NAME = re.compile(r"([0-9]{8}T[0-9]{6}Z)-([0-9a-f]{6})\.json", re.ASCII)
_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", re.ASCII)
_MAX_EPOCH = 253402300799  # 9999-12-31T23:59:59Z


# ---- names ------------------------------------------------------------------------------------

def check_label(label: object) -> str:
    """A StreamLabel usable in a key: 1-64 of [0-9A-Za-z:._-], not `.`, `..` or `gaps`.
    Raises ValueError."""
    if type(label) is not str or not _LABEL.fullmatch(label) or label in (".", "..", GAPS_DIR):
        raise ValueError("is not a stream label (1-64 of letters, digits, ':', '.', '_', '-')")
    return label


def check_shard_id(shard_id: object) -> str:
    """A ShardId: 1-65 of [0-9A-Za-z_.-], not `.`, `..` or `polls`. Raises ValueError."""
    if type(shard_id) is not str or not _SHARD.fullmatch(shard_id) or shard_id in (".", "..", POLLS_DIR):
        raise ValueError("is not a shard id (1-65 of letters, digits, '_', '.', '-'; not 'polls')")
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


def poll_key(prefix: str, table: str, label: str, when: int | datetime, suffix: str) -> str:
    """`.../changes/<label>/polls/<YYYYMMDDTHHMMSSZ>-<suffix>.json` (`when`: the poll's
    polled_at); `suffix`: 6 lowercase hex digits. Keys sort by polled_at."""
    if not re.fullmatch(r"[0-9a-f]{6}", suffix, re.ASCII):
        raise ValueError("poll key suffix is not 6 lowercase hex digits")
    stamp = _as_datetime(when).strftime("%Y%m%dT%H%M%SZ")
    return stream_prefix(prefix, table, label) + f"{POLLS_DIR}/{stamp}-{suffix}.json"


@dataclass(frozen=True, slots=True)
class LogKey:
    """What a key under `changes/` names. kind: "segment" | "closed" | "start" | "gap" | "poll".
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
    that is none of the five kinds (an odd part, '..', a first sequence past the last)."""
    parts = relative.split("/") if type(relative) is str else []
    try:
        if len(parts) == 2 and parts[0] == GAPS_DIR and (gap := _GAP_NAME.fullmatch(parts[1])):
            _parse_stamp(gap.group(1))
            return LogKey("gap", None, None, None, None, parts[1])
        if len(parts) == 2 and parts[1] == START_NAME:
            return LogKey("start", check_label(parts[0]), None, None, None, parts[1])
        if len(parts) == 3:
            if parts[1] == POLLS_DIR and (poll := _GAP_NAME.fullmatch(parts[2])):
                _parse_stamp(poll.group(1))
                return LogKey("poll", check_label(parts[0]), None, None, None, parts[2])
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
                  "<label>/<shard>/closed.json, <label>/polls/<YYYYMMDDTHHMMSSZ>-<hex6>.json or "
                  "gaps/<YYYYMMDDTHHMMSSZ>-<hex6>.json)")


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


def record_time(value: object) -> int:
    """ApproximateCreationDateTime (a JSON number, 0 to year 9999) floored to whole epoch seconds."""
    if type(value) in (int, float) and math.isfinite(value) and 0 <= value <= _MAX_EPOCH:
        return math.floor(value)
    raise BadLine("dynamodb.ApproximateCreationDateTime is not epoch seconds")

