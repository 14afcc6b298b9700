"""Change log format 1.0: the checks every small JSON object and segment header shares — one
object, a 1.x version, exactly the fields listed, each of its type. Messages name the field, never
its value. Pure."""

from __future__ import annotations

import re

import orjson

from ..dataline import BadLine
from .names import MAJOR, VIEW_TYPES, check_shard_id, label_of_stream_arn, parse_sequence


def loads_object(data: bytes, what: str) -> dict:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"{what} is not one JSON object ({exc.msg})") from None
    if type(value) is not dict:
        raise BadLine(f"{what} is not one JSON object")
    return value


def check_version(value: object, what: str) -> None:
    if type(value) is not str or not re.fullmatch(r"[0-9]{1,4}\.[0-9]{1,4}", value, re.ASCII):
        raise BadLine(f"{what}'s change_log is not a version MAJOR.MINOR")
    if value.split(".")[0] != MAJOR:
        raise BadLine(f"{what} is change log format {value}; this ddbvault reads {MAJOR}.x")


def exact_fields(obj: dict, names: tuple[str, ...], what: str) -> None:
    if set(obj) != set(names):
        missing, extra = sorted(set(names) - set(obj)), sorted(set(obj) - set(names))
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown fields ({len(extra)})"
        raise BadLine(f"{what} {problem}")


def text_field(obj: dict, name: str, what: str, *, nullable: bool = False, limit: int = 2048) -> str | None:
    value = obj[name]
    if value is None and nullable:
        return None
    if type(value) is not str or not 1 <= len(value) <= limit:
        raise BadLine(f"{what}'s {name} is not a string of 1-{limit} characters")
    return value


def checked_field(obj: dict, name: str, what: str, check, kind: str, *, nullable: bool = False) -> str | None:
    """obj[name] if `check` (parse_sequence, check_shard_id) accepts it, or None when nullable."""
    value = obj[name]
    if value is None and nullable:
        return None
    try:
        check(value)
    except ValueError:
        raise BadLine(f"{what}'s {name} is not {kind}") from None
    return value


SEQ_KIND, SHARD_KIND = "a sequence number (1-40 ASCII digits)", "a shard id"


def sequence_field(obj: dict, name: str, what: str, *, nullable: bool = False) -> str | None:
    return checked_field(obj, name, what, parse_sequence, SEQ_KIND, nullable=nullable)


def shard_field(obj: dict, name: str, what: str, *, nullable: bool = False) -> str | None:
    return checked_field(obj, name, what, check_shard_id, SHARD_KIND, nullable=nullable)


def stream_arn_field(obj: dict, what: str) -> str:
    value = text_field(obj, "stream_arn", what)
    try:
        label_of_stream_arn(value)
    except ValueError:
        raise BadLine(f"{what}'s stream_arn is not a stream ARN with a valid label") from None
    return value


def view_type_field(obj: dict, what: str) -> str:
    if obj["stream_view_type"] not in VIEW_TYPES:
        raise BadLine(f"{what}'s stream_view_type is not NEW_IMAGE or NEW_AND_OLD_IMAGES")
    return obj["stream_view_type"]

