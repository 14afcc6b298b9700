"""KeySet: which item keys a run has already seen, in bounded memory, to count duplicates.

restore and verify must say how many distinct keys a backup holds, and which lines repeat a key,
whatever the table's size (invariant 5: memory is bounded by configuration). A Python set of
16-byte fingerprints costs ~100 bytes per key in RAM (a billion items: ~100 GB), so the
fingerprints live in SQLite (stdlib `sqlite3`) instead: a private, temporary on-disk database
(`sqlite3.connect("")`, which SQLite deletes when the connection closes), with a page cache
capped at CACHE_KIB. Measured: 23 MB of disk and ~9 µs CPU per key at a million keys. Fingerprints are `dataline.key_fingerprint`
(BLAKE2b-128: a false "duplicate" needs ~2^64 keys).

Thread-safe: one lock around the connection. Not pure (it writes a temporary file), no boto3.
"""

from __future__ import annotations

import sqlite3
import threading

__all__ = ["KeySet"]

CACHE_KIB = 16 * 1024  # SQLite's page cache; the rest of the database stays on disk
_CHUNK = 500  # host parameters per statement, well under SQLite's limit


class KeySet:
    def __init__(self) -> None:
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        for pragma in (f"cache_size=-{CACHE_KIB}", "journal_mode=OFF", "synchronous=OFF"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE keys (fp BLOB PRIMARY KEY) WITHOUT ROWID")
        self._lock = threading.Lock()
        self.count = 0  # distinct fingerprints added

    def add(self, fingerprints: list[bytes]) -> list[int]:
        """Add fingerprints; returns the indexes of those seen before (earlier calls or earlier
        in this list), in order. One statement per _CHUNK: INSERT OR IGNORE ... RETURNING names
        the rows it inserted (SQLite >= 3.35), so everything else was there already."""
        repeated = []
        with self._lock:
            for start in range(0, len(fingerprints), _CHUNK):
                chunk = fingerprints[start:start + _CHUNK]
                rows = self._db.execute(f"INSERT OR IGNORE INTO keys VALUES {','.join(['(?)'] * len(chunk))} "
                                        "RETURNING fp", chunk).fetchall()
                new = {row[0] for row in rows}
                for index, fp in enumerate(chunk, start):
                    if fp in new:
                        new.discard(fp)  # its first occurrence in this chunk; any later one repeats it
                    else:
                        repeated.append(index)
                self.count += len(rows)
        return repeated

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "KeySet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
