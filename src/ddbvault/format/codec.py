"""Data lines and compression: the byte format of a backup's data objects.

A data object is a sequence of lines, each `{"Item": {<DynamoDB JSON>}}\\n`, exactly the line
format of DynamoDB's own export (so `data/` can be handed to ImportTable), compressed as a whole
with gzip, zstd, or not at all. Items stay in DynamoDB's wire JSON form from Scan response to
data line: S/N as strings, B as base64, so every value round-trips bit-exact.

Pure: no I/O besides the byte streams given to it.
"""

from __future__ import annotations

import base64
import zlib
from typing import Callable, Iterable, Iterator

import orjson
import zstandard
from isal import isal_zlib

COMPRESSIONS = ("gzip", "zstd", "none")
# gzip levels 1-3 use ISA-L (python-isal): standard gzip output for ~10x less CPU than zlib's
# default level 6 at a similar ratio. Levels 4-9 use zlib, for users who want its ratio.
DEFAULT_GZIP_LEVEL = 2
DEFAULT_ZSTD_LEVEL = 3
ISAL_MAX_LEVEL = 3
EXTENSIONS = {"gzip": ".json.gz", "zstd": ".json.zst", "none": ".json"}
IMPORT_COMPRESSION = {"gzip": "GZIP", "zstd": "ZSTD", "none": "NONE"}


# A data line is its item's wire JSON (what orjson.dumps gives) plus these bytes:
# `{"Item":` before it, `}` and the newline after it.
LINE_OVERHEAD = len(b'{"Item":}\n')


def encode_lines(items: Iterable[dict]) -> bytes:
    """Data lines for wire-form items, in order: `{"Item":<orjson.dumps(item)>}\\n` each.
    Raises orjson.JSONEncodeError (a TypeError) on what orjson cannot serialise."""
    return encode_lines_sized(items)[0]


def encode_lines_sized(items: Iterable[dict]) -> tuple[bytes, int]:
    """(data lines, bytes of the longest line) for wire-form items; the lines are exactly
    encode_lines'. The longest line less LINE_OVERHEAD is the largest item's wire-JSON length.
    (b"", 0) for no items. Raises orjson.JSONEncodeError (a TypeError) on what orjson cannot
    serialise. (Measured, bench/README.md: `+ b"\\n"` is faster than orjson's
    OPT_APPEND_NEWLINE, and one orjson.dumps of the whole page cut at its separators slower.)"""
    dumps = orjson.dumps
    lines = [dumps({"Item": item}) + b"\n" for item in items]
    return b"".join(lines), max(map(len, lines), default=0)


def decode_lines(data: bytes) -> Iterator[dict]:
    """Wire-form items from data lines. Raises ValueError on a line that is not a data line."""
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        record = orjson.loads(line)
        if not isinstance(record, dict) or not isinstance(record.get("Item"), dict):
            raise ValueError(f"line {number} is not a {{\"Item\": ...}} data line")
        yield record["Item"]


class Compressor:
    """Streaming compressor: feed(bytes) and finish() return compressed bytes to write."""

    def __init__(self, compression: str, level: int | None = None):
        if compression not in COMPRESSIONS:
            raise ValueError(f"unknown compression {compression!r}; use one of {COMPRESSIONS}")
        self.compression = compression
        if compression == "gzip":
            level = DEFAULT_GZIP_LEVEL if level is None else level
            if not 1 <= level <= 9:
                raise ValueError(f"gzip compression level must be 1-9, got {level}")
            engine = isal_zlib if level <= ISAL_MAX_LEVEL else zlib
            # wbits=31: a gzip container, what ImportTable's GZIP expects.
            obj = engine.compressobj(level, engine.DEFLATED, 31)
            self._feed: Callable[[bytes], bytes] = obj.compress
            self._finish: Callable[[], bytes] = obj.flush
        elif compression == "zstd":
            level = DEFAULT_ZSTD_LEVEL if level is None else level
            if not 1 <= level <= 22:
                raise ValueError(f"zstd compression level must be 1-22, got {level}")
            obj = zstandard.ZstdCompressor(level=level).compressobj()
            self._feed, self._finish = obj.compress, obj.flush
        else:
            self._feed, self._finish = (lambda data: data), (lambda: b"")

    def feed(self, data: bytes) -> bytes:
        return self._feed(data)

    def finish(self) -> bytes:
        return self._finish()


# Bounds on what one data object may expand to in memory (a decompression bomb: 4 MB of gzip
# can hold 4 GiB of zeros). Output is handed on in pieces of at most MAX_PIECE bytes, and no line
# may exceed MAX_LINE_BYTES.
MAX_PIECE = 1024 * 1024
# A data line is one item: at most 400 KB as DynamoDB counts it, but its wire JSON is larger (an
# empty string in a list counts 1 byte and is written `{"S":""},`: 9 bytes; worst cases are ~9x,
# so ~3.6 MB). BatchWriteItem caps a whole request at 16 MB, so no longer line could ever be
# restored: 16 MiB refuses nothing real and bounds a bomb's line.
MAX_LINE_BYTES = 16 * 1024 * 1024
# zstd emits at most one 128 KiB block per 4 input bytes (an RLE block: 3-byte header + 1 byte),
# so feeding it this many bytes at a time bounds one call's output to 2 MiB + one block.
# Measured: slicing costs under 20% of decompression time at this size.
ZSTD_SLICE = 64
TRAILING = "data after the end of the compressed stream"


