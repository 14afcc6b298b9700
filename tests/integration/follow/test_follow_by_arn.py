"""`ddbvault follow TABLE_ARN` on moto_server: the table named by its ARN (as a follower in the
vault account names another account's table) writes the same change log, under the table's
name, as the table named by name; DescribeTable gets the ARN itself; a disagreeing --region, a
stream ARN and a malformed ARN are refused before any call.

moto's DescribeTable accepts a table ARN as TableName and finds the table only in the caller's
own account (moto/dynamodb/models get_table): here the ARN names the same account, and an ARN
of another account is not found, which shows the ARN, not the name, is what was sent."""

from __future__ import annotations

import gzip
import json

import pytest

from ddbvault.exit_codes import ExitCode
from ddbvault.format import change_log as cl
from ddbvault.storage import open_store
from ddbvault.storage.destination import parse_destination
from tests.support import change_logs
from tests.support.change_logs import create_streamed
from tests.support.cli import run_cli

pytestmark = pytest.mark.integration
TABLE = "orders-by-arn"


@pytest.fixture(scope="module")
def table_arn(ddb):
    create_streamed(ddb, TABLE)
    for n in range(12):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"k{n}"}, "sk": {"N": str(n)}, "v": {"S": "é" * n}})
    ddb.delete_item(TableName=TABLE, Key={"pk": {"S": "k3"}, "sk": {"N": "3"}})
    return ddb.describe_table(TableName=TABLE)["Table"]["TableArn"]


def _log(path) -> dict[str, object]:
    """Every object of the table's change log by key: segments as (header less written_at, the
    record bytes), the small objects less their write times."""
    store = open_store(parse_destination(str(path)))
    base = cl.changes_prefix("", TABLE)
    found = {}
    for relative in change_logs.log_keys(store, "", TABLE):
        data = store.get(base + relative)
        if relative.endswith(".jsonl.gz"):
            header, *lines = gzip.decompress(data).split(b"\n")
            fields = json.loads(header)
            fields.pop("written_at")
            found[relative] = (fields, lines)
        else:
            fields = json.loads(data)
            fields.pop("written_at", None)
            found[relative] = fields
    return found


def test_following_by_arn_writes_the_log_that_following_by_name_writes(table_arn, tmp_path):
    by_name, by_arn = tmp_path / "by-name", tmp_path / "by-arn"
    named = run_cli("follow", TABLE, "--to", str(by_name), "--once", "--json")
    assert named.returncode == 0, named.stderr
    arned = run_cli("follow", table_arn, "--to", str(by_arn), "--once", "--json", "--region", "us-east-1")
    assert arned.returncode == 0, arned.stderr
    assert json.loads(arned.stdout)["table"] == TABLE and json.loads(arned.stdout)["records"] == 13
    assert {k: v for k, v in json.loads(arned.stdout).items() if k not in ("seconds", "lag_s")} == \
        {k: v for k, v in json.loads(named.stdout).items() if k not in ("seconds", "lag_s")}
    log = _log(by_arn)
    assert log == _log(by_name)
    assert [p.name for p in by_arn.iterdir()] == [TABLE]  # kept under the name, not the ARN
    [(header, lines)] = [v for k, v in log.items() if k.endswith(".jsonl.gz")]
    assert header["table"] == TABLE and header["table_arn"] == table_arn and header["count"] == 13
    assert len([line for line in lines if line]) == 13


def test_an_arn_of_another_account_is_sent_as_it_is(table_arn, tmp_path):
    other = table_arn.replace(":123456789012:", ":210987654321:")
    assert other != table_arn
    done = run_cli("follow", other, "--to", str(tmp_path), "--once")
    assert done.returncode == ExitCode.NOT_FOUND, done.stderr  # moto looks for it in that account only
    assert "DescribeTable on arn:aws:dynamodb:us-east-1:210987654321:table/orders-by-arn failed" in done.stderr
    assert "Traceback" not in done.stderr and not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix, region, message", [
    ("", "eu-west-1", "--region eu-west-1 disagrees with the table ARN's region us-east-1"),
    ("/stream/2026-11-30T00:00:00.000", None, "is a stream ARN, not a table's"),
    ("/index/by-v", None, "is an index ARN, not a table's"),
])
def test_what_following_by_arn_refuses(table_arn, tmp_path, suffix, region, message):
    done = run_cli("follow", table_arn + suffix, "--to", str(tmp_path), "--once",
                   *(("--region", region) if region else ()))
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert message in done.stderr and "Try:" in done.stderr and "Traceback" not in done.stderr
    if suffix:
        assert f"Try: pass the table's ARN, {table_arn}" in done.stderr
