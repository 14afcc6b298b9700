"""Property: any items of any DynamoDB types go through backup and restore unchanged, bit-exact.

Hypothesis draws tables of random items (every attribute type, nested maps and lists, sets,
empty strings and binaries, 38-digit numbers, any unicode) on a real moto_server.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddbvault import BackupOptions, backup_table
from ddbvault.devtools.demo import load_items
from ddbvault.restore import RestoreOptions, restore_backup
from tests.support.tables import canonical_items, create_table, scan_all, wire

pytestmark = pytest.mark.integration
_counter = itertools.count()

names = st.text(min_size=1, max_size=12).filter(lambda s: s not in ("pk", "sk"))
text = st.text(max_size=40)
binary = st.binary(max_size=40)


@st.composite
def numbers(draw) -> str:
    digits = draw(st.integers(min_value=0, max_value=10 ** 38 - 1))
    exponent = draw(st.integers(min_value=-120, max_value=80))
    value = Decimal(digits).scaleb(exponent) * draw(st.sampled_from([1, -1]))
    return str(value.normalize()) if digits else "0"


def number_set(values: list[str]) -> list[str]:
    return list({Decimal(v): v for v in values}.values())


scalars = st.one_of(
    text.map(lambda s: {"S": s}), numbers().map(lambda n: {"N": n}), binary.map(lambda b: {"B": b}),
    st.booleans().map(lambda b: {"BOOL": b}), st.just({"NULL": True}),
    st.lists(text, min_size=1, max_size=5, unique=True).map(lambda v: {"SS": v}),
    st.lists(numbers(), min_size=1, max_size=5).map(lambda v: {"NS": number_set(v)}),
    st.lists(binary, min_size=1, max_size=5, unique=True).map(lambda v: {"BS": v}),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda v: {"L": v}),
    st.dictionaries(names, inner, max_size=4).map(lambda v: {"M": v})), max_leaves=12)
items = st.lists(st.dictionaries(names, values, max_size=6), min_size=1, max_size=15)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=items)
def test_backup_then_restore_is_identity(drawn, ddb, aws_env, tmp_path_factory, monkeypatch):
    n = next(_counter)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    source, copy = f"prop-src-{n}", f"prop-dst-{n}"
    create_table(ddb, source)
    rows = [{**attrs, "pk": {"S": f"item-{i}"}, "sk": {"N": str(i)}} for i, attrs in enumerate(drawn)]
    load_items(ddb, source, rows)
    result = backup_table(source, str(tmp_path_factory.mktemp("bk")), BackupOptions(read_rcu=100000, segments=2))
    restore_backup(result.url, copy, RestoreOptions(write_wcu=100000))
    before, after = canonical_items(wire(scan_all(ddb, source))), canonical_items(wire(scan_all(ddb, copy)))
    assert len(before) == len(rows)
    assert after == before
    ddb.delete_table(TableName=source)
    ddb.delete_table(TableName=copy)
