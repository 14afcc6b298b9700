"""Change records and their replay: what an incremental export (and, later, a stream) holds.

A change is (keys, new_image | None, time): the item's key attributes, its whole new image
(None: the item was deleted) and when it was written (microseconds since the epoch). Replaying
changes puts each new image and deletes each key without one; replaying the same changes again
changes nothing (idempotent), as only each key's last change is applied (`final_changes`).

An incremental export's data line (DynamoDB developer guide, "Incremental export output"):

    {"Metadata":{"WriteTimestampMicros":{"N":"..."}},"Keys":{...},"NewImage":{...},"OldImage":{...}}

NewImage is absent for a deleted item; OldImage is absent for a new item, and with the
NEW_IMAGE view type. `parse_change_line` checks a line as strictly as dataline.parse_line checks
an item line (valid attribute values, the table's key) and raises BadLine naming no value.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

import orjson

from .dataline import BadLine, KeySpec, key_fingerprint, parse_line

_FIELDS = {"Metadata", "Keys", "NewImage", "OldImage"}
_MICROS = re.compile(r"[0-9]{1,20}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Change:
    """One write to one item: its key attributes (wire form), its new image (None: deleted) and
    the write's time in microseconds since the epoch."""

    keys: dict
    new_image: dict | None
    time_us: int

    @property
    def fingerprint(self) -> bytes:
        return key_fingerprint(self.keys)


def parse_change_line(line: bytes, key: KeySpec | None) -> Change:
    """One incremental-export line as a Change. Raises BadLine (no value in its message)."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not one JSON object ({exc.msg})") from None
    if type(record) is not dict or not set(record) <= _FIELDS or "Keys" not in record or "Metadata" not in record:
        raise BadLine('not a {"Metadata", "Keys", "NewImage"?, "OldImage"?} change record')
    micros = record["Metadata"].get("WriteTimestampMicros") if type(record["Metadata"]) is dict else None
    # ASCII digits, at most 20 (microseconds since the epoch need 16 to year 2286): str.isdigit()
    # takes other scripts' digits, and int() refuses a string past 4,300 digits (ValueError)
    if type(micros) is not dict or type(micros.get("N")) is not str or not _MICROS.fullmatch(micros["N"]):
        raise BadLine("Metadata.WriteTimestampMicros is not a number of microseconds")
    keys = _checked_image(record["Keys"], "Keys", key)
    new_image = record.get("NewImage")
    if new_image is not None:
        _checked_image(new_image, "NewImage", key)
        image_key = parse_line(orjson.dumps({"Item": new_image}), key)[1] if key else None
        if image_key is not None and key_fingerprint(image_key) != key_fingerprint(keys):
            raise BadLine("NewImage's key differs from Keys")
    if "OldImage" in record:
        _checked_image(record["OldImage"], "OldImage", key)
    return Change(keys, new_image, int(micros["N"]))


def _checked_image(image, field: str, key: KeySpec | None) -> dict:
    """`image` checked as an item (dataline's rules); for Keys, exactly the table's key."""
    if type(image) is not dict:
        raise BadLine(f"{field} is not an object")
    try:
        _, found = parse_line(orjson.dumps({"Item": image}), key)
    except BadLine as exc:
        raise BadLine(f"{field}: {exc}") from None
    if field == "Keys" and found is not None and len(image) != len(found):
        raise BadLine("Keys holds attributes that are not the table's key")
    return found if found is not None else image


def final_changes(changes: Iterable[Change]) -> list[Change]:
    """The last change of each key, by time (a later record wins a tie), in first-seen key
    order. Applying these is applying all of them, once."""
    last: dict[bytes, Change] = {}
    for change in changes:
        fingerprint = change.fingerprint
        earlier = last.get(fingerprint)
        if earlier is None or change.time_us >= earlier.time_us:
            last[fingerprint] = change
    return list(last.values())


def request_of(change: Change) -> bytes:
    """The BatchWriteItem element that applies `change`: a PutRequest of its new image, or a
    DeleteRequest of its keys. Serialised by orjson from checked values."""
    if change.new_image is not None:
        return orjson.dumps({"PutRequest": {"Item": change.new_image}})
    return orjson.dumps({"DeleteRequest": {"Key": change.keys}})
