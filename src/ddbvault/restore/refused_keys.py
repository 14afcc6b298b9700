"""RefusedKeys: the items a target table refused, by key, in a file the user can act on.

A new table can refuse items its source held: DynamoDB keeps an item whose attribute has the
wrong type for a GSI added later out of that index, but a table created with the GSI rejects
the item (ValidationException, for the whole BatchWriteItem). restore writes everything else,
then fails naming these items by key (never by value) and listing every one of them here, one
JSON line each, keys in wire form:

    {"Key": {"pk": {"S": "legacy"}}, "object": "s3://.../data/000000-0000.json.gz", "line": 61}

The file is created on the first refusal (replacing one left by an earlier run) and flushed
after each line. More than `limit` refusals stop the run: something refuses items wholesale,
and naming a million keys one bisection at a time would only hide that. Thread-safe.
"""

from __future__ import annotations

import threading
from pathlib import Path

import orjson

from ..errors import IntegrityError
from ..dynamodb.write_batch import Put

__all__ = ["MAX_REFUSED", "RefusedKeys"]

MAX_REFUSED = 1000
SHOWN = 5  # keys named in the error message; the file has them all


class RefusedKeys:
    def __init__(self, path: Path, limit: int = MAX_REFUSED):
        self.path, self.limit = Path(path), limit
        self.count = 0
        self.shown: list[str] = []
        self._file = None
        self._lock = threading.Lock()

    def add(self, where: str, put: Put) -> None:
        """Record one refused item. Raises IntegrityError once more than `limit` are refused."""
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "wb")
            self._file.write(orjson.dumps({"Key": put.key, "object": where, "line": put.line}) + b"\n")
            self._file.flush()
            self.count += 1
            if len(self.shown) < SHOWN:
                self.shown.append(orjson.dumps(put.key).decode())
        if self.count > self.limit:
            raise IntegrityError(f"the table refused more than {self.limit} items (ValidationException), "
                                 f"stopping; their keys are in {self.path}",
                                 hint="compare the backup's schema with the target table's (index key "
                                      "types, item size limits) before restoring again")

    def error(self, table: str, total: int, backup_url: str) -> IntegrityError:
        """The run's failure once it has written everything else."""
        more = ", …" if self.count > len(self.shown) else ""
        return IntegrityError(
            f"restore into {table}: the table refused {self.count:,} of {total:,} items "
            f"(ValidationException: e.g. an attribute whose type does not match a secondary index's "
            f"key); every other item is written. Refused keys: {', '.join(self.shown)}{more}; all "
            f"{self.count:,} are in {self.path}",
            hint=f"fix or remove the offending attributes (or the index), write those items from "
                 f"the backup, then `ddbvault verify {backup_url} --against-table {table}`; see "
                 "docs/restore.md")

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
