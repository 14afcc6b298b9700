"""The vault is the follower's checkpoint: what the change log already holds, read back.

One listing of `<prefix>/<table>/changes/` (bounded by MAX_LOG_KEYS) gives, for every stream
label, whether its start.json exists and, per shard, the largest last sequence of its segments
and whether its closed.json exists. A few objects are then read on demand: a segment's header
(its first line only, format.change_log.read_header), start.json.

A follower run in passes (a service job) may instead start from the checkpoint its previous
pass left in memory (FollowMemory, Carried): the vault is still what a new process reads.

A key under `changes/` that is none of the change log's kinds is refused (IntegrityError naming
it): the follower never writes one, so it is damage or tampering, not something to skip.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..errors import IntegrityError
from ..format import change_log as cl
from ..format.dataline import BadLine
from ..storage.base import ObjectStore

MAX_LOG_KEYS = cl.MAX_LOG_KEYS  # what restore, list and history read: no follower writes a log they refuse
POLLS_KEPT = 3  # poll records remembered per stream from the listing: the newest, by key order


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
    polls: list[str] = field(default_factory=list)  # the newest POLLS_KEPT poll keys, ascending

    def newest_segment(self) -> str | None:
        """The key of the segment with the largest last sequence across the stream: sequence
        numbers grow with time across a stream's shards, so it is the newest one written."""
        keyed = [(c.last_seq, c.last_key) for c in self.shards.values() if c.last_key]
        return max(keyed)[1] if keyed else None


@dataclass(frozen=True)
class Carried:
    """One stream's checkpoint as the previous pass of this process left it: per shard the
    last sequence it stored or found (`last_key` unset) and whether its closed.json exists,
    `read_at` the wall clock (epoch seconds) when that pass ended: the follower was reading the
    stream until then, so a next pass within 23 h has no follower_down gap to record. `target`
    names what it is the checkpoint of: (the table as given, the change log's URL)."""

    target: tuple[str, str]
    state: StreamState
    read_at: float
    lost_reported: frozenset[str] = frozenset()  # parents a shard_lost gap was written for
    # The newest written_at (epoch s) of a segment, poll record or start.json of this stream that
    # the pass wrote or found, and the newest poll record it wrote or trusted: the next pass
    # decides when to write a poll record, and whether a trim lost anything, without listing.
    last_written: float | None = None
    poll: cl.PollRecord | None = None


class FollowMemory:
    """What a caller that runs the follower in passes (a service job: service/follow_jobs.py)
    keeps between them, so that a pass starts from the last pass's checkpoint instead of listing
    the whole change log. The vault stays the checkpoint across restarts: a new process has an
    empty memory and lists; so does a pass after a failed one (`take` empties the memory, and
    only a pass that ends normally fills it again).

    A carried checkpoint can only lag behind the vault (another follower may have stored more
    since): the pass then reads those records again and stores segments that overlap the other
    follower's, which readers de-duplicate, as with two followers at once. One FollowMemory
    serves one job; a checkpoint of another table or destination is never used."""

    def __init__(self) -> None:
        self._carried: Carried | None = None
        self._lock = threading.Lock()

    def take(self, target: tuple[str, str]) -> Carried | None:
        with self._lock:
            carried, self._carried = self._carried, None
        return carried if carried is not None and carried.target == target else None

    def keep(self, carried: Carried) -> None:
        with self._lock:
            self._carried = carried


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
        if parsed.kind == "poll":  # keys come in ascending order: keep the newest few
            stream.polls = (stream.polls + [key])[-POLLS_KEPT:]
            continue
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


def trusted_poll(store: ObjectStore, meta, state: StreamState) -> cl.PollRecord | None:
    """The newest of the stream's remembered poll records whose shard positions the vault's
    segments reach (a poll is never trusted beyond what is stored); None: none. Reads at most
    POLLS_KEPT small objects. Raises IntegrityError for one that does not parse or names
    another table or stream."""
    for key in reversed(state.polls):
        try:
            poll = cl.parse_poll(store.get(key, limit=cl.MAX_SMALL_OBJECT))
        except BadLine as exc:
            raise IntegrityError(f"{store.url_of(key)}: {exc}",
                                 hint="the change log holds a damaged poll record; check the bucket's "
                                      "writers") from None
        if poll.table != meta.table or poll.stream_arn != meta.stream_arn:
            raise IntegrityError(f"{store.url_of(key)} is a poll record of another table or stream",
                                 hint="the change log holds a foreign poll record; check the bucket's writers")
        if all(seq is None or (shard_id in state.shards and state.shards[shard_id].last_seq is not None
                               and state.shards[shard_id].last_seq >= int(seq))
               for shard_id, seq in poll.shards.items()):
            return poll
    return None
