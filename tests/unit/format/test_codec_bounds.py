"""codec.Decompressor and split_lines stay in bounded memory, whatever the object holds."""

from __future__ import annotations


import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ddbvault.format.codec import (MAX_LINE_BYTES, ZSTD_SLICE, Compressor, Decompressor, encode_lines,
                            split_lines)

MIB = 1024 * 1024
ZSTD_BLOCK = 128 * 1024


def _bomb(compression: str, size: int, byte: bytes = b"0") -> bytes:
    comp = Compressor(compression, 9 if compression == "gzip" else 19)
    chunk = byte * MIB
    return b"".join(comp.feed(chunk) for _ in range(size // MIB)) + comp.finish()


def _pieces(decompressor: Decompressor, data: bytes, chunk: int = MIB):
    for start in range(0, len(data), chunk):
        yield from decompressor.feed(data[start:start + chunk])


@pytest.mark.parametrize("compression, bound", [
    ("gzip", 64 * 1024), ("zstd", ZSTD_SLICE // 4 * ZSTD_BLOCK + ZSTD_BLOCK), ("none", 64 * 1024)])
def test_each_piece_of_a_bomb_is_bounded(compression, bound):
    data = _bomb(compression, 64 * MIB) if compression != "none" else b"0" * (4 * MIB)
    decompressor = Decompressor(compression, max_piece=64 * 1024)
    total = 0
    for piece in _pieces(decompressor, data):
        assert len(piece) <= bound
        total += len(piece)
    decompressor.check_complete()
    assert total == (64 * MIB if compression != "none" else 4 * MIB)


@settings(max_examples=40, deadline=None)
@given(compression=st.sampled_from(["gzip", "zstd", "none"]), chunk=st.integers(1, 5000),
       piece=st.integers(1, 3000), n=st.integers(0, 300))
def test_round_trip_whatever_the_chunk_and_piece_sizes(compression, chunk, piece, n):
    items = [{"pk": {"S": f"k{i}"}, "v": {"N": str(i * 7)}} for i in range(n)]
    comp = Compressor(compression)
    data = comp.feed(encode_lines(items)) + comp.finish()
    decompressor = Decompressor(compression, max_piece=piece)
    lines = list(split_lines(_pieces(decompressor, data, chunk)))
    decompressor.check_complete()
    assert lines == encode_lines(items).splitlines()


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_truncated_and_trailing_streams_are_refused(compression):
    comp = Compressor(compression)
    data = comp.feed(b'{"Item":{}}\n' * 1000) + comp.finish()
    short = Decompressor(compression)
    list(_pieces(short, data[:-6]))
    with pytest.raises(ValueError, match="ends early"):
        short.check_complete()
    second = Decompressor(compression)  # a second gzip member / zstd frame would be dropped
    with pytest.raises(ValueError, match="after the end"):
        list(_pieces(second, data + data, chunk=len(data) * 2))
        second.check_complete()


def test_corrupt_data_is_a_value_error():
    with pytest.raises(ValueError, match="corrupt"):
        list(Decompressor("gzip").feed(b"not gzip at all" * 10))
    with pytest.raises(ValueError, match="corrupt"):
        list(Decompressor("zstd").feed(b"\x28\xb5\x2f\xfd" + b"\xff" * 50))


def test_split_lines_keeps_lines_across_chunks_and_skips_blank_ones():
    chunks = [b'{"a"', b':1}\n\n  \n{"b":2}', b"\n", b'{"c":3}']
    assert list(split_lines(chunks)) == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_a_line_longer_than_the_bound_is_refused_before_it_is_held_whole():
    seen = []

    def chunks():
        yield b"ok\n\n"
        for _ in range(100):  # a line that never ends
            seen.append(1)
            yield b"0" * 1000

    with pytest.raises(ValueError, match=r"line 3 is longer than 4,096 bytes"):
        list(split_lines(chunks(), max_line=4096))
    assert len(seen) == 5, "read on past the bound"


def test_a_long_line_inside_one_chunk_is_refused():
    with pytest.raises(ValueError, match="line 2 is longer"):
        list(split_lines([b"short\n" + b"x" * 5000 + b"\nshort\n"], max_line=4096))


def test_the_line_bound_admits_the_largest_real_item():
    """A ~400 KB item whose wire JSON is ~9x larger: a list of 400,000 empty strings."""
    line = encode_lines([{"pk": {"S": "k"}, "l": {"L": [{"S": ""}] * 400_000}}])
    assert 3 * MIB < len(line) < MAX_LINE_BYTES
    assert list(split_lines([line[i:i + MIB] for i in range(0, len(line), MIB)])) == [line[:-1]]


def test_zstd_slice_bound_holds_for_the_worst_ratio():
    data = zstandard.ZstdCompressor(level=19).compress(b"\0" * (256 * MIB))
    assert len(data) * 32 * 1024 > 256 * MIB * 0.99  # the ratio the slice size assumes (~32768:1)
    decompressor = Decompressor("zstd")
    assert max(len(p) for p in decompressor.feed(data)) <= 2 * MIB + ZSTD_BLOCK
