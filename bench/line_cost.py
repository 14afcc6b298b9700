"""What checking every data line costs restore, per line, side by side with splicing it.

restore used to paste each data line's bytes into the BatchWriteItem body (`splice`). It now
parses and checks every line (ddbvault.format.dataline.parse_line), serialises the item itself
(encode_put), fingerprints its key, and adds the fingerprints to an on-disk SQLite key set per
batch of 25 (ddbvault.keyset). This measures each step on the benchmark's own items
(sample_item, ~990 B by DynamoDB's size rules), on one core, best of `repeat`:

    splice            b'{"PutRequest":' + line + b'}'            (the old hot path, unsafe)
    orjson            orjson.loads + orjson.dumps of the record   (the floor of any check)
    checked           parse_line + encode_put + key_fingerprint   (what restore does per line)
    checked+keys      the same, plus KeySet.add per 25 lines      (with distinct-key counting)

    .venv/bin/python bench/line_cost.py --items 50000
bench/run.py prints the same figures next to its restore table.
"""

from __future__ import annotations

import argparse
import time

import orjson

from ddbvault.format.codec import item_to_wire
from ddbvault.format.dataline import KeySpec, encode_put, key_fingerprint, parse_line
from ddbvault.runtime.keyset import KeySet
from ddbvault.devtools.sample_data import TABLE_ATTRIBUTES, TABLE_KEY_SCHEMA, sample_item

KEY = KeySpec.of({"KeySchema": TABLE_KEY_SCHEMA, "AttributeDefinitions": TABLE_ATTRIBUTES})


def data_lines(n: int, payload_bytes: int) -> list[bytes]:
    return [orjson.dumps({"Item": item_to_wire(sample_item(i, payload_bytes=payload_bytes))}) for i in range(n)]


def _splice(lines: list[bytes]) -> None:
    for line in lines:
        b'{"PutRequest":' + line + b"}"


def _orjson(lines: list[bytes]) -> None:
    loads, dumps = orjson.loads, orjson.dumps
    for line in lines:
        dumps(loads(line))


def _checked(lines: list[bytes]) -> None:
    for line in lines:
        item, key = parse_line(line, KEY)
        encode_put(item)
        key_fingerprint(key)


def _checked_and_keys(lines: list[bytes]) -> None:
    with KeySet() as keys:
        batch = []
        for line in lines:
            item, key = parse_line(line, KEY)
            encode_put(item)
            batch.append(key_fingerprint(key))
            if len(batch) == 25:
                keys.add(batch)
                batch = []
        keys.add(batch)


STEPS = {"splice": _splice, "orjson": _orjson, "checked": _checked, "checked+keys": _checked_and_keys}


def measure(n: int = 20_000, payload_bytes: int = 600, repeat: int = 3) -> dict:
    """{step: µs per line (CPU of this thread, best of `repeat`)}, plus the line count and mean size."""
    lines = data_lines(n, payload_bytes)
    result: dict = {"lines": n, "mean_line_bytes": round(sum(map(len, lines)) / n)}
    for name, step in STEPS.items():
        best = min(_cpu(step, lines) for _ in range(repeat))
        result[name] = round(best / n * 1e6, 2)
    return result


def _cpu(step, lines: list[bytes]) -> float:
    t0 = time.thread_time()
    step(lines)
    return time.thread_time() - t0


def render(cost: dict) -> str:
    return render_parts(f"restore line handling, µs CPU per line ({cost['lines']:,} lines of "
                        f"{cost['mean_line_bytes']} B, one core)", cost, STEPS)


def render_parts(title: str, cost: dict, names) -> str:
    """`title: name figure, ...` for the µs-per-item figures of `names` in `cost`."""
    return title + ": " + ", ".join(f"{name} {cost[name]:.2f}" for name in names)


def parse_cli(doc: str, **more: int) -> argparse.Namespace:
    """--items, --payload-bytes, --repeat, and one integer option per keyword (page_items=1000
    is --page-items, default 1000), for this script and bench/scan_cost.py."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    for name, default in more.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    parser.add_argument("--payload-bytes", type=int, default=600)
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = parse_cli(__doc__)
    print(render(measure(args.items, args.payload_bytes, args.repeat)))


if __name__ == "__main__":
    main()
