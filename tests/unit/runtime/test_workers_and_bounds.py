"""Worker failures keep their class, and every wait has a bound (fake sinks, a fake clock)."""

from __future__ import annotations

import logging
import queue
import threading
from types import SimpleNamespace

import pytest

from ddbvault.restore import via_import as restore_import
from ddbvault.errors import AwsError, IntegrityError
from ddbvault.runtime.workers import drain


def _queue(n: int) -> "queue.SimpleQueue[int]":
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)
    return todo


def _drain(handle, *, count=3, n=6):
    cancelled = threading.Event()
    return drain(_queue(n), handle, count=count, name="test", cancelled=cancelled, cancel=cancelled.set), cancelled


@pytest.mark.parametrize("exc", [RuntimeError("can't start new thread"), MemoryError(), KeyError("pk"),
                                 IntegrityError("object x is corrupted"), OSError(28, "No space left")])
def test_a_worker_failure_keeps_its_class_and_cancels_the_run(exc):
    def handle(item):
        if item == 0:
            raise exc

    errors, cancelled = _drain(handle)
    assert errors and errors[0] is exc and cancelled.is_set()


def test_failing_to_start_a_thread_is_a_failure_not_an_interruption(monkeypatch):
    real_start, started = threading.Thread.start, []

    def start(thread):
        if thread.name.startswith("test-") and started:
            raise RuntimeError("can't start new thread")
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    done = []
    errors, cancelled = _drain(done.append, count=4, n=50)
    assert len(started) == 1 and cancelled.is_set()
    assert [type(e) for e in errors] == [RuntimeError] and "can't start new thread" in str(errors[0])


def test_every_failure_is_logged_the_first_is_the_cause(caplog):
    barrier = threading.Barrier(3)

    def handle(item):
        barrier.wait(timeout=5)
        raise (IntegrityError(f"object {item} is corrupted") if item == 0 else ValueError("SECRET-ITEM-VALUE"))

    with caplog.at_level(logging.INFO, logger="ddbvault.runtime.workers"):
        errors, _ = _drain(handle, count=3, n=3)
    assert len(errors) == 3
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 2 and all("another worker failed too" in line for line in logged)
    assert "SECRET-ITEM-VALUE" not in caplog.text  # messages of foreign exceptions could hold data


def test_an_interruption_still_propagates(monkeypatch):
    def start(thread):
        raise KeyboardInterrupt()

    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt):
        _drain(lambda item: None)


class _StuckImport:
    """A sink whose import never finishes: what DescribeImport says while an import is stuck."""

    table = "target"

    def __init__(self):
        self.client = SimpleNamespace(import_table=lambda **kw: None, describe_import=lambda **kw: None)
        self.polls = 0

    def call(self, action, fn, resource=None):
        if action == "ImportTable":
            return {"ImportTableDescription": {"ImportArn": "arn:aws:dynamodb:r:1:table/target/import/1"}}
        self.polls += 1
        return {"ImportTableDescription": {"ImportStatus": "IN_PROGRESS"}}


def test_import_polling_stops_at_its_deadline(monkeypatch):
    monkeypatch.setattr(restore_import, "import_table_creation", lambda schema, table, overrides, sse: {})
    monkeypatch.setattr(restore_import, "bucket_owner", lambda backup, sink, options: None)
    now = [0.0]
    backup = SimpleNamespace(destination=SimpleNamespace(location="bucket"),
                             layout=SimpleNamespace(data_prefix="p/t/id/data/"), data_prefix="p/t/id/data/",
                             manifest=SimpleNamespace(options={}, schema={}))
    sink = _StuckImport()
    with pytest.raises(AwsError) as err:
        restore_import._import(backup, sink, SimpleNamespace(overrides=None), clock=lambda: now[0],
                               sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert err.value.code == "ImportTimeout" and "import/1" in err.value.message and "IN_PROGRESS" in err.value.message
    assert "describe-import" in err.value.hint
    assert sink.polls == int(restore_import.IMPORT_TIMEOUT_S / restore_import.POLL_S) + 1
