"""A data object that expands without bound (a decompression bomb) fails in bounded memory.

Each case writes a bomb as a backup's data object, then streams it through
vault/reader.stream_lines (what verify and restore read with) in a fresh Python process, and
measures how far that process's peak RSS (VmHWM, which a new process starts afresh) grew while
it streamed. Before the bound, one 1 MiB read of a gzip bomb decompressed at once to ~1 GiB.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

from ddbvault.format.codec import Compressor
from ddbvault.storage import LocalStore

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
BACKUP = "t/20260101T000000Z-abcdef"
STREAM = textwrap.dedent("""
    import json, sys
    from ddbvault.errors import IntegrityError
    from ddbvault.format.layout import BackupLayout
    from ddbvault.format.manifest import DataObject
    from ddbvault.storage import LocalStore
    from ddbvault.storage.destination import Destination
    from ddbvault.vault.reader import OpenedBackup, stream_lines

    def status(field):
        line = next(l for l in open("/proc/self/status") if l.startswith(field + ":"))
        return int(line.split()[1]) * 1024

    root, key, size, sha256 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    backup = OpenedBackup(LocalStore(root), Destination("local", root),
                          BackupLayout("", "t", "20260101T000000Z-abcdef"), None)
    before, lines, error = status("VmRSS"), 0, None
    try:
        for line in stream_lines(backup, DataObject(key, 1, size, sha256)):
            lines += 1
    except IntegrityError as exc:
        error = exc.message
    print(json.dumps({"lines": lines, "error": error, "growth": status("VmHWM") - before}))
""")


def _stream_bomb(tmp_path, compression: str, ext: str, size_mib: int, chunk: bytes) -> dict:
    comp = Compressor(compression, 9 if compression == "gzip" else 3)
    data = b"".join(comp.feed(chunk) for _ in range(size_mib)) + comp.finish()
    assert len(data) < 2 * MIB
    key = "data/000000-0000" + ext
    LocalStore(str(tmp_path)).put_new(f"{BACKUP}/{key}", data)
    proc = subprocess.run([sys.executable, "-c", STREAM, str(tmp_path), key, str(len(data)),
                           hashlib.sha256(data).hexdigest()], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("compression, ext", [("gzip", ".json.gz"), ("zstd", ".json.zst")])
def test_a_bomb_without_newlines_fails_naming_object_and_line_in_bounded_memory(tmp_path, compression, ext):
    result = _stream_bomb(tmp_path, compression, ext, 1024, b"0" * MIB)  # 1 GiB of "0": one line
    error = result["error"] or ""
    assert "data/000000-0000" + ext in error and "line 1 is longer than" in error, result
    assert result["growth"] < 100 * MIB, result


def test_a_bomb_of_short_lines_streams_in_bounded_memory(tmp_path):
    """256 MiB of short lines: no line is too long, and memory stays flat while they stream
    (verify then refuses the object: it holds more items than its manifest entry says)."""
    line = b'{"Item":{"pk":{"S":"k"}}}\n'
    result = _stream_bomb(tmp_path, "gzip", ".json.gz", 256, line * (MIB // len(line)) + b"\n" * (MIB % len(line)))
    assert result["lines"] > 5_000_000 and result["error"] is None
    assert result["growth"] < 100 * MIB, result
