"""Reading the service config's YAML: every hostile file is one UsageError (exit 2) that names the
config, one line with the problem and its line/column, and a Try hint; never a traceback, never
a silent choice (a key given twice is refused, not last-wins)."""

from __future__ import annotations

import json
import sys

import pytest

from ddbvault import cli
from ddbvault.errors import UsageError
from ddbvault.exit_codes import ExitCode
from ddbvault.service.config import load_config

JOBS = "jobs: [{name: j, table: orders, interval_seconds: 60}]\n"


def _refused(tmp_path, content: str | bytes) -> UsageError:
    path = tmp_path / "c.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(UsageError) as caught:
        load_config(path)
    error = caught.value
    assert str(path) in error.message and "\n" not in error.message and error.hint
    assert error.exit_code == ExitCode.USAGE
    return error


def test_a_binary_file_is_refused_naming_the_config(tmp_path):
    error = _refused(tmp_path, b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x01binary")
    assert "not UTF-8 text" in error.message


def test_control_characters_are_one_line_with_their_position(tmp_path):
    error = _refused(tmp_path, "defaults: {destination: /v}\n\x00\x01" + JOBS)
    assert "not valid YAML" in error.message and "line 2, column 1" in error.message


def test_a_recursive_alias_is_refused_not_a_recursion_error(tmp_path):
    error = _refused(tmp_path, "defaults: {destination: /v}\n" + JOBS + "x: &a [*a]\n")
    assert "recursive alias *a" in error.message and "line 3, column 8" in error.message


def test_a_deeply_recursive_mapping_alias_is_refused(tmp_path):
    error = _refused(tmp_path, "defaults: &d\n  destination: /v\n  more: {inner: *d}\n" + JOBS)
    assert "recursive alias *d" in error.message and "line 3" in error.message


def test_plain_aliases_and_merge_keys_still_load(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: {destination: /v}\nbase: &b {table: orders, interval_seconds: 60}\n"
                    "jobs: [{<<: *b, name: a}, {<<: *b, name: b, interval_seconds: 90}]\n".replace("base", "x-base"))
    with pytest.raises(UsageError, match="x-base: unknown key"):  # the aliases resolved; only the extra key is refused
        load_config(path)
    path.write_text("defaults: {destination: /v}\njobs: [{<<: &b {table: orders, interval_seconds: 60}, name: a},"
                    " {<<: *b, name: b, interval_seconds: 90}]\n")
    config = load_config(path)
    assert [(j.name, j.table, j.interval_seconds) for j in config.jobs] == [("a", "orders", 60), ("b", "orders", 90)]


def test_invalid_yaml_is_one_line_with_line_and_column_and_a_hint(tmp_path):
    error = _refused(tmp_path, "defaults:\n  destination: /v\n jobs: [\n")
    assert error.message.startswith(f"config {tmp_path / 'c.yaml'} is not valid YAML: ")
    assert "line 3, column 2" in error.message and "line 3" in error.hint


def test_a_key_given_twice_in_one_mapping_is_refused_naming_it_and_its_line(tmp_path):
    error = _refused(tmp_path, "defaults: {destination: /v}\njobs:\n  - name: a\n    table: orders\n"
                               "    name: b\n    interval_seconds: 60\n")
    assert "duplicate key 'name' (first on line 3)" in error.message and "line 5, column 5" in error.message
    assert "keep one 'name'" in error.hint


def test_the_same_key_in_different_mappings_is_fine(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("defaults: {destination: /v}\njobs:\n  - {name: a, table: orders, interval_seconds: 60}\n"
                    "  - {name: b, table: orders, interval_seconds: 60}\n")
    assert [j.name for j in load_config(path).jobs] == ["a", "b"]


def test_a_missing_file_has_a_hint(tmp_path):
    with pytest.raises(UsageError, match="cannot read config .*nope.yaml: No such file") as caught:
        load_config(tmp_path / "nope.yaml")
    assert "--config" in caught.value.hint


@pytest.mark.parametrize("command", ["status", "run"])
def test_the_cli_prints_the_usage_error_as_json_with_exit_2(monkeypatch, capsys, tmp_path, command):
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    monkeypatch.setattr(sys, "argv", ["ddbvault", command, "--config", str(tmp_path / "bin.yaml"), "--json"])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    out, err = capsys.readouterr()
    assert exit_.value.code == ExitCode.USAGE
    assert json.loads(out)["error"] == "UsageError" and "bin.yaml" in json.loads(out)["message"]
    assert err.startswith("ddbvault: error: config ") and "\nTry: " in err


def test_a_file_nested_too_deeply_is_refused(tmp_path):
    error = _refused(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in error.message


def test_a_number_too_long_for_python_is_refused_with_its_position(tmp_path):
    # PyYAML's int() raises a bare ValueError past 4,300 digits: it must be a config error, not exit 1
    error = _refused(tmp_path, "jobs: [{name: a, table: orders, destination: /v, interval_seconds: 60, "
                               f"retention: {{daily: {'9' * 5000}}}}}]\n")
    assert "a number of 5000 characters (line 1," in error.message and "9999" not in error.message
    assert "check that value" in error.hint
