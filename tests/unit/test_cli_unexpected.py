"""The CLI's last line of defence: an exception ddbvault does not classify is one line and exit 1,
with its traceback only at -vv; never an item value."""

from __future__ import annotations

import json
import sys

import pytest

from ddbvault import cli
from ddbvault.exit_codes import ExitCode


@pytest.mark.parametrize("exc,shown", [
    (RuntimeError("can't start new thread"), "unexpected RuntimeError: can't start new thread"),
    (MemoryError(), "unexpected MemoryError"),
    (KeyError("SECRET-ITEM-VALUE"), "unexpected KeyError"),
    (ValueError("SECRET-ITEM-VALUE"), "unexpected ValueError"),
])
@pytest.mark.parametrize("verbose", [[], ["-vv"]])
def test_an_unexpected_exception_is_one_line_and_exit_1(monkeypatch, capsys, tmp_path, exc, shown, verbose):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli, "backup_table", fail)
    monkeypatch.setattr(sys, "argv", ["ddbvault", *verbose, "backup", "some-table", "--to", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    err = capsys.readouterr().err
    assert exit_.value.code == ExitCode.FAILURE
    assert err.startswith(f"ddbvault: error: {shown}") and "\nTry: " in err
    assert "SECRET-ITEM-VALUE" not in err
    if verbose:
        assert "Traceback" in err and "test_cli_unexpected.py" in err
    else:
        assert "Traceback" not in err and len(err.strip().splitlines()) == 2


@pytest.mark.parametrize("exc,message", [
    (RuntimeError("can't start new thread"), "unexpected RuntimeError: can't start new thread"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "SECRET-ITEM-VALUE"), "unexpected UnicodeDecodeError"),
])
def test_with_json_an_unexpected_exception_is_the_json_error_object_on_stdout(monkeypatch, capsys, tmp_path,
                                                                             exc, message):
    """`error` is the class's name; `message` is the stderr line, the exception's own text only
    for system errors (like the text path)."""
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli, "backup_table", fail)
    monkeypatch.setattr(sys, "argv", ["ddbvault", "backup", "some-table", "--to", str(tmp_path), "--json"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out, err = capsys.readouterr()
    assert exit_.value.code == ExitCode.FAILURE
    assert json.loads(out) == {"error": type(exc).__name__, "message": message,
                               "hint": "run again with -vv to see where it happened, and report it",
                               "exit_code": 1}
    assert "SECRET-ITEM-VALUE" not in out + err and err.startswith(f"ddbvault: error: {message}\nTry: ")
