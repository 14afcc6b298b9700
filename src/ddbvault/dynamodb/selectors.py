"""Which tables a run covers: selectors (`--tables`, a job's `tables:`) and restore's renames, pure.

A selector is a glob on the table name (`orders-*`; fnmatch's `*`, `?` and `[...]`, case-sensitive)
or `tag:KEY=VALUE` (the table carries the tag KEY with exactly VALUE; VALUE may be empty). Several
selectors are a union. This module parses them and matches names; `table_listing.py` asks DynamoDB
(ListTables, ListTagsOfResource). A rename `FROM=TO` maps a name matched by the glob FROM to TO,
where each side holds at most one `*` and TO's `*` takes the part FROM's `*` matched.

Every malformed selector or rename is a UsageError naming it, with a hint. Nothing here imports
boto3 or does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase

from ..errors import NotFoundError, UsageError
from ..format.layout import check_table_name

_GLOB = re.compile(r"^[A-Za-z0-9_.\-*?\[\]!]{1,255}$")
# DynamoDB tag keys and values: letters, digits, spaces and _ . : / = + - @ (keys 1-128, values 0-256).
_TAG_KEY = re.compile(r"^[\w .:/+\-@]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")
SELECTOR_HINT = "a selector is a name glob such as 'orders-*' or a tag such as 'tag:backup=daily'"
RENAME_HINT = "a rename is FROM=TO, e.g. 'orders-*=dr-orders-*' (at most one * on each side)"


@dataclass(frozen=True)
class Selector:
    """One parsed selector: a name glob (`glob` set) or a tag (`tag_key`, `tag_value` set)."""

    text: str
    glob: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None

    @property
    def is_tag(self) -> bool:
        return self.tag_key is not None

    def matches_name(self, name: str) -> bool:
        return self.glob is not None and fnmatchcase(name, self.glob)

    def matches_tags(self, tags: dict[str, str]) -> bool:
        return self.is_tag and tags.get(self.tag_key) == self.tag_value


def parse_selector(text: str) -> Selector:
    """A Selector from `text`; UsageError if it is empty, a tag without `KEY=`, or has characters
    no table name or tag can hold."""
    if not text or not text.strip():
        raise UsageError("an empty table selector", hint=SELECTOR_HINT)
    if text.startswith("tag:"):
        key, sep, value = text[4:].partition("=")
        if not sep or not _TAG_KEY.fullmatch(key) or not _TAG_VALUE.fullmatch(value):
            raise UsageError(f"{text[:80]!r} is not a tag selector tag:KEY=VALUE", hint=SELECTOR_HINT)
        return Selector(text, tag_key=key, tag_value=value)
    if not _GLOB.fullmatch(text):
        raise UsageError(f"{text[:80]!r} is not a table name pattern (letters, digits, _ . - and the "
                         "wildcards * ? [ ])", hint=SELECTOR_HINT)
    return Selector(text, glob=text)


def parse_selectors(texts) -> tuple[Selector, ...]:
    """Every selector of `texts` parsed (UsageError at the first bad one); duplicates kept once."""
    return tuple(dict.fromkeys(parse_selector(text) for text in texts))


DESCRIBED = 10  # selectors a message names; thousands of --tables must still make one short line


def describe(selectors) -> str:
    """The selectors as one phrase for messages: "'orders-*', 'tag:backup=daily'" (the first
    DESCRIBED of them, then "and N more")."""
    selectors = list(selectors)
    more = f" and {len(selectors) - DESCRIBED} more" if len(selectors) > DESCRIBED else ""
    return ", ".join(repr(s.text) for s in selectors[:DESCRIBED]) + more


def no_match(selectors, where: str) -> NotFoundError:
    """The NotFoundError for selectors that matched no table (`where`: "in us-east-1")."""
    return NotFoundError(f"no table {where} matches {describe(selectors)}",
                         hint="check the patterns (case-sensitive) and tags, the region and the account; "
                              "`aws dynamodb list-tables` shows the names")


@dataclass(frozen=True)
class Rename:
    """FROM=TO: a name matching the glob FROM becomes TO, its `*` replaced by what FROM's matched."""

    text: str
    source: str
    target: str

    def apply(self, name: str) -> str | None:
        """The new name of `name`, or None if FROM does not match it."""
        if "*" not in self.source:
            return self.target if name == self.source else None
        head, tail = self.source.split("*")
        if len(name) < len(head) + len(tail) or not (name.startswith(head) and name.endswith(tail)):
            return None
        return self.target.replace("*", name[len(head):len(name) - len(tail)])


def parse_rename(text: str) -> Rename:
    """A Rename from FROM=TO; UsageError if either side is missing or has more than one `*`, if
    TO has a `*` that FROM lacks, or if a side holds characters no table name can."""
    source, sep, target = (text or "").partition("=")
    sides_ok = all(side and re.fullmatch(r"[A-Za-z0-9_.\-*]{1,255}", side) and side.count("*") <= 1
                   for side in (source, target))
    if not sep or not sides_ok or ("*" in target and "*" not in source):
        raise UsageError(f"{(text or '')[:80]!r} is not a rename FROM=TO", hint=RENAME_HINT)
    return Rename(text, source, target)


def renamed(names, renames) -> dict[str, str]:
    """Each of `names` mapped by the first rename that matches it. Raises UsageError if a name
    has no rename (restore never writes into a table of the same name by default: say
    'NAME=NAME' to mean it), if a new name is not a valid table name, or if two tables would be
    restored into one."""
    mapping, unmapped = {}, []
    for name in names:
        target = next((t for t in (r.apply(name) for r in renames) if t is not None), None)
        if target is None:
            unmapped.append(name)
        else:
            try:
                mapping[name] = check_table_name(target)
            except UsageError:
                raise UsageError(f"--rename maps {name!r} to {target[:80]!r}, which is not a valid table name",
                                 hint="table names are 3-255 letters, digits, _ . -") from None
    if unmapped:
        more = f" and {len(unmapped) - DESCRIBED} more" if len(unmapped) > DESCRIBED else ""
        raise UsageError(f"no --rename maps {', '.join(map(repr, unmapped[:DESCRIBED]))}{more}",
                         hint=f"add --rename for them, e.g. --rename '{unmapped[0]}=dr-{unmapped[0]}' "
                              f"(or '{unmapped[0]}={unmapped[0]}' to restore into the same name)")
    seen: dict[str, str] = {}
    for name, target in mapping.items():
        if target in seen:
            raise UsageError(f"--rename maps both {seen[target]!r} and {name!r} to {target!r}",
                             hint="give each table its own target name")
        seen[target] = name
    return mapping
