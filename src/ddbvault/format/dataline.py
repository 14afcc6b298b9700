"""One data line, checked: exactly `{"Item": {<attr>: {<one type descriptor>: value}}}`. Pure.

restore and verify both read every line through `parse_line()`, so whatever verify passes is
what restore will send, and a line restore refuses is one verify reports. A line is accepted
only if it is one JSON object (orjson: nothing after it, not two on a line) whose only field is
`Item`, every attribute of which is a valid DynamoDB attribute value, recursively:

    S     a string                      N     a DynamoDB number string (below)
    B     base64                        BOOL  true or false
    SS    non-empty, distinct strings   NULL  true
    NS    non-empty, distinct numbers   M     a map of attribute values
    BS    non-empty, distinct base64    L     a list of attribute values

Numbers, per the DynamoDB developer guide, "Supported data types and naming rules": up to 38
significant digits (leading and trailing zeros do not count), magnitude 1E-130 to
9.9999999999999999999999999999999999999E+125, or zero. Top-level attribute names are non-empty
(nested map keys may be empty); nesting is at most MAX_DEPTH levels deep. The table's key attributes
must be present with the key schema's type, and an S or B key must not be empty.

Errors are `BadLine`, whose message names the attribute and what is wrong with it and never
contains an attribute value (invariant 7). The item that comes back is what restore serialises
into its own request with orjson (`encode_put`): a line's bytes never reach a request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from decimal import Context, Decimal

import orjson

__all__ = ["BadLine", "KeySpec", "encode_put", "key_fingerprint", "parse_line"]

# DynamoDB allows "nested attributes up to 32 levels deep"; how it counts levels is not written
# down, so the bound here is twice that: it keeps the recursion bounded, and DynamoDB itself
# refuses what it does not take (restore then names the item by key).
MAX_DEPTH = 64
MAX_DIGITS = 38
MIN_EXPONENT, MAX_EXPONENT = -130, 125  # adjusted exponent of 1E-130 and 9.99...E+125
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?").fullmatch  # fast path, for <= 38 characters
_CANONICAL_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?").fullmatch  # one spelling per value
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?").fullmatch
_CONTEXT = Context(prec=MAX_DIGITS)  # normalising a <= 38-digit number is then exact


class BadLine(ValueError):
    """A data line that is not a valid `{"Item": ...}` line. The message holds no value."""


@dataclass(frozen=True)
class KeySpec:
    """The table's primary key: ((name, "S"|"N"|"B"), ...), partition key first."""

    attributes: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, schema: dict | None) -> "KeySpec | None":
        """From a KeySchema + AttributeDefinitions pair (a manifest's schema or DescribeTable's
        Table); None when the schema has no key (a native export's empty schema)."""
        try:
            keys = (schema or {}).get("KeySchema") or []
            types = {d["AttributeName"]: d["AttributeType"] for d in (schema or {}).get("AttributeDefinitions") or []}
            if not keys or any(k["AttributeName"] not in types for k in keys):
                return None
            ordered = sorted(keys, key=lambda k: k["KeyType"] != "HASH")
            return cls(tuple((k["AttributeName"], types[k["AttributeName"]]) for k in ordered))
        except (KeyError, TypeError, AttributeError):  # a malformed schema: no key to check against
            return None


