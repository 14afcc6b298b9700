"""A data object that expands without bound (a decompression bomb) fails in bounded memory.

Each case streams a bomb through backup_ref.stream_lines, what verify and restore read with, in
a fresh Python process, and measures that process's peak RSS (psutil). Before the bound, one
1 MiB read of a gzip bomb decompressed at once to ~1 GiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
STREAM = textwrap.dedent("""
    import hashlib, json, sys, psutil
    from ddbvault.backup_ref import OpenedBackup, stream_lines
    from ddbvault.codec import Compressor
    from ddbvault.errors import IntegrityError
    from ddbvault.layout import BackupLayout, Destination
    from ddbvault.manifest import DataObject
    from ddbvault.stores import LocalStore

    root, compression, ext, size, body = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    chunk = (b'{"Item":{"pk":{"S":"k"}}}\\n' * 40_000)[:1 << 20] if body == "lines" else b"0" * (1 << 20)
    comp = Compressor(compression, 9 if compression == "gzip" else 19)
    data = b"".join(comp.feed(chunk) for _ in range(size)) + comp.finish()
    key = "data/000000-0000" + ext
    store = LocalStore(root)
    store.put_new("t/20260101T000000Z-abcdef/" + key, data)
    obj = DataObject(key, 1, len(data), hashlib.sha256(data).hexdigest())
    backup = OpenedBackup(store, Destination("local", root), BackupLayout("", "t", "20260101T000000Z-abcdef"), None)
    before, lines, error = psutil.Process().memory_info().rss, 0, None
    try:
        for line in stream_lines(backup, obj):
            lines += 1
    except IntegrityError as exc:
        error = exc.message
    import resource
    print(json.dumps({"lines": lines, "error": error, "compressed": len(data), "before": before,
                      "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
""")


def _stream(tmp_path, compression: str, ext: str, size_mib: int, body: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", STREAM, str(tmp_path), compression, ext, str(size_mib), body],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("compression, ext", [("gzip", ".json.gz"), ("zstd", ".json.zst")])
def test_a_bomb_without_newlines_fails_naming_object_and_line_in_bounded_memory(tmp_path, compression, ext):
    result = _stream(tmp_path, compression, ext, 1024, "zeros")  # 1 GiB of "0", one line
    assert result["compressed"] < 2 * MIB
    assert "data/000000-0000" + ext in result["error"] and "line 1 is longer than" in result["error"]
    assert result["maxrss"] - result["before"] < 100 * MIB, result


def test_a_bomb_of_short_lines_streams_in_bounded_memory(tmp_path):
    """256 MiB of short lines: no line is too long, and memory stays flat while they stream
    (verify then refuses the object: it holds more items than its manifest entry says)."""
    result = _stream(tmp_path, "gzip", ".json.gz", 256, "lines")
    assert result["lines"] > 5_000_000 and result["error"] is None
    assert result["maxrss"] - result["before"] < 100 * MIB, result
