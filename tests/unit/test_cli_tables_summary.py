"""cli._tables_summary: the last stderr lines of a `--tables` run that had failures are one error
line naming at most SUMMARY_NAMES tables and one `Try:` line, whatever the number of tables."""

from __future__ import annotations

import json

import pytest

from ddbvault import cli
from ddbvault.errors import NotFoundError
from ddbvault.runtime.each_table import TableOutcome, TablesRun


def _run_with_failures(count: int) -> TablesRun:
    error = NotFoundError("table not found", hint="check the name").to_dict()
    return TablesRun([TableOutcome(f"bulk-{i:03d}", error=error) for i in range(count)])


@pytest.mark.parametrize("as_json", [False, True])
def test_hundreds_of_failures_end_in_one_bounded_error_line_and_a_hint(capsys, as_json):
    with pytest.raises(SystemExit) as exited:
        cli._tables_summary(_run_with_failures(300), "backed up", as_json)
    assert exited.value.code == 3  # every failure was "not found"
    out, err = capsys.readouterr()
    error, hint = err.splitlines()[-2:]
    assert error == ("ddbvault: error: 300 of 300 tables failed: "
                     + ", ".join(f"bulk-{i:03d}" for i in range(cli.SUMMARY_NAMES)) + " and 290 more")
    assert hint.startswith("Try: ") and ("JSON" in hint) == as_json
    if as_json:
        assert len(json.loads(out)["tables"]) == 300  # stdout still holds every table
    else:
        assert out.count("FAILED  bulk-") == 300 and "bulk-299" in out
