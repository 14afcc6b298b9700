"""The service's YAML config: validated on load, with errors that name the field.

    defaults:   options every job inherits (a job's own keys win)
    jobs:       one entry per table: name, table, schedule (cron or interval), destination, ...
    http:       host, port, token for "run now"
    scheduler:  misfire grace time, coalescing, jitter, grace period at shutdown

`${NAME}` and `${NAME:-default}` are replaced from the environment before parsing, so secrets
(SMTP passwords, webhook URLs) stay out of the file. AWS credentials never belong here: they
come from the standard AWS chain. See etc/ddbvault.example.yaml for a commented sample.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

from ..aws.session import check_external_id, check_region, check_role_arn
from ..errors import UsageError
from ..format.layout import check_table_name
from ..storage.destination import parse_destination
from ..notify.config import NotificationConfig
from .cron import check_cron
from .rpo import parse_duration

MAX_INTERVAL_S = 366 * 86400
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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



class JobConfig(JobOptions):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    table: str
    cron: str | None = None
    interval_seconds: float | None = Field(None, allow_inf_nan=False)

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        try:
            return check_table_name(value)
        except UsageError as exc:
            raise ValueError(exc.message) from None

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
        if (self.cron is None) == (self.interval_seconds is None):
            raise ValueError("give exactly one of cron (e.g. '0 3 * * *') or interval_seconds")
        return self


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
        return self

    def effective(self, job: JobConfig) -> JobOptions:
        """The job's options with unset fields taken from `defaults`."""
        merged = {**self.defaults.model_dump(exclude_none=True), **job.model_dump(exclude_none=True)}
        return JobOptions(**{k: v for k, v in merged.items() if k in JobOptions.model_fields})

    def job(self, name: str) -> JobConfig:
        for job in self.jobs:
            if job.name == name:
                return job
        raise UsageError(f"no job named {name!r} in the config", hint=f"jobs: {', '.join(j.name for j in self.jobs)}")


def expand_env(text: str) -> str:
    def replace(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise UsageError(f"config refers to ${{{name}}} but the environment has no {name}",
                         hint=f"export {name}=..., or write ${{{name}:-default}}")
    return _ENV.sub(replace, text)


def _expand_values(data: Any) -> Any:
    """${NAME} expanded in every string value after the YAML is parsed: a comment is never
    expanded, and an environment value stays one string (pydantic converts it to the field's
    type), so it can never change the YAML's structure. A value that expands to nothing (e.g.
    `${ID:-}` with ID unset) is unset, as if the key were absent."""
    if isinstance(data, str):
        expanded = expand_env(data)
        return None if expanded == "" and _ENV.search(data) else expanded
    if isinstance(data, dict):
        return {key: _expand_values(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_expand_values(value) for value in data]
    return data


def load_config(path: str | Path) -> ServiceConfig:
    """Read, expand and validate a config file. Raises UsageError naming the field."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    try:
        data: Any = _expand_values(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise UsageError(f"config {path} is not valid YAML: {exc}") from exc
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
