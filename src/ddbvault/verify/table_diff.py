"""Comparing a backup's items with a live table's, by primary key, in bounded memory.

Pure: wire-form items in, counts and differences out. No I/O, no boto3.

Memory contract: the backup side keeps one entry per item, its encoded primary key and the
32-byte sha256 of the item's canonical encoding, never the item itself. Table items stream past
that index; a matched entry is dropped at once. Only the table items of the first
`max_differences` differing keys are kept, so that a second pass can name the attributes.

Canonical encoding: the wire form, with map keys sorted at every depth and the members of
SS, NS and BS sorted (a set has no order). Everything else is compared exactly: N as the digit
string DynamoDB returned, B as its base64.

Output contract (invariant 7): a Difference carries the item's key and attribute *names*, never
any other attribute value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import orjson

MISSING_FROM_TABLE = "missing_from_table"
ONLY_IN_TABLE = "only_in_table"
DIFFERS = "differs"
_SETS = ("SS", "NS", "BS")


def canonical(value: dict) -> dict:
    """One attribute value in canonical form: set members sorted, maps and lists recursed."""
    (kind, inner), = value.items()
    if kind in _SETS:
        return {kind: sorted(inner)}
    if kind == "M":
        return {"M": {name: canonical(v) for name, v in inner.items()}}
    if kind == "L":
        return {"L": [canonical(v) for v in inner]}
    return value


def canonical_bytes(item: dict) -> bytes:
    """The canonical encoding of a wire-form item: equal items, and only those, encode equal."""
    return orjson.dumps({name: canonical(v) for name, v in item.items()},
                        option=orjson.OPT_SORT_KEYS)


def item_digest(item: dict) -> bytes:
    """sha256 (32 raw bytes) of the item's canonical encoding."""
    return hashlib.sha256(canonical_bytes(item)).digest()


def encode_key(item: dict, key_names: tuple[str, ...]) -> str:
    """The item's primary key as compact JSON; ValueError if the item lacks a key attribute.

    A str, not orjson's bytes: orjson over-allocates small outputs (~4 KiB each), and a key is
    kept per backup item."""
    try:
        return orjson.dumps({name: item[name] for name in key_names}).decode()
    except KeyError as exc:
        raise ValueError(f"an item has no key attribute {exc.args[0]!r}") from None


def differing_attributes(backup_item: dict, table_item: dict) -> list[str]:
    """Names of the attributes present on one side only, or whose values differ (sorted)."""
    names = set(backup_item) | set(table_item)
    return sorted(n for n in names if n not in backup_item or n not in table_item
                  or canonical(backup_item[n]) != canonical(table_item[n]))


@dataclass(frozen=True)
class Difference:
    kind: str  # MISSING_FROM_TABLE, ONLY_IN_TABLE or DIFFERS
    key: dict  # wire form: {"pk": {"S": "..."}, ...}
    attributes: tuple[str, ...] = ()  # DIFFERS only: the names that differ

    def to_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "attributes": list(self.attributes)}

    def describe(self, table: str) -> str:
        key = orjson.dumps(self.key).decode()
        if self.kind == MISSING_FROM_TABLE:
            return f"table {table}: item {key} is in the backup but not in the table"
        if self.kind == ONLY_IN_TABLE:
            return f"table {table}: item {key} is in the table but not in the backup"
        return f"table {table}: item {key} differs in attributes: {', '.join(self.attributes)}"


@dataclass
class TableComparison:
    """The outcome of one comparison. `differences` holds at most max_differences entries."""

    table: str
    backup_items: int
    table_items: int
    missing_from_table: int
    only_in_table: int
    differing: int
    duplicate_backup_keys: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not (self.missing_from_table or self.only_in_table or self.differing
                    or self.duplicate_backup_keys)

    def to_dict(self) -> dict:
        return {"table": self.table, "matches": self.matches, "backup_items": self.backup_items,
                "table_items": self.table_items, "missing_from_table": self.missing_from_table,
                "only_in_table": self.only_in_table, "differing": self.differing,
                "duplicate_backup_keys": self.duplicate_backup_keys,
                "differences": [d.to_dict() for d in self.differences]}

    def lines(self) -> list[str]:
        """One line per reported difference, then a summary; nothing if the table matches."""
        if self.matches:
            return []
        found = self.missing_from_table + self.only_in_table + self.differing
        summary = (f"table {self.table}: {self.table_items} items, the backup has "
                   f"{self.backup_items}; {self.missing_from_table} missing from the table, "
                   f"{self.only_in_table} only in the table, {self.differing} differing "
                   f"(showing {len(self.differences)} of {found})")
        if self.duplicate_backup_keys:
            summary += f"; {self.duplicate_backup_keys} keys appear more than once in the backup"
        return [d.describe(self.table) for d in self.differences] + [summary]


class TableDiff:
    """Accumulates a comparison. Call order: add_backup_item()* (the whole backup), then
    add_table_item()* (the whole table), then finish(); then resolve() with backup items
    until it returns True (only needed if wanted() is non-empty), then result().
    Not thread-safe."""

    def __init__(self, table: str, key_names: tuple[str, ...], max_differences: int = 10):
        self.table, self.key_names, self.max_differences = table, key_names, max_differences
        self._digests: dict[str, bytes] = {}  # encoded key -> item digest
        self._found: list[tuple[str, str]] = []  # (kind, encoded key), at most max_differences
        self._table_items: dict[str, dict] = {}  # DIFFERS keys in _found -> the table's item
        self._attributes: dict[str, tuple[str, ...]] = {}
        self.backup_items = self.table_items = self.duplicates = 0
        self.counts = {MISSING_FROM_TABLE: 0, ONLY_IN_TABLE: 0, DIFFERS: 0}

    def add_backup_item(self, item: dict) -> None:
        key = encode_key(item, self.key_names)
        self.backup_items += 1
        if key in self._digests:
            self.duplicates += 1
        self._digests[key] = item_digest(item)

    def add_table_item(self, item: dict) -> None:
        key = encode_key(item, self.key_names)
        self.table_items += 1
        digest = self._digests.pop(key, None)
        if digest is None:
            self._record(ONLY_IN_TABLE, key)
        elif digest != item_digest(item) and self._record(DIFFERS, key):
            self._table_items[key] = item

    def finish(self) -> None:
        """Every backup key the table did not have is missing from it."""
        for key in self._digests:
            self._record(MISSING_FROM_TABLE, key)
        self._digests.clear()

    def _record(self, kind: str, key: str) -> bool:
        """Count a difference; True if it is one of the reported ones."""
        self.counts[kind] += 1
        if len(self._found) >= self.max_differences:
            return False
        self._found.append((kind, key))
        return True

    def wanted(self) -> set[str]:
        """Keys of reported DIFFERS entries whose backup item resolve() has not seen yet."""
        return set(self._table_items)

    def resolve(self, backup_item: dict) -> bool:
        """Name the differing attributes if `backup_item` is wanted; True once none is wanted."""
        key = encode_key(backup_item, self.key_names)
        table_item = self._table_items.pop(key, None)
        if table_item is not None:
            self._attributes[key] = tuple(differing_attributes(backup_item, table_item))
        return not self._table_items

    def result(self) -> TableComparison:
        differences = [Difference(kind, orjson.loads(key), self._attributes.get(key, ()))
                       for kind, key in self._found]
        return TableComparison(self.table, self.backup_items, self.table_items,
                               self.counts[MISSING_FROM_TABLE], self.counts[ONLY_IN_TABLE],
                               self.counts[DIFFERS], self.duplicates, differences)
