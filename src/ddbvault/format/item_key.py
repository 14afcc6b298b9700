"""An item's primary key as a user types it (`--key`, `--keys-file`), checked. Pure.

- `pk=VALUE[,sk=VALUE]`: each value typed by the table's key (KeySpec: S as is, N a DynamoDB
  number, B base64); the attributes are exactly the table's key attributes, each once.
- a JSON object in wire form, `{"pk":{"S":"a,b"}}`, for values holding a comma or '='.

A keys file holds one wire-form JSON key per line (blank lines skipped), at most MAX_KEYS.
Errors are ValueError naming the attribute and what is wrong, never the value (invariant 7).
"""

from __future__ import annotations

from typing import Iterable

import orjson

from .dataline import BadLine, KeySpec, parse_line

MAX_KEYS = 100_000
MAX_LINE = 4096  # a key is at most 2048 + 1024 bytes of values, plus names and JSON


def parse_key(text: str, spec: KeySpec | None) -> dict:
    """The wire-form key of `text` (either form above). Without a spec (no saved schema) only the
    JSON form is accepted. Raises ValueError."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LINE:
        raise ValueError(f"a key is pk=VALUE[,sk=VALUE] or a JSON object of at most {MAX_LINE} characters")
    if text.lstrip().startswith("{"):
        try:
            key = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError("the key is not one JSON object") from None
        return _checked(key, spec)
    if spec is None:
        raise ValueError("the table's key types are not known (no saved schema): give the key as JSON, "
                         'e.g. {"pk":{"S":"a"}}')
    types = dict(spec.attributes)
    key: dict = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or name not in types:
            raise ValueError(f"each part of the key is NAME=VALUE with NAME one of the table's key attributes "
                             f"({', '.join(types)})")
        if name in key:
            raise ValueError(f"the key names attribute {name} twice")
        key[name] = {types[name]: value}
    return _checked(key, spec)


def _checked(key, spec: KeySpec | None) -> dict:
    """A wire-form key checked as item values (format/dataline), exactly the table's key
    attributes when the spec is known, in the spec's order."""
    if type(key) is not dict or not key:
        raise ValueError("the key is not a JSON object of attributes")
    try:
        _, found = parse_line(orjson.dumps({"Item": key}), spec)
    except BadLine as exc:
        raise ValueError(f"the key: {exc}") from None
    if found is not None and len(found) != len(key):
        raise ValueError(f"the key holds attributes that are not the table's key ({', '.join(dict(spec.attributes))})")
    return found if found is not None else key


def parse_keys(lines: Iterable[bytes | str], spec: KeySpec | None) -> list[dict]:
    """Every key of a keys file (one JSON key per line); ValueError naming the line number."""
    keys = []
    for number, line in enumerate(lines, 1):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        if len(keys) >= MAX_KEYS:
            raise ValueError(f"more than {MAX_KEYS:,} keys")
        if not text.lstrip().startswith("{"):
            raise ValueError(f"line {number}: a keys file holds one JSON key per line")
        try:
            keys.append(parse_key(text.strip(), spec))
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
    return keys
