"""A service job's `executor:` (service/executor_config.py): threads by default, `{kind: processes,
processes: N}` or `{kind: dask, scheduler: tcp://HOST:PORT}`, inherited from `defaults`, handed to
the backup as BackupOptions' executor fields, and refused where it is malformed or would be
ignored. The executors themselves run in tests/integration/backup/test_executor_*.py."""

from __future__ import annotations

import pytest

from ddbvault.errors import UsageError
from ddbvault.service.jobs import backup_options
from tests.support.service_config import load_text as _load

JOB = "{name: a, table: orders, interval_seconds: 60, destination: s3://vault/p"


def _options(tmp_path, executor: str, defaults: str = ""):
    config = _load(tmp_path, f"{defaults}jobs: [{JOB}{', executor: ' + executor if executor else ''}}}]\n")
    return backup_options(config.effective(config.jobs[0]))


def test_without_executor_a_job_runs_on_threads(tmp_path):
    options = _options(tmp_path, "")
    fields = (options.executor, options.processes, options.scheduler, options.parallelism)
    assert fields == ("threads", None, None, None)


@pytest.mark.parametrize("executor, fields", [
    ("threads", ("threads", None, None, None)),
    ("{kind: processes, processes: 4}", ("processes", 4, None, None)),
    ("{kind: processes, processes: 4, parallelism: 2}", ("processes", 4, None, 2)),
    ("{kind: dask, scheduler: 'tcp://10.0.0.5:8786', parallelism: 16}", ("dask", None, "tcp://10.0.0.5:8786", 16)),
])
def test_the_executor_reaches_the_backup(tmp_path, executor, fields):
    options = _options(tmp_path, executor)
    assert (options.executor, options.processes, options.scheduler, options.parallelism) == fields


def test_the_executor_is_inherited_from_defaults_and_a_job_may_override_it(tmp_path):
    config = _load(tmp_path, "defaults: {executor: {kind: processes, processes: 3}}\n"
                             f"jobs: [{JOB}}}, {{name: b, table: users, interval_seconds: 60, destination: /v, "
                             "executor: threads}]\n")
    a, b = (backup_options(config.effective(job)) for job in config.jobs)
    assert (a.executor, a.processes) == ("processes", 3)
    assert (b.executor, b.processes) == ("threads", None)


@pytest.mark.parametrize("executor, why", [
    ("fork", "executor.kind"),
    ("{kind: processes}", "kind processes takes processes"),
    ("{kind: processes, processes: 0}", "executor.processes"),
    ("{kind: processes, processes: 10000}", "executor.processes"),
    ("{kind: threads, processes: 2}", "kind processes takes processes"),
    ("{kind: dask}", "kind dask takes scheduler"),
    ("{kind: dask, scheduler: 'localhost:8786'}", "is not tcp://HOST:PORT"),
    ("{kind: dask, scheduler: 'tcp://h:99999'}", "is not tcp://HOST:PORT"),
    ("{kind: threads, scheduler: 'tcp://h:8786'}", "kind dask takes scheduler"),
    ("{kind: threads, parallelism: 4}", "parallelism is for kind processes or dask"),
    ("{kind: dask, scheduler: 'tcp://h:1', parallelism: 0}", "executor.parallelism"),
    ("{kind: processes, processes: 2, workers: 3}", "executor.workers: unknown key"),
])
def test_a_bad_executor_is_refused_naming_the_field(tmp_path, executor, why):
    with pytest.raises(UsageError) as caught:
        _options(tmp_path, executor)
    assert why in caught.value.message and "jobs.0.executor" in caught.value.message


def test_an_export_job_on_processes_is_refused(tmp_path):
    with pytest.raises(UsageError, match="engine export and executor processes"):
        _load(tmp_path, f"jobs: [{JOB}, engine: export, executor: {{kind: processes, processes: 2}}}}]\n")


def test_a_follow_job_with_an_executor_is_refused(tmp_path):
    with pytest.raises(UsageError, match="executor is a backup option"):
        _load(tmp_path, "jobs: [{name: f, kind: follow, table: orders, destination: /v, executor: threads}]\n")


def test_a_job_whose_parallelism_outnumbers_its_segments_is_refused(tmp_path):
    # each of 8 workers would read at cap / 8, yet only 2 segments can ever scan at once
    with pytest.raises(UsageError, match="executor parallelism 8 and only 2 segments"):
        _load(tmp_path, f"jobs: [{JOB}, segments: 2, executor: {{kind: processes, processes: 8, parallelism: 8}}}}]\n")
    _load(tmp_path, f"jobs: [{JOB}, segments: 8, executor: {{kind: processes, processes: 8, parallelism: 8}}}}]\n")
