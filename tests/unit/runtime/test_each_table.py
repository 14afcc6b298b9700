"""run_each: one table's failure does not stop the next; an interruption stops the run; the exit code."""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import asdict, dataclass

import pytest

from ddbvault.errors import AccessDeniedError, InterruptedRun, NotFoundError
from ddbvault.logs import WIRE_LOGGERS, configure
from ddbvault.runtime.each_table import run_each


@dataclass
class Result:
    table: str
    items: int

    def to_dict(self) -> dict:
        return asdict(self)


def _fn(failures: dict):
    def fn(table: str, cancelled):
        if table in failures:
            raise failures[table]
        return Result(table, len(table))
    return fn


def test_all_ok_is_exit_0_and_the_summary_shape():
    run = run_each(["a", "bb"], _fn({}), targets={"a": "x"})
    assert run.to_dict() == {"ok": True, "succeeded": 2, "failed": 0, "exit_code": 0, "tables": [
        {"table": "a", "target": "x", "ok": True, "items": 1}, {"table": "bb", "ok": True, "items": 2}]}


def test_failures_do_not_stop_the_rest_and_share_their_code():
    run = run_each(["a", "b", "c"], _fn({"a": AccessDeniedError("no", "grant it"), "c": AccessDeniedError("no")}))
    assert [o.ok for o in run.outcomes] == [False, True, False]
    assert run.exit_code == 4
    assert run.to_dict()["tables"][0] | {} == {"table": "a", "ok": False, **AccessDeniedError("no", "grant it").to_dict()}


def test_mixed_failures_exit_1_and_bugs_name_the_class_only():
    run = run_each(["a", "b"], _fn({"a": NotFoundError("gone"), "b": ValueError("item value 42")}))
    assert run.exit_code == 1
    assert run.outcomes[1].error["message"] == "unexpected ValueError"  # never the message (invariant 7)


@pytest.mark.parametrize("stop", [KeyboardInterrupt(), InterruptedRun("stopped")])
def test_an_interruption_stops_the_run(stop):
    seen = []

    def fn(table, cancelled):
        seen.append(table)
        if table == "b":
            raise stop
        return Result(table, 1)
    with pytest.raises(type(stop)):
        run_each(["a", "b", "c"], fn)
    assert seen == ["a", "b"]


def test_cancelled_stops_before_the_next_table():
    cancelled = threading.Event()
    seen = []

    def fn(table, table_cancelled):
        cancelled.set()
        assert table_cancelled.wait(5)  # the table's own event follows the run's
        seen.append(table)
        return Result(table, 1)
    with pytest.raises(InterruptedRun):
        run_each(["a", "b"], fn, cancelled=cancelled)
    assert seen == ["a"]


def test_a_table_that_sets_its_own_event_does_not_stop_the_next():
    seen = []

    def fn(table, table_cancelled):
        seen.append(table)
        table_cancelled.set()  # what a verb's coordinator does when its run fails
        raise NotFoundError("gone")
    run = run_each(["a", "b"], fn, cancelled=threading.Event())
    assert seen == ["a", "b"] and run.exit_code == 3


def test_hundreds_of_tables_add_no_per_table_wait():
    # the cancel link's watcher is joined once per run: it used to cost up to 0.1 s per table
    started = time.monotonic()
    run = run_each([f"t{i:03d}" for i in range(200)], _fn({}), cancelled=threading.Event())
    assert len(run.succeeded) == 200 and time.monotonic() - started < 5


@pytest.fixture
def cli_logging():
    """The root logger as the CLI configures it (logs.configure), restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in (*WIRE_LOGGERS, "apscheduler.executors.default")}
    stream = io.StringIO()
    yield lambda level: (configure(stream, level), stream)[1]
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


def test_a_tables_bug_is_one_log_line_without_traceback_unless_debug(cli_logging):
    failures = {"a": RuntimeError("boom"), "b": NotFoundError("gone", hint="h")}
    stream = cli_logging(logging.WARNING)  # the CLI's default
    run_each(["a", "b", "c"], _fn(failures))
    assert stream.getvalue().splitlines()[-1].endswith("ERROR ddbvault.runtime.each_table: a failed "
                                                       "unexpectedly: RuntimeError")
    assert "Traceback" not in stream.getvalue() and "gone" not in stream.getvalue()  # b: in the summary
    stream = cli_logging(logging.DEBUG)  # -vv: where it happened
    run_each(["a"], _fn(failures))
    assert "Traceback" in stream.getvalue() and "RuntimeError: boom" in stream.getvalue()
