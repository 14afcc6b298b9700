"""Counts in user-facing text: "1 day", "2 days", never "1 days".

Pure and dependency-free, so every layer may use it. Only the regular English plural (noun + "s")
is made; every noun ddbvault counts (day, second, time, item, object, segment, table, worker,
shard, record, change, key) takes it. A library such as inflect would add a dependency for one
line of code.
"""

from __future__ import annotations


def counted(count: object, noun: str, spec: str = "") -> str:
    """`count` formatted with `spec` (a format spec such as "," for thousands separators), then
    `noun`, plural unless `count` is exactly 1: counted(1, "day") == "1 day",
    counted(1234, "item", ",") == "1,234 items", counted(0, "table") == "0 tables". `count` may be
    any value (a figure from an AWS response is shown as it came); only the number 1 is singular."""
    return f"{count:{spec}} {noun}{'' if count == 1 else 's'}"
