"""Turns one scan segment's pages into data objects: lines, compression, sha256, roll-over.

One SegmentWriter per segment worker (not thread-safe). Objects are named
`data/<segment>-<seq><ext>`; a new object starts once the current one holds `object_size`
stored bytes. Each committed object yields a manifest DataObject (key, items, stored bytes,
sha256 of the stored bytes). Knows the ObjectStore interface only, not S3.
"""

from __future__ import annotations

import hashlib

from ..format.codec import EXTENSIONS, Compressor, encode_lines
from ..format.layout import BackupLayout
from ..format.manifest import DataObject
from ..storage.base import ObjectStore, ObjectWriter


class _OpenObject:
    def __init__(self, writer: ObjectWriter, compressor: Compressor):
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
    def __init__(self, store: ObjectStore, layout: BackupLayout, segment: int, *,
                 compression: str, level: int | None, object_size: int):
        self.store = store
        self.layout = layout
        self.segment = segment
        self.compression = compression
        self.level = level
        self.object_size = object_size
        self.objects: list[DataObject] = []
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
            key = self.layout.data_key(self.segment, len(self.objects), EXTENSIONS[self.compression])
            self._open = _OpenObject(self.store.open_writer(key), Compressor(self.compression, self.level))
        current = self._open
        current.put(current.compressor.feed(lines))
        current.items += count
        self.raw_bytes += len(lines)
        if current.stored >= self.object_size:
            self._commit()
        return len(lines)

    def _commit(self) -> None:
        """Close the open object. On any failure the writer is aborted (an S3 multipart upload
        is never left open), and the object is forgotten either way."""
        current = self._open
        try:
            current.put(current.compressor.finish())
            current.writer.close()
        except BaseException:
            current.writer.abort()
            raise
        finally:
            self._open = None
        self.objects.append(DataObject(self.layout.relative(current.writer.key), current.items,
                                       current.stored, current.sha.hexdigest()))

    def finish(self) -> list[DataObject]:
        """Commit the open object, if any; returns every object this segment committed."""
        if self._open is not None:
            self._commit()
        return self.objects

    def abort(self) -> None:
        """Discard the open object. Committed objects stay: they are inert without a manifest."""
        if self._open is not None:
            self._open.writer.abort()
            self._open = None
