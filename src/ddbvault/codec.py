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


def encode_lines(items: Iterable[dict]) -> bytes:
    """Data lines for wire-form items, in order."""
    dumps = orjson.dumps
    return b"".join([dumps({"Item": item}) + b"\n" for item in items])


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


class Decompressor:
    """Streaming decompressor: feed(compressed) returns what it could decompress so far.

    Raises ValueError on corrupt input (the caller names the object)."""

    def __init__(self, compression: str):
        if compression == "gzip":
            obj = isal_zlib.decompressobj(47)
            self._feed: Callable[[bytes], bytes] = obj.decompress
            self._eof = lambda: obj.eof
        elif compression == "zstd":
            zobj = zstandard.ZstdDecompressor().decompressobj()
            self._feed = zobj.decompress
            self._eof = lambda: zobj.eof
        else:
            self._feed, self._eof = (lambda data: data), (lambda: True)

    def feed(self, data: bytes) -> bytes:
        try:
            return self._feed(data)
        except (isal_zlib.error, zlib.error, zstandard.ZstdError) as exc:
            raise ValueError(f"corrupt compressed data: {exc}") from exc

    def check_complete(self) -> None:
        if not self._eof():
            raise ValueError("compressed stream ends early (truncated object)")


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Non-empty lines (without the newline) from a stream of byte chunks."""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (line for line in lines if line.strip())
    if rest.strip():
        yield rest


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

