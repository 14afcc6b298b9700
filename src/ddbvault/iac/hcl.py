"""A small writer of Terraform's native syntax (HCL): blocks, attributes, values, expressions.

    render([Block("resource", ("aws_s3_bucket", "backup"), {"bucket": "acme"},
                  [Block("lifecycle", (), {"prevent_destroy": True})])])

Values: str, int, float, bool, None, list, tuple, dict (an HCL object), `Expr` (a reference or
expression written as is, e.g. `Expr("var.region")`) and `Call` (a function of one value, e.g.
`jsonencode({...})`). Strings are escaped as HCL's
quoted templates require: `\\` `"` and control characters with backslashes, and the template
sequences `${` and `%{` doubled to `$${` and `%%{`, so a string is always a literal and never
an interpolation or directive.

The layout is the one `terraform fmt` produces (the tests run it with `-check`): two-space
indents, the `=` of consecutive one-line attributes aligned, multi-line objects and lists.

Why not a library: python-hcl2 (the well-kept HCL parser, used by the tests) writes strings as
given, unquoted and unescaped, so it would need this escaping anyway, and it would bring a parser
(lark) into the runtime dependencies for what is a few dozen lines.

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# A bare object key that HCL would read as something else: a literal or a `for` expression.
_KEYWORDS = frozenset({"true", "false", "null", "for", "in", "if"})
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f]|(?<=[$%])\{')
# Lists whose one-line form is longer than this are written one item per line.
_LINE_WIDTH = 100


@dataclass(frozen=True)
class Expr:
    """A one-line Terraform expression written verbatim: `var.x`, `aws_iam_role.backup.arn`."""

    text: str


@dataclass(frozen=True)
class Call:
    """`function(value)` with `value` laid out as an HCL value: `Call("jsonencode", {...})`."""

    function: str
    value: object


@dataclass(frozen=True)
class Block:
    """`type "label" ... { attributes... blocks... }`; attributes keep their order."""

    type: str
    labels: tuple[str, ...] = ()
    attributes: dict = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


def quote(text: str) -> str:
    """`text` as an HCL quoted string that evaluates to exactly `text`."""
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _escape(match: re.Match) -> str:
    char = match.group()
    if char == "{":  # the `{` of `${` or `%{`: double the `$`/`%` just before it
        return match.string[match.start() - 1] + "{"
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def render(blocks: list[Block], comment: str = "") -> str:
    """Top-level blocks separated by blank lines, after `comment` as `#` lines."""
    head = [f"# {line}".rstrip() for line in comment.splitlines()]
    chunks = ["\n".join(head)] if head else []
    chunks += ["\n".join(_block(b, 0)) for b in blocks]
    return "\n\n".join(chunks) + "\n"


def _block(block: Block, indent: int) -> list[str]:
    for name in (block.type, *block.attributes):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"not an HCL identifier: {name!r}")
    pad = " " * indent
    header = " ".join([block.type, *(quote(label) for label in block.labels)])
    if not block.attributes and not block.blocks:
        return [f"{pad}{header} {{}}"]
    lines = [f"{pad}{header} {{"]
    lines += _assignments(block.attributes.items(), indent + 2, key=str)
    for nested in block.blocks:
        lines += _block(nested, indent + 2)
    return lines + [f"{pad}}}"]


def _assignments(items, indent: int, key) -> list[str]:
    """`name = value` lines; runs of one-line values get their `=` aligned (as terraform fmt)."""
    pad = " " * indent
    rendered = [(key(name), value_lines(value, indent)) for name, value in items]
    lines: list[str] = []
    run: list[tuple[str, str]] = []
    for name, value in rendered:
        if len(value) == 1:
            run.append((name, value[0]))
            continue
        lines += _aligned(run, pad)
        run = []
        lines += [f"{pad}{name} = {value[0]}", *value[1:]]
    return lines + _aligned(run, pad)


def _aligned(run: list[tuple[str, str]], pad: str) -> list[str]:
    width = max((len(name) for name, _ in run), default=0)
    return [f"{pad}{name.ljust(width)} = {value}" for name, value in run]


def object_key(name: str) -> str:
    return name if _IDENTIFIER.match(name) and name not in _KEYWORDS else quote(name)


def value_lines(value, indent: int) -> list[str]:
    """`value` as HCL; the first line follows `name = `, the others carry their own indent."""
    if isinstance(value, Expr):
        return [value.text]
    if isinstance(value, Call):
        lines = value_lines(value.value, indent)
        lines[0] = f"{value.function}({lines[0]}"
        lines[-1] += ")"
        return lines
    if isinstance(value, dict):
        if not value:
            return ["{}"]
        inner = _assignments(((str(k), v) for k, v in value.items()), indent + 2, key=object_key)
        return ["{", *inner, " " * indent + "}"]
    if isinstance(value, (list, tuple)):
        return _list(value, indent)
    return [_scalar(value)]


def _list(values, indent: int) -> list[str]:
    items = [value_lines(v, indent + 2) for v in values]
    one_line = "[" + ", ".join(lines[0] for lines in items) + "]"
    if all(len(lines) == 1 for lines in items) and indent + len(one_line) <= _LINE_WIDTH:
        return [one_line]
    pad = " " * (indent + 2)
    lines = ["["]
    for item in items:
        lines += [pad + item[0], *item[1:-1], item[-1] + ","] if len(item) > 1 else [pad + item[0] + ","]
    return lines + [" " * indent + "]"]


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        return json.dumps(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as HCL")
