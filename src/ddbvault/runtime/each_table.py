"""Running one verb per table, one after the other, where one table's failure does not stop the
next: `ddbvault backup --tables`, `restore --tables` and a service job with `tables:`.

`run_each()` calls `fn(table)` for each table in order and records each outcome. A DdbvaultError,
or an exception ddbvault does not classify, fails that table only; an interruption (Ctrl-C,
SIGTERM: KeyboardInterrupt or InterruptedRun) or `cancelled` being set stops the whole run, as a
run the operator stopped must not carry on with the next table. Outcomes hold the error's
message, which never holds item values or credentials (invariant 7); an unclassified exception
shows its message only for system errors, as the CLI does.

The exit code of a run (`TablesRun.exit_code`): 0 when every table succeeded; when some failed,
the code they all share (e.g. 4 when every failure was access denied), else 1 (FAILURE). So 0
always means every table is backed up (or restored), and a single code names a common cause.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from ..errors import DdbvaultError, InterruptedRun
from ..exit_codes import ExitCode

log = logging.getLogger(__name__)
LINK_POLL_S = 0.1  # how soon a table's run sees the whole run's cancel event set


@dataclass
class TableOutcome:
    """One table's result (`result`, with a to_dict()) or its error (`error` holds the error's
    class name, `message`, `hint` and `exit_code`). `target` is the table restored into."""

    table: str
    result: Any = None
    error: dict | None = None
    target: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        head = {"table": self.table, **({"target": self.target} if self.target else {}), "ok": self.ok}
        if self.error is not None:
            return {**head, **self.error}
        return {**head, **{k: v for k, v in self.result.to_dict().items() if k != "table"}}


@dataclass
class TablesRun:
    """Every table's outcome, in the order run. `to_dict()` is the `--json` summary:
    {"ok", "tables": [...], "succeeded", "failed", "exit_code"}."""

    outcomes: list[TableOutcome] = field(default_factory=list)

    @property
    def succeeded(self) -> list[TableOutcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[TableOutcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def exit_code(self) -> int:
        codes = {o.error["exit_code"] for o in self.failed}
        if not codes:
            return int(ExitCode.OK)
        return codes.pop() if len(codes) == 1 else int(ExitCode.FAILURE)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "tables": [o.to_dict() for o in self.outcomes],
                "succeeded": len(self.succeeded), "failed": len(self.failed), "exit_code": self.exit_code}


def run_each(tables: Iterable[str], fn: Callable[[str, threading.Event], Any], *,
             targets: dict[str, str] | None = None, cancelled: threading.Event | None = None) -> TablesRun:
    """fn(table, table_cancelled) for each table in order; see the module docstring for what
    stops the run. Each table gets its own cancel event, set when `cancelled` is: a verb sets
    its event when its own run fails (the first failure cancels its workers), which must stop
    that table only, not the tables after it."""
    run = TablesRun()
    outer = cancelled or threading.Event()
    with _linked(outer) as next_event:
        for table in tables:
            if outer.is_set():
                raise InterruptedRun("the run was stopped before every table was done",
                                     hint="run it again for the tables not done")
            run.outcomes.append(_one(table, fn, next_event(), (targets or {}).get(table)))
    return run


def _one(table: str, fn: Callable[[str, threading.Event], Any], table_cancelled: threading.Event,
         target: str | None) -> TableOutcome:
    """fn's outcome for one table; InterruptedRun and KeyboardInterrupt propagate."""
    outcome = TableOutcome(table, target=target)
    try:
        outcome.result = fn(table, table_cancelled)
    except InterruptedRun:
        raise
    except DdbvaultError as exc:  # reported by the run's summary: logged here for -v and the service
        outcome.error = exc.to_dict()
        log.info("%s failed: %s", table, exc.message)
    except Exception as exc:  # noqa: BLE001 - one table's bug must not stop the others
        # one line; the traceback only at DEBUG (-vv), as the CLI does for a single table
        log.error("%s failed unexpectedly: %s", table, type(exc).__name__,
                  exc_info=log.isEnabledFor(logging.DEBUG))
        outcome.error = _unexpected(exc)
    return outcome


@contextlib.contextmanager
def _linked(outer: threading.Event) -> Iterator[Callable[[], threading.Event]]:
    """next_event(): a new event for the table about to run, set within LINK_POLL_S of `outer`
    being set while the block runs (at once if it is set already). threading.Event has no
    callback on set(), so one watcher thread polls for the whole run, and ends with the block:
    one per run, not per table, as its join costs up to LINK_POLL_S (30 s over 300 tables)."""
    current, done = [threading.Event()], threading.Event()

    def next_event() -> threading.Event:
        current[0] = threading.Event()
        if outer.is_set():  # after the swap: a set() the watcher made on the old event is not lost
            current[0].set()
        return current[0]

    def watch() -> None:
        while not done.is_set():
            if outer.wait(LINK_POLL_S):
                current[0].set()
                return

    watcher = threading.Thread(target=watch, name="ddbvault-cancel-link", daemon=True)
    watcher.start()
    try:
        yield next_event
    finally:
        done.set()
        watcher.join()


def _unexpected(exc: Exception) -> dict:
    detail = f": {str(exc)[:200]}" if isinstance(exc, (OSError, RuntimeError, MemoryError)) else ""
    return {"error": type(exc).__name__, "message": f"unexpected {type(exc).__name__}{detail}",
            "hint": "run again with -vv to see where it happened, and report it",
            "exit_code": int(ExitCode.FAILURE)}
