"""The vault is the follower's checkpoint: what the change log already holds, read back.

One listing of `<prefix>/<table>/changes/` (bounded by MAX_LOG_KEYS) gives, for every stream
label, whether its start.json exists and, per shard, the largest last sequence of its segments
and whether its closed.json exists. A few objects are then read on demand: a segment's header
(its first line only, format.change_log.read_header), start.json.

A key under `changes/` that is none of the change log's kinds is refused (IntegrityError naming
it): the follower never writes one, so it is damage or tampering, not something to skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import IntegrityError
from ..format import change_log as cl
from ..format.dataline import BadLine
from ..storage.base import ObjectStore

MAX_LOG_KEYS = cl.MAX_LOG_KEYS  # what restore, list and history read: no follower writes a log they refuse


@dataclass
class ShardCheckpoint:
    """A shard as the vault has it: its newest segment (largest last sequence) and closed.json."""

    last_seq: int | None = None
    last_key: str | None = None
    closed: bool = False


@dataclass
class StreamState:
    label: str
    has_start: bool = False
    shards: dict[str, ShardCheckpoint] = field(default_factory=dict)

    def newest_segment(self) -> str | None:
        """The key of the segment with the largest last sequence across the stream: sequence
        numbers grow with time across a stream's shards, so it is the newest one written."""
        keyed = [(c.last_seq, c.last_key) for c in self.shards.values() if c.last_key]
        return max(keyed)[1] if keyed else None


def _bad_key(store: ObjectStore, key: str, exc: BadLine) -> IntegrityError:
    return IntegrityError(f"{store.url_of(key[:300])}: {exc}",
                          hint="the follower writes only change-log objects under changes/; move this "
                               "object out of the prefix (it is not something ddbvault wrote)")


def read_log_state(store: ObjectStore, prefix: str, table: str) -> dict[str, StreamState]:
    """Every stream label of the table's change log with its StreamState. Gaps are not read.
    Raises IntegrityError for a foreign key or a listing over MAX_LOG_KEYS."""
    base = cl.changes_prefix(prefix, table)
    streams: dict[str, StreamState] = {}
    for count, key in enumerate(store.list_keys(base), 1):
        if count > MAX_LOG_KEYS:
            raise IntegrityError(f"{store.url_of(base)} holds more than {MAX_LOG_KEYS:,} objects, the most "
                                 "ddbvault lists of one table's change log (restore could not read more)",
                                 hint="follow into a new destination prefix, and take a base backup there")
        try:
            parsed = cl.parse_log_key(key[len(base):])
        except BadLine as exc:
            raise _bad_key(store, key, exc) from None
        if parsed.kind == "gap":
            continue
        stream = streams.setdefault(parsed.label, StreamState(parsed.label))
        if parsed.kind == "start":
            stream.has_start = True
            continue
        shard = stream.shards.setdefault(parsed.shard_id, ShardCheckpoint())
        if parsed.kind == "closed":
            shard.closed = True
        elif shard.last_seq is None or parsed.last_seq > shard.last_seq:
            shard.last_seq, shard.last_key = parsed.last_seq, key
    return streams


def read_header(store: ObjectStore, key: str) -> cl.SegmentHeader:
    """A segment's header, its first line only. Raises IntegrityError for a bad one."""
    reader = store.open_reader(key)
    try:
        return cl.read_header(reader)
    except BadLine as exc:
        raise IntegrityError(f"{store.url_of(key)}: {exc}",
                             hint="the change log holds a damaged segment; check the bucket's writers") from None
    finally:
        reader.close()


def read_start(store: ObjectStore, prefix: str, table: str, label: str) -> cl.StartRecord:
    key = cl.start_key(prefix, table, label)
    try:
        return cl.parse_start(store.get(key, limit=cl.MAX_SMALL_OBJECT))
    except BadLine as exc:
        raise IntegrityError(f"{store.url_of(key)}: {exc}",
                             hint="the change log's start.json is damaged; check the bucket's writers") from None
