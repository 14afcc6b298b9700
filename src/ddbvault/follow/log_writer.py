"""Writing the change log: segments, closed.json, start.json, gaps and poll records, each create-only.

Every object is written with `ObjectStore.put_new` and never rewritten. Segments carry the S3 tag
`ddbvault-log=segment` (format/change_log.SEGMENT_TAGGING, sent with their PutObject), so that a
lifecycle rule by prefix and tag (`ddbvault iam --continuous --keep-changes DAYS`) expires them
and never start.json, closed.json or a gap, which are written untagged (docs/continuous.md,
"Retention without DeleteObject"). A segment's key names its
shard and sequence range, so an object that already exists under it holds the same records (a
second follower stored it first): that is logged and counted as not stored, never an error. The
same holds for closed.json and start.json.
"""

from __future__ import annotations

import io
import logging
import secrets
from dataclasses import dataclass

from ..aws.error_translation import malformed_response
from ..errors import IntegrityError
from ..format import change_log as cl
from ..format.dataline import BadLine, KeySpec
from ..storage.base import ObjectStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamMeta:
    """What every segment header of one stream repeats."""

    prefix: str
    table: str
    table_arn: str
    stream_arn: str
    label: str
    view_type: str
    key: KeySpec | None  # the table's key: every record's Keys is checked against it


class LogWriter:
    def __init__(self, store: ObjectStore, meta: StreamMeta, clock):
        self.store = store
        self.segments = store.tagged(cl.SEGMENT_TAGGING)  # the same store; segments carry the tag
        self.meta = meta
        self.clock = clock

    def segment(self, shard_id: str, parent: str | None, continues_from: str | None,
                lines: list[bytes]) -> tuple[cl.SegmentHeader, bool]:
        """Store `lines` (ascending sequence) as one segment; (its header, whether this call
        stored it). A record that is not a valid stream record is AWS's fault: AwsError."""
        m = self.meta
        fields = {"table": m.table, "table_arn": m.table_arn, "stream_arn": m.stream_arn,
                  "stream_view_type": m.view_type, "shard_id": shard_id, "parent_shard_id": parent,
                  "continues_from": continues_from}
        try:
            data = cl.build_segment(fields, lines, written_at=int(self.clock()), key=m.key)
            header = cl.read_header(io.BytesIO(data))
        except BadLine as exc:
            raise malformed_response(action="GetRecords", resource=f"{m.stream_arn} shard {shard_id}",
                                     reason=f"a stream record: {exc}") from None
        key = cl.segment_key(m.prefix, m.table, m.label, shard_id, header.first_sequence, header.last_sequence)
        return header, self._put(key, data, self.segments)

    def closed(self, shard_id: str, last_sequence: str | None) -> bool:
        data = cl.closed_object(cl.ClosedRecord(shard_id, last_sequence, int(self.clock())))
        return self._put(cl.closed_key(self.meta.prefix, self.meta.table, self.meta.label, shard_id), data)

    def start(self, covered_from: int) -> bool:
        m = self.meta
        data = cl.start_object(cl.StartRecord(m.table, m.stream_arn, m.view_type, covered_from, int(self.clock())))
        return self._put(cl.start_key(m.prefix, m.table, m.label), data)

    def gap(self, reason: str, from_s: int | None, to_s: int, shard_id: str | None,
            stream_arn: str | None = None) -> dict:
        """Store a gap object; returns it as a dict (what FollowResult.gaps lists)."""
        now = int(self.clock())
        record = cl.GapRecord(self.meta.table, from_s if from_s is None else min(from_s, to_s), to_s, reason,
                              stream_arn or self.meta.stream_arn, shard_id, now)
        self._put(cl.gap_key(self.meta.prefix, self.meta.table, now, secrets.token_hex(3)), cl.gap_object(record))
        log.warning("%s: a gap in the change log (%s) from %s to %s", self.meta.table, reason,
                    record.to_dict()["from"] or "an unknown time", record.to_dict()["to"])
        return record.to_dict()

    def poll(self, polled_at: int, shards: dict) -> cl.PollRecord:
        """Store a poll record: at `polled_at` every shard in `shards` (id -> last stored
        sequence | None) was read to its end. Returns it."""
        m = self.meta
        record = cl.PollRecord(m.table, m.stream_arn, polled_at, shards, max(polled_at, int(self.clock())))
        self._put(cl.poll_key(m.prefix, m.table, m.label, polled_at, secrets.token_hex(3)), cl.poll_object(record))
        return record

    def _put(self, key: str, data: bytes, store: ObjectStore | None = None) -> bool:
        try:
            (store or self.store).put_new(key, data)
            return True
        except IntegrityError:
            if not self.store.exists(key):
                raise
            log.info("%s exists already (another follower stored it); the same data, kept as it is",
                     self.store.url_of(key))
            return False

