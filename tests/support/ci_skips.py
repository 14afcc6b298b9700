"""A pytest plugin: in CI, a skipped test fails the run.

Tests that need a tool (radosgw, chromium, dynalite) skip when it is missing, which is right on
a developer's machine and wrong in CI, where every tool is installed on purpose and a silent
skip would hide a whole area. With CI set to a true value (1, true, yes — what CI services and
.ci/run set), every skipped test is reported as failed, naming the skip's reason, and a skip at
collection (a skipped module) makes the session's exit status "tests failed". Expected failures
(xfail) are not skips and are left alone.

Loaded by tests/conftest.py; other test trees load it with `-p tests.support.ci_skips`.
"""

from __future__ import annotations

import os

import pytest

_collection_skips: list[str] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _reason(longrepr) -> str:
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which fails the run: {_reason(report.longrepr)}"


def pytest_collectreport(report):
    if in_ci() and report.skipped:
        _collection_skips.append(f"{report.nodeid}: {_reason(report.longrepr)}")


def pytest_terminal_summary(terminalreporter):
    if _collection_skips:
        terminalreporter.write_sep("=", "skipped in CI (fails the run)", red=True)
        for line in _collection_skips:
            terminalreporter.write_line(line)


def pytest_sessionfinish(session, exitstatus):
    if _collection_skips and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