def parse_line(line: bytes, key: KeySpec | None) -> tuple[dict, dict | None]:
    """(item, key) of one data line; key is the item's key attributes (None without a KeySpec).
    Raises BadLine."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not one JSON object ({exc.msg})") from None
    if type(record) is not dict or len(record) != 1 or type(record.get("Item")) is not dict:
        raise BadLine('not a {"Item": {...}} object with nothing else in it')
    item = record["Item"]
    if not item:
        raise BadLine("the item has no attributes")
    for name, value in item.items():
        if not name:
            raise BadLine("an attribute has an empty name")
        try:
            _check_value(value, 1)
        except BadLine as exc:
            raise _nest(exc, "attribute " + _name(name)) from None
    return item, (_key_of(item, key) if key else None)


def _name(name: str) -> str:
    """An attribute name for a message: JSON-quoted, cut at 64 characters."""
    return orjson.dumps(name if len(name) <= 64 else name[:63] + "…").decode()


def _check_value(value, depth: int) -> None:
    """Hot path: one branch per descriptor, most common first, no call for scalars."""
    if type(value) is not dict or len(value) != 1:
        raise BadLine("is not an object with exactly one type descriptor")
    for kind, inner in value.items():
        pass
    if kind == "S":
        if type(inner) is not str:
            raise BadLine("S is not a string")
    elif kind == "N":
        _number(inner)
    elif kind == "M":
        _map(inner, depth)
    elif kind == "L":
        _list(inner, depth)
    elif kind == "B":
        _binary(inner)
    elif kind == "BOOL":
        if type(inner) is not bool:
            raise BadLine("BOOL is not true or false")
    elif kind == "NULL":
        if inner is not True:
            raise BadLine("NULL is not true")
    elif kind in _SETS:
        _set(kind, inner)
    else:
        raise BadLine(f"has unknown type descriptor {_name(kind)}")


def _number(value) -> None:
    if type(value) is not str:
        raise BadLine("N is not a string")
    if len(value) <= MAX_DIGITS and _PLAIN_NUMBER(value):
        return  # at most 38 digits and no exponent: within every limit
    if not _NUMBER.fullmatch(value):
        raise BadLine("N is not a number")
    number = Decimal(value)
    if number.is_zero():
        return
    if len("".join(map(str, number.as_tuple().digits)).strip("0")) > MAX_DIGITS:
        raise BadLine(f"N has more than {MAX_DIGITS} significant digits")
    if not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        raise BadLine("N is outside DynamoDB's range (1E-130 to 9.9999999999999999999999999999999999999E+125)")


def _binary(value) -> None:
    if type(value) is not str:
        raise BadLine("B is not a base64 string")
    if not _BASE64(value):
        raise BadLine("B is not valid base64")


def _string(value) -> None:
    if type(value) is not str:
        raise BadLine("S is not a string")


_MEMBER_CHECKS = {"SS": _string, "NS": _number, "BS": _binary}


def _set(kind: str, value) -> None:
    """A non-empty list of valid, distinct members. NS members are compared by value ("1" and
    "1.0" are the same member) unless every one is spelled canonically, as DynamoDB returns
    numbers; BS members by their bytes."""
    if type(value) is not list or not value:
        raise BadLine(f"{kind} is not a non-empty list")
    check = _MEMBER_CHECKS[kind]
    for member in value:
        try:
            check(member)
        except BadLine as exc:
            raise BadLine(f"{kind} has a member that {str(exc).split(' ', 1)[1]}") from None
    distinct = len(set(value))
    if distinct == len(value) and kind == "NS" and not all(map(_is_canonical_number, value)):
        distinct = len(set(map(Decimal, value)))
    elif distinct == len(value) and kind == "BS":
        distinct = len(set(map(binascii.a2b_base64, value)))
    if distinct != len(value):
        raise BadLine(f"{kind} has duplicate members")


def _is_canonical_number(text: str) -> bool:
    return text != "-0" and _CANONICAL_NUMBER(text) is not None


_SETS = frozenset(_MEMBER_CHECKS)


def _map(value, depth: int) -> None:
    if type(value) is not dict:
        raise BadLine("M is not an object")
    _deeper(depth)
    for name, inner in value.items():
        try:
            _check_value(inner, depth + 1)
        except BadLine as exc:
            raise _nest(exc, "." + _name(name)) from None


def _list(value, depth: int) -> None:
    if type(value) is not list:
        raise BadLine("L is not a list")
    _deeper(depth)
    for index, inner in enumerate(value):
        try:
            _check_value(inner, depth + 1)
        except BadLine as exc:
            raise _nest(exc, f"[{index}]") from None


def _nest(exc: BadLine, step: str) -> BadLine:
    """`step` prepended to an inner problem's path (`.name`, `[3]`)."""
    text = str(exc)
    return BadLine(step + (text if text.startswith(("[", ".")) else ": " + text))


def _deeper(depth: int) -> None:
    if depth >= MAX_DEPTH:
        raise BadLine(f"nests deeper than {MAX_DEPTH} levels")


def _key_of(item: dict, spec: KeySpec) -> dict:
    key = {}
    for name, kind in spec.attributes:
        value = item.get(name)
        if value is None:
            raise BadLine(f"key attribute {_name(name)} is missing")
        if kind not in value:
            (actual,) = value
            raise BadLine(f"key attribute {_name(name)} is {actual}, the table's key type is {kind}")
        if kind in ("S", "B") and value[kind] == "":
            raise BadLine(f"key attribute {_name(name)} is empty")
        key[name] = value
    return key


def key_fingerprint(key: dict) -> bytes:
    """16 bytes that are equal exactly when two keys (from parse_line) name the same item:
    numbers compare by value ("1" is "1.0"), binaries by their bytes."""
    parts = []
    for name, value in key.items():
        (kind, inner), = value.items()
        if kind == "N":
            number = Decimal(inner)
            inner = "0" if number.is_zero() else str(number.normalize(_CONTEXT))
        elif kind == "B":
            inner = base64.b64encode(base64.b64decode(inner)).decode()
        parts.append((name, kind, inner))
    return hashlib.blake2b(orjson.dumps(parts), digest_size=16).digest()


def encode_put(item: dict) -> bytes:
    """A BatchWriteItem PutRequest element for a checked item, serialised by orjson."""
    return orjson.dumps({"PutRequest": {"Item": item}})
