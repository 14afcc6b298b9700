"""The service's YAML config: validated on load, with errors that name the field.

    defaults:   options every job inherits (a job's own keys win)
    jobs:       one entry per table, or per set of tables (`tables` selectors): name, table or
                tables, schedule (cron or interval), destination, ...
    http:       host, port, token for "run now"
    scheduler:  misfire grace time, coalescing, jitter, grace period at shutdown

`${NAME}` and `${NAME:-default}` in values are replaced from the environment after parsing, so
secrets (SMTP passwords, webhook URLs) stay out of the file; `$${` is a literal `${`. AWS
credentials never belong here: they come from the standard AWS chain. See
etc/ddbvault.example.yaml for a commented sample.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from collections.abc import Hashable, Sequence
from typing import Annotated, Any, Callable, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from ..aws.session import check_external_id, check_region, check_role_arn
from ..errors import UsageError
from ..dynamodb.selectors import parse_selectors
from ..format.layout import parse_table_ref
from ..format.retention import keep_from_mapping
from ..storage.destination import parse_destination
from ..notify.config import NotificationConfig
from .cron import check_cron
from .executor_config import Executor
from .rpo import parse_duration

MAX_INTERVAL_S = 366 * 86400
# `$${` (a literal `${`), `${...}` up to the first `}`, or a `${` with no `}` after it.
_ENV = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
# What `${...}` may hold: NAME, or NAME:-default (shell semantics; no nesting).
_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-((?:(?!\$\{).)*))?", re.DOTALL)
_ENV_HINT = "write ${NAME} or ${NAME:-default} (no nesting), and $${ for a literal ${"


def check_timezone(value: str) -> str:
    """`value` if it is an IANA time zone name; raises UsageError otherwise."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown timezone {value!r}; use an IANA name like Europe/Paris") from None
    return value


def check_acl(value: str) -> str:
    """A canned ACL, or `none` (send no ACL header)."""
    from ..storage.base import CANNED_ACLS

    if value != "none" and value not in CANNED_ACLS:
        raise UsageError(f"{value!r} is not an S3 canned ACL; use one of {', '.join(CANNED_ACLS)}, or none")
    return value


def _checked(check: Callable[[str], object]) -> AfterValidator:
    """A pydantic validator from one of the library's own checks (the same rule as the CLI's):
    its UsageError becomes the field's error; the value is kept as written."""
    def validate(value: str | None) -> str | None:
        if value is not None:
            try:
                check(value)
            except UsageError as exc:
                raise ValueError(exc.message) from None
        return value
    return AfterValidator(validate)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobOptions(_Strict):
    """What a job (or `defaults`) may set. None means "not set here"."""

    destination: Annotated[str | None, _checked(parse_destination)] = None
    timezone: Annotated[str | None, _checked(check_timezone)] = None
    source_role: Annotated[str | None, _checked(check_role_arn)] = None
    dest_role: Annotated[str | None, _checked(check_role_arn)] = None
    external_id: Annotated[str | None, _checked(check_external_id)] = None
    # Reads the destination for the RPO check, the status page and `ddbvault status`. The writer
    # role (dest_role) may not list or read the vault (docs/iam.md); a reader role can.
    # None: dest_role with external_id.
    monitor_role: Annotated[str | None, _checked(check_role_arn)] = None
    monitor_external_id: Annotated[str | None, _checked(check_external_id)] = None
    read_share: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    read_rcu: float | None = Field(None, gt=0, allow_inf_nan=False)
    segments: int | None = Field(None, ge=1)
    workers: int | None = Field(None, ge=1, le=256)
    compression: Literal["gzip", "zstd", "none"] | None = None
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    acl: Annotated[str | None, _checked(check_acl)] = None
    storage_class: str | None = None
    region: Annotated[str | None, _checked(check_region)] = None
    verify_after: bool | None = None
    notifications: list[NotificationConfig] | None = None
    # How old the newest good backup may be (service/rpo.py): "26h", "90m", "7d" or seconds.
    # None: twice the schedule's period.
    rpo: Annotated[float | None, BeforeValidator(lambda v: None if v is None else parse_duration(v))] = None
    # Keep policy, `{daily: 7, weekly: 5, monthly: 12}` (format/retention.py; docs/backup.md#retention):
    # the same keys and rules as `ddbvault backup --keep`. None: no tiers, no tags, no expiry.
    retention: Annotated[dict[str, Any] | None, _checked(keep_from_mapping)] = None
    # "scan" (the default) or "export": DynamoDB's point-in-time export into the vault
    # (docs/export-engine.md); S3 destinations only, PITR on the table, `ddbvault iam --engine export`.
    engine: Literal["scan", "export"] | None = None
    # engine export: how long the export is followed before the run fails. None: BackupOptions' 4 h.
    export_deadline_s: float | None = Field(None, gt=0, allow_inf_nan=False)
    # Where the backup's segments run (service/executor_config.py, docs/scale.md): threads (the
    # default), `{kind: processes, processes: 4}` or `{kind: dask, scheduler: tcp://HOST:PORT}`.
    executor: Executor | None = None


