"""Changing a stored JSON document (a manifest, a plan, a segment result) at a dotted path, as a
hostile writer would: `set_at("objects.0.items", "3")`, `drop_at("retention.tier")`. List
indexes are numbers in the path."""

from __future__ import annotations

from typing import Any, Callable

Change = Callable[[dict], None]


def _parent(body: dict, path: str) -> tuple[Any, str]:
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, last


def set_at(path: str, value: Any) -> Change:
    def change(body: dict) -> None:
        node, last = _parent(body, path)
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return change


def drop_at(path: str) -> Change:
    def change(body: dict) -> None:
        node, last = _parent(body, path)
        del node[int(last) if isinstance(node, list) else last]
    return change