class Decompressor:
    """Streaming decompressor in bounded memory.

    `feed(compressed)` yields the decompressed bytes in pieces of at most `max_piece` bytes
    (zstd: at most 2 MiB + 128 KiB); the input is consumed only as the pieces are taken, so the
    caller must exhaust the iterator before feeding more. Raises ValueError on corrupt input
    (the caller names the object).
    """

    def __init__(self, compression: str, max_piece: int = MAX_PIECE):
        self._max = max_piece
        if compression == "gzip":
            self._obj = isal_zlib.decompressobj(47)  # 47: gzip or zlib header, auto-detected
            self._pieces: Callable[[bytes], Iterator[bytes]] = self._zlib_pieces
        elif compression == "zstd":
            self._obj = zstandard.ZstdDecompressor().decompressobj()
            self._pieces = self._zstd_pieces
        else:
            self._obj = None
            self._pieces = self._plain_pieces

    def feed(self, data: bytes) -> Iterator[bytes]:
        if data and self._obj is not None and self._obj.eof:
            raise ValueError(TRAILING)
        try:
            yield from self._pieces(data)
        except (isal_zlib.error, zlib.error, zstandard.ZstdError) as exc:
            raise ValueError(f"corrupt compressed data: {exc}") from exc

    def _zlib_pieces(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        while not obj.eof:
            piece = obj.decompress(data, self._max)
            data = obj.unconsumed_tail
            if piece:
                yield piece
            if not data and len(piece) < self._max:  # a full piece may leave output pending
                break

    def _zstd_pieces(self, data: bytes) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(view), ZSTD_SLICE):
            if self._obj.eof:
                raise ValueError(TRAILING)
            piece = self._obj.decompress(view[start:start + ZSTD_SLICE])
            if piece:
                yield piece

    def _plain_pieces(self, data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), self._max):
            yield data[start:start + self._max]

    def check_complete(self) -> None:
        """Raises ValueError if the compressed stream has not reached its end, or went on after it
        (a second gzip member or zstd frame, which a one-stream reader would silently drop)."""
        if self._obj is None:
            return
        if not self._obj.eof:
            raise ValueError("compressed stream ends early (truncated object)")
        if self._obj.unused_data:
            raise ValueError(TRAILING)


def split_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Non-empty lines (without the newline) from a stream of byte chunks.

    Memory: one chunk plus one line. Raises ValueError naming the line (1-based, counting empty
    lines) as soon as a line exceeds `max_line` bytes, before it is held whole.
    """
    head: list[bytes] = []  # the start of a line that later chunks continue
    pending = number = 0
    for chunk in chunks:
        lines = chunk.split(b"\n")
        tail = lines.pop()
        if lines:
            if head:
                head.append(lines[0])
                lines[0], head, pending = b"".join(head), [], 0
            for line in lines:
                number += 1
                if len(line) > max_line:
                    raise ValueError(_too_long(number, max_line))
                if line and not line.isspace():
                    yield line
        if tail:
            head.append(tail)
            pending += len(tail)
            if pending > max_line:
                raise ValueError(_too_long(number + 1, max_line))
    line = b"".join(head)
    if line and not line.isspace():
        yield line


def _too_long(number: int, limit: int) -> str:
    return (f"line {number} is longer than {limit:,} bytes, more than any DynamoDB item's line "
            "can be (a decompression bomb or a corrupted object)")


def decompress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return isal_zlib.decompress(data, 47)  # 47: gzip or zlib header, auto-detected
    if compression == "zstd":
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


def compression_of_key(key: str) -> str:
    """Compression by file name: ours (.json.gz, .json.zst, .json) and DynamoDB export's (.gz)."""
    for name, ext in EXTENSIONS.items():
        if key.endswith(ext):
            return name
    if key.endswith(".gz"):
        return "gzip"
    if key.endswith((".zst", ".zstd")):
        return "zstd"
    raise ValueError(f"cannot tell the compression of {key!r}")


# --- key conversion between wire form and boto3's low-level client form ---------------------

def key_for_client(key: dict) -> dict:
    """A LastEvaluatedKey in wire form -> the form boto3's client serializes (B as bytes)."""
    return {name: ({"B": base64.b64decode(value["B"])} if "B" in value else value)
            for name, value in key.items()}


def to_wire(value):
    """An attribute value from boto3's low-level client form to wire form (B/BS as base64)."""
    (kind, inner), = value.items()
    if kind == "B":
        return {"B": base64.b64encode(bytes(inner)).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(bytes(b)).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: to_wire(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [to_wire(v) for v in inner]}
    return {kind: inner}


def item_to_wire(item: dict) -> dict:
    return {name: to_wire(value) for name, value in item.items()}