# Options that only a backup reads: a `kind: follow` job that sets one is refused (it would be
# ignored). `defaults` may still set them for the backup jobs among others.
BACKUP_ONLY = ("read_share", "read_rcu", "segments", "workers", "compression", "storage_class", "verify_after",
               "rpo", "retention", "engine", "export_deadline_s", "monitor_role", "monitor_external_id", "executor")
FOLLOW_RUN_S = 30.0  # a follow job's pass, by default (service/follow_jobs.py says why passes)


class JobConfig(JobOptions):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # "backup" (the default): a scheduled backup. "follow": continuous backup, the table's stream
    # followed into the change log under the destination (docs/service.md#continuous-backup):
    # `table` only, no schedule; run as back-to-back passes of `run_seconds` each.
    kind: Literal["backup", "follow"] = "backup"
    run_seconds: float | None = Field(None, ge=5, le=3600, allow_inf_nan=False)
    # A table name; a follow job also takes a table ARN (another account's table, read through
    # its resource-based policies: docs/continuous-access.md).
    table: str | None = None
    # Instead of `table`: selectors resolved at each run (dynamodb/selectors.py), e.g.
    # ['orders-*', 'tag:backup=daily']; every matched table is backed up (backup/many.py).
    tables: list[str] | None = Field(None, min_length=1)
    cron: str | None = None
    interval_seconds: float | None = Field(None, allow_inf_nan=False)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse_table_ref(value, what="table")
        except UsageError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None
        return value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str] | None) -> list[str] | None:
        try:
            return value if value is None else [s.text for s in parse_selectors(value)]
        except UsageError as exc:
            raise ValueError(f"{exc.message} ({exc.hint})") from None

    @model_validator(mode="after")
    def _one_target(self) -> "JobConfig":
        if (self.table is None) == (self.tables is None):
            raise ValueError("give exactly one of table (one table) or tables (selectors such as "
                             "['orders-*', 'tag:backup=daily'])")
        return self

    @property
    def target(self) -> str:
        """What the job backs up, for people: the table's name, or its selectors."""
        return self.table or ", ".join(self.tables or ())

    @field_validator("interval_seconds")
    @classmethod
    def _interval(cls, value: float | None) -> float | None:
        # APScheduler cannot add a much longer interval to a date (OverflowError in `serve`)
        if value is not None and not 1 <= value <= MAX_INTERVAL_S:
            raise ValueError(f"{value:g} is not between 1 second and 366 days ({MAX_INTERVAL_S})")
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return value if value is None else check_cron(value)  # its CronError carries a hint

    @model_validator(mode="after")
    def _one_schedule(self) -> "JobConfig":
        if self.kind == "follow":
            return self._follow_job()
        if self.run_seconds is not None:
            raise ValueError("run_seconds is for kind: follow jobs; a backup job runs on its cron or interval_seconds")
        if self.table is not None and parse_table_ref(self.table).arn is not None:
            raise ValueError("a backup job's table is a table name; a table ARN is for kind: follow jobs "
                             "(give the name, and source_role for another account's table)")
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron (e.g. '0 3 * * *') or interval_seconds")
        return self


    def _follow_job(self) -> "JobConfig":
        if self.tables is not None:
            raise ValueError("a follow job follows one table's stream: give table, not tables")
        if self.cron is not None or self.interval_seconds is not None:
            raise ValueError("a follow job runs continuously: drop cron and interval_seconds "
                             "(run_seconds bounds each pass)")
        extra = [name for name in BACKUP_ONLY if getattr(self, name) is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} {'is a backup option' if len(extra) == 1 else 'are backup options'}"
                             " that a follow job would ignore; drop it here (defaults may keep it for backups)")
        return self

    @property
    def pass_seconds(self) -> float:
        """A follow job's bound on one pass of the follower."""
        return self.run_seconds or FOLLOW_RUN_S


