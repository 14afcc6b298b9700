"""Deterministic sample items of every DynamoDB attribute type, in low-level wire form.

Used by the demo, the tests and the benchmarks. Items are dicts of DynamoDB attribute values
as the low-level boto3 client takes them (`{"S": ...}`, `{"B": bytes}`, ...). Pure: no AWS I/O.
"""

from __future__ import annotations

import random
from decimal import Decimal

TABLE_KEY_SCHEMA = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
TABLE_ATTRIBUTES = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]

_WORDS = ["alpha", "beta", "gamma", "δέλτα", "épsilon", "ζήτα", "日本語", "emoji 🦆", "tab\tnewline\n", "quote\"back\\"]


def _number(rng: random.Random) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return str(rng.randrange(-10**38 + 1, 10**38))  # 38 significant digits
    if kind == 1:
        return "0." + "".join(rng.choice("0123456789") for _ in range(37)) + "1"
    if kind == 2:
        return f"{rng.randrange(1, 10)}E+{rng.randrange(0, 120)}"
    if kind == 3:
        return f"-{rng.randrange(1, 10**6)}.{rng.randrange(1, 999)}"
    return str(rng.randrange(0, 10**9))


def sample_item(index: int, payload_bytes: int = 600, seed: int = 7) -> dict:
    """Item number `index` (same index, same item): every attribute type, ~payload_bytes + ~400 B."""
    rng = random.Random(seed * 1_000_003 + index)
    word = _WORDS[index % len(_WORDS)]
    blob = bytes(rng.getrandbits(8) for _ in range(48))
    item = {
        "pk": {"S": f"user#{index % 997:04d}-{word}"},
        "sk": {"N": str(index)},
        "name": {"S": f"{word} {index}"},
        "empty_s": {"S": ""},
        "empty_b": {"B": b""},
        "big_n": {"N": _number(rng)},
        "blob": {"B": blob},
        "flag": {"BOOL": index % 2 == 0},
        "nothing": {"NULL": True},
        "tags": {"SS": sorted({word, f"t{index % 13}", f"u{index % 7}"})},
        "scores": {"NS": _number_set([_number(rng), str(index), "-0.5"])},
        "chunks": {"BS": [blob[:8], blob[8:16] + b"\x00", bytes([index % 256])]},
        "nested": {"M": {
            "list": {"L": [{"S": word}, {"N": "1"}, {"M": {"deep": {"L": [{"NULL": True}, {"BOOL": False}]}}}]},
            "map": {"M": {"ключ": {"S": "значение"}, "empty": {"M": {}}, "empty_l": {"L": []}}},
        }},
        "payload": {"S": _payload(rng, payload_bytes)},
    }
    return item


def _number_set(numbers: list[str]) -> list[str]:
    """An NS value: DynamoDB rejects two numbers of equal value, so dedupe by value."""
    by_value = {Decimal(n): n for n in numbers}
    return sorted(by_value.values())


def _payload(rng: random.Random, size: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
    return "".join(rng.choice(alphabet) for _ in range(size))


def edge_case_items() -> list[dict]:
    """Items that stress fidelity: every byte value, 38-digit numbers, deep nesting, ~400 KB."""
    deep: dict = {"S": "bottom"}
    for level in range(30):
        deep = {"M": {f"level{level}": deep, "l": {"L": [deep]}}} if level < 3 else {"L": [deep]}
    return [
        {"pk": {"S": "edge#bytes"}, "sk": {"N": "1"}, "all_bytes": {"B": bytes(range(256))},
         "bs": {"BS": [bytes([b]) for b in range(0, 256, 17)]}},
        {"pk": {"S": "edge#numbers"}, "sk": {"N": "2"},
         "max": {"N": "9.9999999999999999999999999999999999999E+125"},
         "min": {"N": "-9.9999999999999999999999999999999999999E+125"},
         "tiny": {"N": "1E-130"}, "digits38": {"N": "12345678901234567890123456789012345678"},
         "ns": {"NS": ["0", "-0.000000000000000000000000000000000000001", "1E+100"]}},
        {"pk": {"S": "edge#empty"}, "sk": {"N": "3"}, "s": {"S": ""}, "b": {"B": b""},
         "m": {"M": {}}, "l": {"L": []}, "ms": {"M": {"": {"S": ""}}}},
        {"pk": {"S": "edge#unicode 🦆 ünï\u0000cödé"}, "sk": {"N": "4"},
         "名前": {"S": "値 \u2028 \ud7ff \U0010ffff"}, "ss": {"SS": ["ä", "a\u0308", "𝄞"]}},
        {"pk": {"S": "edge#deep"}, "sk": {"N": "5"}, "deep": deep},
        {"pk": {"S": "edge#large"}, "sk": {"N": "6"}, "big": {"S": "x" * (395 * 1024)}},  # moto caps items at 405,000 B
        {"pk": {"S": "edge#largebin"}, "sk": {"N": "7"}, "big": {"B": bytes(range(256)) * 1130}},  # ~290 KB: moto counts B as base64
    ]
