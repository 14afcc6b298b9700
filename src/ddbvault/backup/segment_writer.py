"""Turns one attempt of a scan segment's pages into staged data objects: lines, compression,
sha256, roll-over.

One SegmentWriter per segment attempt (not thread-safe). Objects are named
`data/<segment>-<seq><ext>`; a new object starts once the current one holds `object_size`
stored bytes. Objects are STAGED, not made visible (ObjectStore.open_staged_writer: an open S3
multipart upload, or a local file under the attempt's staging/ directory): only the attempt that
wins the segment completes them (backup/work.py, docs/scale.md). Each staged object yields a
StagedObject (key, items, stored bytes, sha256 of the stored bytes, how to complete it).
Knows the ObjectStore interface only, not S3.
"""

from __future__ import annotations

import hashlib

from ..format.codec import EXTENSIONS, Compressor, encode_lines
from ..format.layout import BackupLayout
from ..format.plan import StagedObject, segment_object_name, staging_key
from ..storage.base import ObjectStore, StagedWriter


class _OpenObject:
    def __init__(self, writer: StagedWriter, compressor: Compressor):
        self.writer = writer
        self.compressor = compressor
        self.sha = hashlib.sha256()
        self.items = 0
        self.stored = 0

    def put(self, data: bytes) -> None:
        if data:
            self.sha.update(data)
            self.stored += len(data)
            self.writer.write(data)


class SegmentWriter:
    def __init__(self, store: ObjectStore, layout: BackupLayout, segment: int, *, attempt_id: str,
                 compression: str, level: int | None, object_size: int):
        self.store = store
        self.layout = layout
        self.segment = segment
        self.attempt_id = attempt_id
        self.compression = compression
        self.level = level
        self.object_size = object_size
        self.objects: list[StagedObject] = []
        self.raw_bytes = 0
        self._open: _OpenObject | None = None

    def write_items(self, items: list[dict]) -> int:
        """Append items (wire form); returns the uncompressed line bytes written."""
        if not items:
            return 0
        return self.write_lines(encode_lines(items), len(items))

    def write_lines(self, lines: bytes, count: int) -> int:
        """Append `count` items given as data lines (format/codec.encode_lines' bytes, e.g. a
        ScanPage read with lines=True); returns the uncompressed line bytes written (len(lines))."""
        if not count:
            return 0
        if self._open is None:
            extension = EXTENSIONS[self.compression]
            key = self.layout.data_key(self.segment, len(self.objects), extension)
            staged = staging_key(self.layout.root, self.attempt_id,
                                 segment_object_name(self.segment, len(self.objects), extension))
            self._open = _OpenObject(self.store.open_staged_writer(key, staged),
                                     Compressor(self.compression, self.level))
        current = self._open
        current.put(current.compressor.feed(lines))
        current.items += count
        self.raw_bytes += len(lines)
        if current.stored >= self.object_size:
            self._commit()
        return len(lines)

    def _commit(self) -> None:
        """Stage the open object. On any failure the writer is aborted (an S3 multipart upload
        is never left open), and the object is forgotten either way."""
        current = self._open
        try:
            current.put(current.compressor.finish())
            completion = current.writer.stage()
        except BaseException:
            current.writer.abort()
            raise
        finally:
            self._open = None
        self.objects.append(StagedObject(self.layout.relative(current.writer.key), current.items,
                                         current.stored, current.sha.hexdigest(), completion))

    def finish(self) -> list[StagedObject]:
        """Stage the open object, if any; returns every object this attempt staged."""
        if self._open is not None:
            self._commit()
        return self.objects

    def abort(self) -> None:
        """Discard the open object and every object this attempt staged (it did not win)."""
        if self._open is not None:
            self._open.writer.abort()
            self._open = None
        self.discard()

    def discard(self) -> None:
        """Drop the staged objects: a losing or failed attempt cleans up its own uploads."""
        for obj in self.objects:
            self.store.discard_staged(self.layout.root + "/" + obj.key, obj.completion)
        self.objects = []