class HttpConfig(_Strict):
    host: str = "0.0.0.0"
    port: int = Field(8080, ge=0, le=65535)
    token: str | None = None  # required by "run now"; without one, "run now" is disabled


class SchedulerConfig(_Strict):
    misfire_grace_time_s: int = Field(300, ge=1)
    coalesce: bool = True
    jitter_s: int = Field(0, ge=0)
    shutdown_grace_s: float = Field(60, ge=0, allow_inf_nan=False)  # how long running backups may finish on SIGTERM
    timezone: Annotated[str, _checked(check_timezone)] = "UTC"
    # How often the service lists each job's destination to check its RPO (service/protection.py).
    rpo_check_s: float = Field(60, ge=5, le=86400, allow_inf_nan=False)


class ServiceConfig(_Strict):
    defaults: JobOptions = JobOptions()
    jobs: list[JobConfig] = Field(min_length=1)
    http: HttpConfig = HttpConfig()
    scheduler: SchedulerConfig = SchedulerConfig()

    @model_validator(mode="after")
    def _checks(self) -> "ServiceConfig":
        names = [job.name for job in self.jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique, got {names}")
        for job in self.jobs:
            if not (job.destination or self.defaults.destination):
                raise ValueError(f"job {job.name!r} has no destination (set it on the job or in defaults)")
            options = self.effective(job)
            if options.external_id and not options.dest_role:
                raise ValueError(f"job {job.name!r} sets external_id without dest_role; it would be ignored")
            roles = [name for name in ("dest_role", "monitor_role") if getattr(options, name)]
            if roles and parse_destination(options.destination).kind == "local":
                raise ValueError(f"job {job.name!r} sets {' and '.join(roles)} for the local directory "
                                 f"{options.destination}; no role is assumed to reach it")
            if options.monitor_external_id and not options.monitor_role:
                raise ValueError(f"job {job.name!r} sets monitor_external_id without monitor_role; it would be ignored")
            if job.kind == "backup":  # a follow job reads no backup option (BACKUP_ONLY)
                _check_engine(job, options)
            else:
                try:
                    parse_table_ref(job.table).region_for(options.region, option="region")
                except UsageError as exc:
                    raise ValueError(f"job {job.name!r}: {exc.message} ({exc.hint})") from None
        return self

    @property
    def backup_jobs(self) -> list[JobConfig]:
        """The scheduled backups: what the RPO check, `ddbvault status` and the history show."""
        return [job for job in self.jobs if job.kind == "backup"]

    @property
    def follow_jobs(self) -> list[JobConfig]:
        return [job for job in self.jobs if job.kind == "follow"]

    def effective(self, job: JobConfig) -> JobOptions:
        """The job's options with unset fields taken from `defaults`."""
        merged = {**self.defaults.model_dump(exclude_none=True), **job.model_dump(exclude_none=True)}
        return JobOptions(**{k: v for k, v in merged.items() if k in JobOptions.model_fields})

    def timezone_of(self, job: JobConfig) -> str:
        """The IANA time zone the job's schedule and times are in: its `timezone`, else the
        scheduler's."""
        return self.effective(job).timezone or self.scheduler.timezone

    def job(self, name: str) -> JobConfig:
        for job in self.jobs:
            if job.name == name:
                return job
        raise UsageError(f"no job named {name!r} in the config", hint=f"jobs: {', '.join(j.name for j in self.jobs)}")


def _check_engine(job: JobConfig, options: JobOptions) -> None:
    """An export job needs an S3 destination (DynamoDB exports only write to S3); a job's own
    export_deadline_s needs engine export (`defaults` may set it for the export jobs among others)."""
    if options.engine == "export" and parse_destination(options.destination).kind == "local":
        raise ValueError(f"job {job.name!r} has engine export and the local directory {options.destination} "
                         "as destination; DynamoDB exports only write to S3: use an s3:// destination or engine scan")
    if options.engine == "export" and options.retention is not None:
        raise ValueError(f"job {job.name!r} has engine export and a retention policy; DynamoDB writes the "
                         "export's objects and cannot tag them with a tier, so no lifecycle rule would expire "
                         "them: drop retention for this job, or use engine scan")
    if options.engine == "export" and options.executor is not None and options.executor.kind != "threads":
        raise ValueError(f"job {job.name!r} has engine export and executor {options.executor.kind}; DynamoDB "
                         "does an export's work, so no segment would run there: drop executor for this job")
    parallelism = options.executor.parallelism if options.executor is not None else None
    if parallelism is not None and options.segments is not None and parallelism > options.segments:
        raise ValueError(f"job {job.name!r} has executor parallelism {parallelism} and only {options.segments} "
                         "segments; each worker would read at 1/parallelism of the cap, and at most segments "
                         "can scan at once: raise segments or lower parallelism")
    if job.export_deadline_s is not None and options.engine != "export":
        raise ValueError(f"job {job.name!r} sets export_deadline_s without engine export; it would be ignored")


def expand_env(text: str) -> str:
    """`text` with each `${NAME}` replaced by the environment's NAME, `${NAME:-default}` by the
    default when NAME is unset or empty (as in the shell), and `$${` by a literal `${`. Replaced
    text is never scanned again. Raises UsageError for an unset NAME without a default and for
    any other `${` form (`${A-b}`, `${A:=b}`, nesting, no closing `}`)."""
    def replace(match: re.Match) -> str:
        if match.group(0) == "$${":
            return "${"
        if match.group(0) == "${":
            raise UsageError("a ${ without its closing }", hint=_ENV_HINT)
        reference = _REFERENCE.fullmatch(match.group(1))
        if reference is None:
            raise UsageError(f"{match.group(0)} is not a supported ${{...}} form", hint=_ENV_HINT)
        name, default = reference.groups()
        value = os.environ.get(name)
        if default is not None:
            return value or default
        if value is not None:
            return value
        raise UsageError(f"${{{name}}} is not set in the environment",
                         hint=f"export {name}=..., or write ${{{name}:-default}}")
    return _ENV.sub(replace, text)


def _expand_values(data: Any, where: str = "") -> Any:
    """${NAME} expanded in every string value after the YAML is parsed: a comment is never
    expanded, and an environment value stays one string (pydantic converts it to the field's
    type), so it can never change the YAML's structure. A value that expands to nothing (e.g.
    `${ID:-}` with ID unset) is unset, as if the key were absent. Errors name the value's key
    path (`jobs.0.table`)."""
    if isinstance(data, str):
        try:
            expanded = expand_env(data)
        except UsageError as exc:
            raise UsageError(f"{where or '(top level)'}: {exc.message}", hint=exc.hint) from None
        return None if expanded == "" and data != "" else expanded
    if isinstance(data, dict):
        return {key: _expand_values(value, f"{where}.{key}".lstrip(".")) for key, value in data.items()}
    if isinstance(data, list):
        return [_expand_values(value, f"{where}.{index}".lstrip(".")) for index, value in enumerate(data)]
    return data


class _Refused(yaml.MarkedYAMLError):
    """What _ConfigLoader refuses beyond YAML's own rules, with the hint the CLI prints."""

    def __init__(self, problem: str, mark: yaml.Mark, hint: str):
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


class _ConfigLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader, stricter where last-wins or a crash would hide a mistake: a key given
    twice in one mapping and an alias inside its own anchor's node (a cycle) are YAML errors
    with their position. Merge keys (`<<: *base`) still work, and their keys may be overridden."""

    def __init__(self, stream):
        super().__init__(stream)
        self._open_anchors: set[str] = set()

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open_anchors:
            raise _Refused(f"recursive alias *{event.anchor} (inside its own anchor)", event.start_mark,
                           hint=f"an alias cannot sit inside its own anchor: remove *{event.anchor} there")
        if isinstance(event, yaml.AliasEvent) or event.anchor is None:
            return super().compose_node(parent, index)
        self._open_anchors.add(event.anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._open_anchors.discard(event.anchor)

    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts to an int (sys.get_int_max_str_digits)
            raise _Refused(f"a number of {len(node.value)} characters", node.start_mark,
                           hint="every number in a ddbvault config is small; check that value") from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self._refuse_duplicate_keys(node)
        return super().construct_mapping(node, deep)

    def _refuse_duplicate_keys(self, node: yaml.MappingNode) -> None:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<`: merged keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):  # SafeLoader refuses it with its own error
                continue
            if key in first_line:
                raise _Refused(f"duplicate key {key!r} (first on line {first_line[key]})", key_node.start_mark,
                               hint=f"keep one {key!r} in that mapping (YAML would silently use the last)")
            first_line[key] = key_node.start_mark.line + 1


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _ConfigLoader.construct_yaml_int)


def _read_yaml(path: str | Path) -> Any:
    """The file's YAML. Raises UsageError, one line naming the config and where it went wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}",
                         hint="check the --config path (etc/ddbvault.example.yaml is a commented sample)") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"config {path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})",
                         hint="--config takes the service's YAML file; check the path") from None
    try:
        return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 - _ConfigLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        hint = getattr(exc, "hint", None) or (f"check the indentation and quoting at line {mark.line + 1} of {path}"
                                              if mark else "check the file's indentation and quoting")
        raise UsageError(f"config {path} is not valid YAML: {exc.problem or exc.context}{where}", hint=hint) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other controls)
        raise UsageError(f"config {path} is not valid YAML: {_reader_problem(exc, text)}",
                         hint="a config holds printable text only; check the --config path") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise UsageError(f"config {path} is nested too deeply to be a ddbvault config",
                         hint="see etc/ddbvault.example.yaml for the config's shape") from None


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> str:
    line = text.count("\n", 0, exc.position)
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1)
    return f"the character {exc.character!r} is not allowed (line {line + 1}, column {column + 1})"


def load_config(path: str | Path) -> ServiceConfig:
    """Read, expand and validate a config file. Raises UsageError naming the config and the field."""
    data = _read_yaml(path)
    try:
        data = _expand_values(data)
    except UsageError as exc:
        raise UsageError(f"config {path}: {exc.message}", hint=exc.hint) from None
    try:
        return ServiceConfig.model_validate(data or {})
    except ValidationError as exc:
        errors = exc.errors()
        hints = [e["ctx"]["error"].hint for e in errors if getattr(e.get("ctx", {}).get("error"), "hint", None)]
        raise UsageError(f"config {path} is invalid: " + "; ".join(_describe(e) for e in errors),
                         hint="; ".join(hints) or "see etc/ddbvault.example.yaml for every field") from None


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    return f"{where}: " + error["msg"].removeprefix("Value error, ")


def selected_jobs(config: ServiceConfig, names: Sequence[str] = ()) -> list[JobConfig]:
    """The jobs named (`--job`, repeatable), or every job, in config order. Raises UsageError for
    the first name with no job, before anything runs or lists."""
    wanted = {config.job(name).name for name in names}
    return [job for job in config.jobs if not wanted or job.name in wanted]
