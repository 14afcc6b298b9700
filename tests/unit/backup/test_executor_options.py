"""The executor options, checked before anything runs: ExecutorSpec (backup/executors), the
scheduler address, the CLI's combinations (cli_executors.py), and the dask extra's absence."""

from __future__ import annotations

import sys

import pytest

from ddbvault.backup.executors import ExecutorSpec, default_parallelism, parse_scheduler
from ddbvault.backup.executors.cluster import connect
from ddbvault.cli_executors import ExecutorChoice, executor_fields
from ddbvault.errors import UsageError


@pytest.mark.parametrize("text, address", [
    ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
    (" tcp://sched.internal:1 ", "tcp://sched.internal:1"),
    ("tcp://[::1]:8786", "tcp://[::1]:8786"),
    ("tcp://h:65535/", "tcp://h:65535"),
])
def test_a_scheduler_address_is_tcp_host_port(text, address):
    assert parse_scheduler(text) == address


@pytest.mark.parametrize("text", [
    "127.0.0.1:8786", "http://h:8786", "tls://h:8786", "tcp://h", "tcp://h:0", "tcp://h:99999", "tcp://h:port",
    "tcp://user@h:1", "tcp://user:pw@h:1", "tcp://h:1/path", "tcp://h:1?x=1", "tcp://h:1#f", "tcp://:1",
    "tcp://bad host:1", "tcp://[::1:1", "tcp://" + "h" * 400 + ":1", "", "\x00",
])
def test_anything_else_is_refused_in_one_line(text):
    with pytest.raises(UsageError) as caught:
        parse_scheduler(text)
    assert "is not tcp://HOST:PORT" in caught.value.message and "\n" not in caught.value.message
    assert "pw" not in caught.value.message  # a password in the address is never echoed


@pytest.mark.parametrize("spec, why", [
    (ExecutorSpec(kind="fork"), "--executor must be one of threads, processes, dask"),
    (ExecutorSpec(kind="processes", processes=0), "--processes must be 1..256, got 0"),
    (ExecutorSpec(kind="processes", processes=10000), "--processes must be 1..256, got 10000"),
    (ExecutorSpec(kind="threads", processes=2), "--processes is for --executor processes"),
    (ExecutorSpec(kind="dask", processes=2, scheduler="tcp://h:1"), "--processes is for --executor processes"),
    (ExecutorSpec(kind="dask"), "--executor dask needs --scheduler"),
    (ExecutorSpec(kind="processes", processes=2, scheduler="tcp://h:1"), "--scheduler needs --executor dask"),
    (ExecutorSpec(kind="dask", scheduler="h:1"), "is not tcp://HOST:PORT"),
    (ExecutorSpec(kind="processes", restarts=-1), "restarts and retries"),
    (ExecutorSpec(kind="dask", scheduler="tcp://h:1", connect_timeout_s=0), "connect_timeout_s"),
])
def test_a_spec_out_of_range_or_ignored_is_refused(spec, why):
    with pytest.raises(UsageError) as caught:
        spec.validate()
    assert why in caught.value.message


def test_default_parallelism_is_one_for_threads_and_the_pool_for_processes():
    assert default_parallelism(ExecutorSpec()) == 1
    assert default_parallelism(ExecutorSpec(kind="processes", processes=6)) == 6


def test_processes_alone_means_the_process_executor():
    assert executor_fields(ExecutorChoice(processes=3)) == {
        "executor": "processes", "processes": 3, "scheduler": None, "parallelism": None}
    assert executor_fields(ExecutorChoice()) == {
        "executor": "threads", "processes": None, "scheduler": None, "parallelism": None}
    assert executor_fields(ExecutorChoice("dask", None, "tcp://h:8786", 8))["scheduler"] == "tcp://h:8786"


@pytest.mark.parametrize("choice, extra, why", [
    (ExecutorChoice(parallelism=4), {}, "threads in one process share one limiter"),
    (ExecutorChoice("threads", parallelism=4), {}, "threads in one process share one limiter"),
    (ExecutorChoice(processes=2), {"engine": "export"}, "--engine export has DynamoDB do the work"),
    (ExecutorChoice("dask", scheduler="tcp://h:1"), {"schema_only": True}, "--schema-only scans nothing"),
    (ExecutorChoice("threads", processes=2), {}, "--processes is for --executor processes"),
    (ExecutorChoice(scheduler="tcp://h:1"), {}, "--scheduler needs --executor dask"),
    (ExecutorChoice("dask"), {}, "--executor dask needs --scheduler"),
])
def test_cli_combinations_that_would_be_ignored_are_refused(choice, extra, why):
    with pytest.raises(UsageError) as caught:
        executor_fields(choice, **extra)
    assert why in caught.value.message


def test_without_the_dask_extra_the_error_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(UsageError) as caught:
        connect(ExecutorSpec(kind="dask", scheduler="tcp://127.0.0.1:8786"))
    assert caught.value.hint == "pip install 'ddbvault[dask]'"
