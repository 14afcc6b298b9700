"""The `ddbvault` command: a thin shell over the library API.

Results go to stdout (one JSON object with --json), progress and logs to stderr. Errors print
one line naming what failed and a "Try: ..." hint, and exit with the code from exit_codes.py:
ddbvault's own errors with their class's code, click's usage errors with 2, and anything
unexpected with 1, as one line naming the exception's class (its traceback only at -vv).
This is the only module that exits the process.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
import signal
import sys
import traceback

import click
import orjson

from ._version import __version__
from .aws.session import Principal
from .backup import BackupOptions, backup_table
from .cli_executors import executor_fields, executor_options
from .cli_roles import (READERS_OLD_SPELLINGS, RESTORE_OLD_SPELLINGS, VAULT_EXTERNAL_ID, WRITERS_OLD_SPELLINGS,
                        old_spellings, table_role_options, vault_role_options)
from .format.codec import COMPRESSIONS
from .errors import DdbvaultError, UsageError
from .exit_codes import ExitCode
from .logs import configure as configure_logs
from .plural import counted
from .storage.base import CANNED_ACLS, DEFAULT_ACL, SSE_CHOICES
from .dynamodb.table_create import SSE_CHOICES as TABLE_SSE_CHOICES

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kib|mib|gib|kb|mb|gb)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "b": 1, "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3,
          "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3}


def parse_size(text: str) -> int:
    """Bytes from `256MiB`, `1GiB`, `1.5GB` or `1048576`; at least 1 and finite."""
    match = _SIZE.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a size; use e.g. 256MiB, 1GiB or 1048576")
    number, unit = match.groups()
    size = float(number) * _UNITS[unit.lower() if unit else None]
    if not math.isfinite(size) or size < 1 or size > 2 ** 63:
        raise click.BadParameter(f"{text!r} is not a usable size; use e.g. 256MiB, 1GiB or 1048576")
    return int(size)


class _Size(click.ParamType):
    name = "SIZE"

    def convert(self, value, param, ctx):
        return value if isinstance(value, int) else parse_size(value)


class _Rate(click.ParamType):
    """A finite number > 0 (and <= `most`): capacity rates and shares. `inf` and `nan` are refused:
    they would silently switch a cap off."""

    name = "NUMBER"

    def __init__(self, most: float | None = None):
        self.most = most

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0 or (self.most is not None and number > self.most):
            bound = f"0 < x <= {self.most:g}" if self.most is not None else "a finite number > 0"
            self.fail(f"{value!r} is not {bound}", param, ctx)
        return number


class _Duration(click.ParamType):
    """An RPO: "26h", "90m", "7d" or seconds (service/rpo.parse_duration), in seconds."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        from .service.rpo import parse_duration

        try:
            return parse_duration(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


_SHARE, _CAP = _Rate(most=1), _Rate()
_ACLS = click.Choice([*CANNED_ACLS, "none"], case_sensitive=False)


def _emit_json(payload: dict) -> None:
    sys.stdout.buffer.write(orjson.dumps(payload) + b"\n")
    sys.stdout.flush()


def _fail(exc: DdbvaultError, as_json: bool) -> None:
    click.echo(f"ddbvault: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"Try: {exc.hint}", err=True)
    if as_json:
        _emit_json(exc.to_dict())
    sys.exit(int(exc.exit_code))


def _terminate_as_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: stop cleanly
    raise KeyboardInterrupt()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddbvault")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug). "
              "No level logs credentials or item values.")
@click.pass_context
def cli(ctx: click.Context, verbose: int) -> None:
    """Back up DynamoDB tables into S3 in a separate account, and restore them anywhere."""
    ctx.obj = {"verbose": verbose}
    configure_logs(sys.stderr, logging.WARNING - 10 * min(verbose, 2))


def _service_logs(stream, log_format: str) -> None:
    """serve/run log at INFO (DEBUG with -vv) on `stream`."""
    verbose = (click.get_current_context().find_root().obj or {}).get("verbose", 0)
    configure_logs(stream, logging.DEBUG if verbose >= 2 else logging.INFO, log_format)


class _BackupGroup(click.Group):
    """`ddbvault backup [TABLE] ...` runs a whole backup (the hidden `run` command); `backup plan`,
    `backup work` and `backup commit` run its three steps apart (docs/scale.md). A table named
    like a step is backed up with `ddbvault backup run NAME ...`."""

    _ONE_SHOT = "ddbvault.backup.one_shot_args"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            return super().parse_args(ctx, args)
        ctx.meta[self._ONE_SHOT] = list(args)  # the one-shot: `run`'s own parser reads them
        return []

    def invoke(self, ctx: click.Context):
        args = ctx.meta.pop(self._ONE_SHOT, None)
        if args is None:
            return super().invoke(ctx)
        run = self.commands["run"]
        # In place of this group, named `backup`: its usage, errors and hints say `ddbvault backup`.
        with run.make_context("backup", args, parent=ctx.parent) as sub:
            return run.invoke(sub)


def _table_and_vault_options(vault_purpose: str):
    """--table-role, --vault-role (and their external ids), --profile and --region: the backup
    steps' two principals (`_principals`)."""
    def apply(func):
        for option in reversed([
            table_role_options("read the table"), vault_role_options(vault_purpose),
            click.option("--profile", help="AWS profile for the base credentials."),
            click.option("--region", help="AWS region of the table (and default for the bucket)."),
        ]):
            func = option(func)
        return func
    return apply


def _scan_options(func):
    """The options a scan backup's plan fixes: shared by `backup` and `backup plan`."""
    for option in reversed([
        click.option("--segments", type=click.IntRange(1, 1_000_000), help="Parallel scan segments "
                     "[default: ~1 per GiB of table, at least --workers x --parallelism]."),
        click.option("--workers", type=click.IntRange(1, 256), default=4, show_default=True,
                     help="Threads scanning segments at once (in each worker process)."),
        click.option("--read-share", type=_SHARE, help="Share of the table's provisioned RCU to use [default: 0.5]."),
        click.option("--read-rcu", type=_CAP, help="Absolute read cap in RCU/s (on-demand tables default to 1000)."),
        click.option("--consistent-read", is_flag=True, help="Strongly consistent Scan (twice the RCU)."),
        click.option("--compression", type=click.Choice(COMPRESSIONS), default="gzip", show_default=True),
        click.option("--compression-level", type=int,
                     help="gzip 1-9 (default 2; 1-3 use ISA-L, 4-9 zlib), zstd 1-22 (default 3)."),
        click.option("--object-size", type=_Size(), default="256MiB", show_default=True,
                     help="Stored size at which a data object rolls over."),
        click.option("--part-size", type=_Size(), default="8MiB", show_default=True,
                     help="S3 multipart part size; memory per worker."),
        click.option("--acl", default=DEFAULT_ACL, show_default=True, type=_ACLS,
                     help="Canned ACL on every object; 'none' sends no ACL."),
        click.option("--sse", type=click.Choice(SSE_CHOICES), help="Server-side encryption [default: bucket's]."),
        click.option("--kms-key-id", help="KMS key id or ARN for --sse aws:kms."),
        click.option("--storage-class", help="S3 storage class, e.g. STANDARD_IA."),
    ]):
        func = option(func)
    return func


# `backup` options that a scan backup's plan fixes, so that `--resume` refuses them: the plan's
# segments, read rate, write options, retention and engine are kept, whatever is given.
_FIXED_BY_PLAN = ("segments", "read_share", "read_rcu", "consistent_read", "compression", "compression_level",
                  "object_size", "part_size", "acl", "sse", "kms_key_id", "storage_class", "schema_only", "keep",
                  "engine", "export_time", "export_deadline", "incremental", "export_from", "export_to",
                  "backup_id")


def _given(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    """The options among `names` (parameter names) given on the command line, as spelled in --help."""
    given = []
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if param.name in names and source is not None and source != click.core.ParameterSource.DEFAULT:
            given.append(max(param.opts, key=len))
    return given


@cli.group(cls=_BackupGroup, context_settings={"help_option_names": ["-h", "--help"]})
def backup() -> None:
    """Back up TABLE (or every table --tables matches) into DEST; `backup plan|work|commit` run
    the steps of one backup apart, on many processes or machines (docs/scale.md)."""


@backup.command("run", hidden=True)
@old_spellings(WRITERS_OLD_SPELLINGS)
@click.argument("table", required=False)
@click.option("--tables", "selectors", multiple=True, metavar="SELECTOR",
              help="Back up every table matching: a name glob ('orders-*') or tag:KEY=VALUE; repeat for "
              "a union. Each table gets its own backup. Instead of TABLE.")
@click.option("--to", "dest", metavar="DEST", multiple=True,
              help="s3://bucket/prefix or a local directory. The backup goes to DEST/TABLE/BACKUP_ID. "
              "With --incremental, given twice: the destination and the window's end time.")
@_scan_options
@_table_and_vault_options("write the backup")
@click.option("--schema-only", is_flag=True, help="Save the table's schema and settings only: no Scan, no items.")
@click.option("--keep", metavar="POLICY", help="Keep policy, e.g. daily=7,weekly=5,monthly=12 (yearly=N too): "
              "tag the backup with its tier for the bucket's lifecycle rules (docs/backup.md#retention).")
@click.option("--engine", type=click.Choice(["scan", "export"]), default="scan", show_default=True,
              help="scan: ddbvault's parallel Scan (RCU); export: DynamoDB's point-in-time export into the "
              "vault (S3 only, needs PITR; docs/backup.md#export-engine).")
@click.option("--export-time", metavar="TIME", help="With --engine export: the point in time, UTC ISO 8601 "
              "(2026-11-30T10:00:00Z) [default: the backup's start].")
@click.option("--export-deadline", type=click.FloatRange(min=1), default=14400, show_default=True,
              metavar="SECONDS", help="With --engine export: stop waiting for the export after this long.")
@click.option("--incremental", is_flag=True, help="With --engine export: an incremental export of the "
              "changes between --from and --to (15 minutes to 24 hours).")
@click.option("--from", "export_from", metavar="TIME", help="With --incremental: the window's start (UTC).")
@click.option("--until", "export_to", metavar="TIME", help="With --incremental: the window's end (UTC); "
              "the same as a second --to TIME.")
@click.option("--backup-id", metavar="ID", help="Use this backup id (YYYYMMDDTHHMMSSZ-xxxxxx) instead of a "
              "new one: with --engine export, resumes the export a run that passed its deadline left running.")
@click.option("--resume", "resume_url", metavar="BACKUP_URL", help="Finish a backup a crash or a kill left "
              "without a manifest: scan only its segments without a result, then commit (instead of TABLE).")
@executor_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def backup_run(table, selectors, dest, segments, workers, read_share, read_rcu, consistent_read, compression,
               compression_level, object_size, part_size, acl, sse, kms_key_id, storage_class,
               table_role, table_external_id, vault_role, vault_external_id, profile, region, schema_only,
               keep, engine, export_time, export_deadline, incremental, export_from, export_to, backup_id,
               resume_url, executor, as_json, progress) -> None:
    """Back up TABLE (or every table --tables matches) into DEST. Writes data objects, then the
    manifest last. `--resume BACKUP_URL` finishes a backup that has no manifest yet.

    Its steps, apart (docs/scale.md): `ddbvault backup plan TABLE --to DEST`, then `ddbvault
    backup work --backup URL` on any number of processes or machines, then `ddbvault backup
    commit --backup URL`. A table named plan, work, commit or run: `ddbvault backup run NAME`."""
    from .backup.via_export import parse_time
    from .format.retention import parse_keep

    if resume_url is not None:
        if table or selectors or dest:
            _fail(UsageError("--resume BACKUP_URL finishes that backup: give no TABLE, --tables or --to with it",
                             hint=f"ddbvault backup --resume {resume_url}"), as_json)
        fixed = _given(click.get_current_context(), _FIXED_BY_PLAN) + (
            ["--parallelism"] if executor.parallelism is not None else [])
        if fixed:  # refused, not ignored: a resume reads and writes as the plan says (docs/scale.md)
            _fail(UsageError(f"{', '.join(fixed)}: the backup's plan fixed {'it' if len(fixed) == 1 else 'them'}, "
                             "and --resume keeps the plan's", hint=f"ddbvault backup --resume {resume_url} "
                             "without them (it takes --workers, the executor and the credentials' options), "
                             "or start a new backup"), as_json)
    elif not dest:
        _fail(UsageError("missing option --to DEST", hint="ddbvault backup TABLE --to s3://BUCKET/PREFIX"), as_json)
    else:
        _one_of_table_or_selectors(table, selectors)
    try:
        policy = parse_keep(keep) if keep is not None else None
        dest, export_to = _dest_and_end(dest, export_to, parse_time) if dest else (None, export_to)
        times = _export_times(engine, export_time, incremental, export_from, export_to, parse_time)
        run_on = executor_fields(executor, engine=engine, schema_only=schema_only)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    options = BackupOptions(keep=policy,
        segments=segments, workers=workers, read_share=read_share, read_rcu=read_rcu,
        consistent_read=consistent_read, compression=compression,
        compression_level=compression_level, object_size=object_size, part_size=part_size,
        acl=None if acl.lower() == "none" else acl, sse=sse, kms_key_id=kms_key_id,
        storage_class=storage_class, schema_only=schema_only, engine=engine, export_deadline_s=export_deadline,
        backup_id=backup_id, **times, **run_on,
        **_principals(profile, region, table_role, table_external_id, vault_role, vault_external_id))
    if resume_url is not None:
        from .backup import resume_backup

        result = _with_progress(progress, "RCU", as_json, lambda bar: resume_backup(resume_url, options, progress=bar))
        _backup_summary(result, result.table, as_json, incremental=False)
        return
    if selectors:
        from .backup.many import backup_tables
        from .dynamodb.selectors import parse_selectors

        with _BarPerTable(progress, "RCU") as bars:
            run = _guarded(as_json, lambda: backup_tables(parse_selectors(selectors), dest, options, progress=bars))
        _tables_summary(run, "backed up", as_json)
    result = _with_progress(progress, "RCU", as_json, lambda bar: backup_table(table, dest, options, progress=bar))
    _backup_summary(result, table, as_json, incremental)


def _backup_summary(result, table: str, as_json: bool, incremental: bool) -> None:
    """A finished backup, on stdout: one JSON object, or a line (two with a tier)."""
    if as_json:
        _emit_json(result.to_dict())
    elif result.schema_only:
        click.echo(f"backed up the schema of {table} to {result.url} (schema only: no items)")
    elif result.engine == "export":
        click.echo(f"backed up {result.items:,} {'changes' if incremental else 'items'} of {table} to {result.url} "
                   f"by DynamoDB export {result.export_arn} ({counted(result.objects, 'object')}, "
                   f"{result.bytes:,} bytes, "
                   f"{result.seconds:.1f}s)")
    else:
        click.echo(f"backed up {counted(result.items, 'item', ',')} of {table} to {result.url} "
                   f"({counted(result.objects, 'object')}, {result.bytes:,} bytes, "
                   f"{result.consumed_rcu:,.1f} RCU, {result.seconds:.1f}s)")
    if result.tier and not as_json:
        lock = f", Object Lock {result.object_lock_mode}" if result.object_lock_mode else ""
        click.echo(f"tier {result.tier}: expires {result.expires_at}{lock}")


def _principals(profile, region, table_role, table_external_id, vault_role, vault_external_id) -> dict:
    """BackupOptions' table_principal and vault_principal from the CLI's role options."""
    return {"table_principal": Principal(profile=profile, region=region, role_arn=table_role,
                                         external_id=table_external_id, session_name="ddbvault-source"),
            "vault_principal": Principal(profile=profile, region=region, role_arn=vault_role,
                                         external_id=vault_external_id, session_name="ddbvault-dest")}


@backup.command("plan")
@click.argument("table")
@click.option("--to", "dest", required=True, metavar="DEST", help="s3://bucket/prefix or a local directory.")
@click.option("--parallelism", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="Workers that will scan at once (processes, Batch children, Kubernetes pods); each "
              "gets the read cap / parallelism.")
@_scan_options
@_table_and_vault_options("write the plan")
@click.option("--keep", metavar="POLICY", help="Keep policy, as for `ddbvault backup`.")
@click.option("--backup-id", metavar="ID", help="Use this backup id (YYYYMMDDTHHMMSSZ-xxxxxx) instead of a new one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def backup_plan(table, dest, parallelism, segments, workers, read_share, read_rcu, consistent_read, compression,
                compression_level, object_size, part_size, acl, sse, kms_key_id, storage_class, table_role,
                table_external_id, vault_role, vault_external_id, profile, region, keep, backup_id,
                as_json) -> None:
    """Plan a backup of TABLE into DEST: describe the table, fix the segments and each worker's read
    rate, and write DEST/TABLE/BACKUP_ID/plan.json. Prints the backup's URL for `work` and `commit`."""
    from .backup.plan import plan_backup
    from .format.retention import parse_keep

    def plan():
        options = BackupOptions(
            keep=parse_keep(keep) if keep is not None else None, segments=segments, workers=workers,
            read_share=read_share, read_rcu=read_rcu, consistent_read=consistent_read, compression=compression,
            compression_level=compression_level, object_size=object_size, part_size=part_size,
            acl=None if acl.lower() == "none" else acl, sse=sse, kms_key_id=kms_key_id, storage_class=storage_class,
            backup_id=backup_id, parallelism=parallelism,
            **_principals(profile, region, table_role, table_external_id, vault_role, vault_external_id))
        return plan_backup(table, dest, options, parallelism=parallelism).plan

    planned = _guarded(as_json, plan)
    if as_json:
        _emit_json(planned.to_dict())
        return
    rate = ("unlimited" if planned.worker_read_rate_rcu_per_s is None
            else f"{planned.worker_read_rate_rcu_per_s:,.1f} RCU/s each")
    click.echo(f"planned {planned.url}: {counted(planned.segments, 'segment')} for "
               f"{counted(planned.parallelism, 'worker')} ({rate})")


@backup.command("work")
@click.option("--backup", "url", required=True, metavar="BACKUP_URL", help="The planned backup (what `plan` printed).")
@click.option("--segment", "segments", multiple=True, type=click.IntRange(0, 999_999),
              help="Scan this segment; repeatable [default: the worker's --index, else every segment].")
@click.option("--index", type=click.IntRange(0, 9_999), help="This worker's index among the plan's parallelism: "
              "segments S with S % parallelism == INDEX [default: JOB_COMPLETION_INDEX or "
              "AWS_BATCH_JOB_ARRAY_INDEX when set].")
@click.option("--workers", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Threads scanning segments at once in this process.")
@_table_and_vault_options("write the backup")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def backup_work(url, segments, index, workers, table_role, table_external_id, vault_role, vault_external_id,
                profile, region, as_json, progress) -> None:
    """Scan segments of the planned backup BACKUP_URL that have no result yet. Any number of
    workers may run, even on the same segments: each segment gets exactly one result."""
    from .backup.work import WorkOptions, index_from_env, work_segments

    def work(bar):
        chosen = index if index is not None or segments else index_from_env()
        options = WorkOptions(threads=workers, **_principals(profile, region, table_role, table_external_id,
                                                             vault_role, vault_external_id))
        return work_segments(url, list(segments) or None, index=chosen, options=options, progress=bar)

    report = _with_progress(progress, "RCU", as_json, work)
    if as_json:
        _emit_json(report.to_dict())
        return
    won = sum(1 for s in report.segments if s.outcome == "won")
    others = {o: sum(1 for s in report.segments if s.outcome == o) for o in ("lost", "done")}
    click.echo(f"worked on {report.url}: {counted(won, 'segment')} won, {others['lost']} lost to another attempt, "
               f"{others['done']} done before; {counted(report.items, 'item', ',')}, {report.consumed_rcu:,.1f} RCU, "
               f"{report.seconds:.1f}s")


@backup.command("commit")
@click.option("--backup", "url", required=True, metavar="BACKUP_URL", help="The planned backup (what `plan` printed).")
@vault_role_options("read the results and write the manifest")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the bucket.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def backup_commit(url, vault_role, vault_external_id, profile, region, as_json) -> None:
    """Check that every segment of BACKUP_URL has a result and write its manifest last (exit 6,
    naming the segments, when one has none). A committed backup is left as it is."""
    from .backup.commit import commit_backup

    principal = _principals(profile, region, None, None, vault_role, vault_external_id)["vault_principal"]
    result = _guarded(as_json, lambda: commit_backup(url, vault_principal=principal))
    _backup_summary(result, result.table, as_json, incremental=False)


@cli.command()
@click.argument("table")
@click.option("--to", "dest", required=True, metavar="DEST",
              help="The vault: s3://BUCKET/PREFIX, file:///PATH or a directory (the change log goes under DEST/TABLE/changes/).")
@click.option("--once", is_flag=True, help="Stop once every shard has answered no new records twice in a row.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop after this many seconds [default: run until stopped].")
@table_role_options("read the table and its stream")
@vault_role_options("write the change log")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the table (and default for the bucket); a table ARN's region must match.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def follow(table, dest, once, duration, table_role, table_external_id, vault_role, vault_external_id, profile,
           region, as_json) -> None:
    """Follow TABLE's DynamoDB stream into a change log in DEST (continuous backup). Ctrl-C stops it
    after writing what it holds; the next run continues after the last stored record.

    TABLE is a name, or a table ARN (arn:aws:dynamodb:REGION:ACCOUNT:table/NAME) for another
    account's table read through its resource-based policies; the log is kept under NAME."""
    from .follow import FollowOptions, follow_table

    options = FollowOptions(
        table=table, destination=dest, until_idle=once, max_seconds=duration,
        table_principal=Principal(profile=profile, region=region, role_arn=table_role,
                                  external_id=table_external_id, session_name="ddbvault-follow"),
        vault_principal=Principal(profile=profile, region=region, role_arn=vault_role,
                                  external_id=vault_external_id, session_name="ddbvault-dest"))
    result = _guarded(as_json, lambda: follow_table(options))
    if as_json:
        _emit_json(result.to_dict())
        return
    click.echo(f"followed {table}: {counted(result.records, 'record', ',')} in {counted(result.segments, 'segment')} "
               f"from {counted(result.shards, 'shard')} ({result.seconds:.1f}s)")
    for gap in result.gaps:
        click.echo(f"gap ({gap['reason']}): from {gap['from'] or 'an unknown time'} to {gap['to']}")


def _dest_and_end(values: tuple[str, ...], until: str | None, parse_time) -> tuple[str, str | None]:
    """`--to` is the destination, and with --incremental also the window's end (`--to T2`, the
    shared CLI spelling): of two --to values, the one that reads as a UTC time is the end."""
    if len(values) == 1:
        return values[0], until
    times = []
    for value in values:
        try:
            parse_time(value, "--to")
            times.append(value)
        except UsageError:
            pass
    if len(values) != 2 or len(times) != 1 or until:
        raise UsageError("--to is the destination, given once; with --incremental a second --to is the "
                         "window's end time", hint="--to s3://BUCKET/PREFIX --incremental --from T1 --to T2")
    return next(v for v in values if v not in times), times[0]


def _export_times(engine, export_time, incremental, export_from, export_to, parse_time) -> dict:
    """BackupOptions' export_time/export_from/export_to from the CLI's strings (UsageError)."""
    if engine != "export" and (export_time or incremental or export_from or export_to):
        raise UsageError("--export-time, --incremental, --from and --to need --engine export")
    if bool(incremental) != bool(export_from or export_to):
        raise UsageError("--incremental takes --from and --to, and --from/--to need --incremental",
                         hint="--engine export --incremental --from 2026-11-30T10:00:00Z --to 2026-11-30T11:00:00Z")
    if incremental and not (export_from and export_to):
        raise UsageError("--incremental needs both --from and --to",
                         hint="--engine export --incremental --from 2026-11-30T10:00:00Z --to 2026-11-30T11:00:00Z")
    return {"export_time": export_time and parse_time(export_time, "--export-time"),
            "export_from": export_from and parse_time(export_from, "--from"),
            "export_to": export_to and parse_time(export_to, "--to")}


@cli.command()
@old_spellings(RESTORE_OLD_SPELLINGS)
@click.argument("backup_url", metavar="BACKUP_URL", required=False)
@click.option("--table", help="Name of the table to restore into (with BACKUP_URL).")
@click.option("--from", "source", metavar="DEST", help="Restore several tables from this vault (the --to of "
              "the backups): the newest complete backup of each table --tables matches.")
@click.option("--tables", "selectors", multiple=True, metavar="GLOB",
              help="With --from: the backed-up tables to restore, by name glob ('orders-*'); repeatable.")
@click.option("--rename", "renames", multiple=True, metavar="FROM=TO",
              help="With --from: restore a table matching FROM into TO, one * on each side ('orders-*=dr-orders-*'); "
              "repeatable, first match wins. Every table must be mapped ('NAME=NAME' keeps a name).")
@click.option("--schema-only", is_flag=True, help="Create the table from the saved schema and settings; "
              "write no item.")
@click.option("--no-create", is_flag=True, help="Data-only restore: write into an existing, empty table "
              "with the same key.")
@click.option("--allow-non-empty", is_flag=True, help="With --no-create: allow a table that has items.")
@click.option("--resume", is_flag=True, help="Carry on an interrupted restore from its checkpoint.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="Checkpoint file "
              "[default: ~/.cache/ddbvault/restore/TABLE--BACKUP_ID.jsonl].")
@click.option("--billing-mode", type=click.Choice(["PROVISIONED", "PAY_PER_REQUEST"]),
              help="Override the saved billing mode.")
@click.option("--rcu", type=click.IntRange(1), help="Override the saved read capacity of the table and "
              "every GSI (PROVISIONED).")
@click.option("--wcu", type=click.IntRange(1), help="Override the saved write capacity of the table and "
              "every GSI (PROVISIONED).")
@click.option("--write-share", type=_SHARE,
              help="Share of the provisioned WCU of the slowest of the table and its GSIs to use [default: 0.5].")
@click.option("--write-wcu", type=_CAP,
              help="Absolute write cap in WCU/s (on-demand tables default to 1000).")
@click.option("--workers", type=click.IntRange(1, 256), default=4, show_default=True,
              help="Data objects restored at once.")
@click.option("--via", type=click.Choice(["batch", "import"]), default="batch", show_default=True,
              help="BatchWriteItem, or DynamoDB ImportTable (S3 backups; no LSIs).")
@click.option("--skip-lsi", is_flag=True, help="With --via import: restore without the table's LSIs.")
@click.option("--then", "then", multiple=True, metavar="INCREMENTAL_URL", help="After BACKUP_URL, apply this "
              "incremental export's changes (backup --engine export --incremental); repeat, in order. The "
              "windows must chain from the base's point in time.")
@click.option("--bucket-owner", metavar="ACCOUNT_ID", help="With --via import: the account of the backup "
              "bucket, sent to ImportTable as S3BucketOwner [default: found by asking S3].")
@click.option("--at", "at", metavar="TIME", help="Restore the table as it was at this UTC time, whole seconds "
              "(2026-11-30T10:15:00Z): BACKUP_URL is then DEST/TABLE, and the newest full backup before it is "
              "replayed forward with the change log `ddbvault follow` wrote.")
@click.option("--key", "keys", multiple=True, metavar="K", help="With --at: restore only this item "
              "(pk=VALUE[,sk=VALUE], or a JSON wire-form key); repeatable.")
@click.option("--keys-file", type=click.Path(dir_okay=False), help="With --at: restore only the items of "
              "this file's keys (one JSON wire-form key per line).")
@click.option("--sse", type=click.Choice(TABLE_SSE_CHOICES), default="saved", show_default=True,
              help="Encryption of the TARGET table restore creates: 'saved' keeps the backup's KMS key when "
              "it is a key of the target account and region, else uses that account's AWS managed key; "
              "'aws-owned' is DynamoDB's default; 'aws:kms' uses --kms-key-id or the AWS managed key.")
@click.option("--kms-key-id", metavar="KEY", help="KMS key (id, ARN or alias) for the TARGET table "
              "(implies --sse aws:kms). Not the backup bucket's key.")
@vault_role_options("read the backup")
@table_role_options("create and write the table")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the target table.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal].")
def restore(backup_url, table, source, selectors, renames, schema_only, no_create, allow_non_empty, resume,
            checkpoint, billing_mode, rcu, wcu, write_share, write_wcu, workers, via, skip_lsi, then, bucket_owner,
            at, keys, keys_file, sse, kms_key_id, vault_role,
            vault_external_id, table_role, table_external_id, profile, region, as_json, progress) -> None:
    """Restore BACKUP_URL (DEST/TABLE/BACKUP_ID) into a table, recreating its schema; or, with --from,
    --tables and --rename, the newest complete backup of several tables; or, with --at, the table
    (BACKUP_URL is DEST/TABLE) as it was at a point in time, whole or only some items (--key)."""
    from .restore import RestoreOptions, restore_backup
    from .dynamodb.table_create import Overrides

    _restore_form(backup_url, table, source, selectors, renames)
    if then and source:
        _fail(UsageError("--then applies incremental exports on top of one BACKUP_URL; it cannot be "
                         "combined with --from", hint="restore BASE_URL --table NAME --then INCREMENTAL_URL"),
              as_json)
    _point_in_time_form(at, keys, keys_file, then, source, schema_only)

    options = RestoreOptions(
        schema_only=schema_only, no_create=no_create, allow_non_empty=allow_non_empty, resume=resume,
        checkpoint=checkpoint,
        overrides=Overrides(billing_mode=billing_mode, rcu=rcu, wcu=wcu, sse=sse, kms_key_id=kms_key_id),
        write_share=write_share, write_wcu=write_wcu, workers=workers, via=via, skip_lsi=skip_lsi,
        bucket_owner=bucket_owner,
        vault_principal=Principal(profile=profile, region=region, role_arn=vault_role,
                         external_id=vault_external_id, session_name="ddbvault-restore-source"),
        table_principal=Principal(profile=profile, region=region, role_arn=table_role,
                         external_id=table_external_id, session_name="ddbvault-restore-target"),
    )
    if source:
        from .dynamodb.selectors import parse_rename, parse_selectors
        from .restore.many import restore_tables

        with _BarPerTable(progress, "WCU") as bars:
            run = _guarded(as_json, lambda: restore_tables(
                source, parse_selectors(selectors), tuple(parse_rename(r) for r in renames), options,
                progress=bars))
        _tables_summary(run, "restored", as_json)
    if at is not None:
        from .restore.point_in_time import restore_at

        result = _with_progress(progress, "WCU", as_json, lambda bar: restore_at(
            backup_url, table, at, options, restore_backup, keys=list(keys), keys_file=keys_file, progress=bar))
    else:
        result = _with_progress(progress, "WCU", as_json,
                                lambda bar: restore_backup(backup_url, table, options, progress=bar,
                                                           **({"then": list(then)} if then else {})))
    for line in result.notes:
        click.echo(f"ddbvault: note: {line}", err=True)
    if result.duplicates:  # a backup should hold each key once: say so, never hide it
        click.echo(f"ddbvault: warning: the backup repeats {counted(result.duplicates, 'key', ',')} (first at "
                   f"{result.first_duplicate}); {counted(result.items, 'distinct item', ',')} are in {table}", err=True)
    if as_json:
        _emit_json(result.to_dict())
    elif result.schema_only:
        click.echo(f"created {table} from the schema of {result.backup} (schema only: no items written, "
                   f"{result.seconds:.1f}s)")
    elif result.point_in_time:
        _echo_point_in_time(result, table)
    else:
        click.echo(f"restored {counted(result.items, 'item', ',')} into {table} from {result.backup} "
                   f"({result.consumed_wcu:,.1f} WCU, {result.seconds:.1f}s, via {result.via})")
        for inc in result.incrementals:
            click.echo(f"then applied {counted(inc['changes'], 'change', ',')} ({counted(inc['puts'], 'put', ',')}, "
                       f"{counted(inc['deletes'], 'delete', ',')}) "
                       f"of {inc['from']}..{inc['to']} from {inc['url']}")


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The service's YAML config (see etc/ddbvault.example.yaml).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default=None, help="[default: text]")
@click.option("--json", "as_json", is_flag=True,
              help="Same as --log-format json: stdout holds only JSON lines (and a JSON error object).")
def serve(config_path: str, log_format: str | None, as_json: bool) -> None:
    """Run scheduled backups in the foreground, with /healthz, /metrics and a status page."""
    from .service import Service, load_config

    try:
        if as_json and log_format == "text":  # one of them would be ignored
            raise UsageError("--json and --log-format text contradict each other",
                             hint="give --json (or --log-format json) for JSON lines, --log-format text for text")
        config = load_config(config_path)
        _service_logs(sys.stdout, "json" if as_json else log_format or "text")
        Service(config).serve_forever()
    except DdbvaultError as exc:
        _fail(exc, as_json)
    except OSError as exc:  # e.g. the HTTP port is taken
        _fail(DdbvaultError(f"cannot start the service: {exc}", "check http.host and http.port"), as_json)


@cli.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The service's YAML config.")
@click.option("--job", "jobs", multiple=True, metavar="NAME",
              help="Run only this job; repeat it for several [default: all jobs].")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the runs' records as JSON on stdout.")
def run_jobs(config_path: str, jobs: tuple[str, ...], log_format: str, as_json: bool) -> None:
    """Run the configured jobs once and exit (for CronJobs, ECS scheduled tasks, cron)."""
    from .service import load_config, run_once

    try:
        config = load_config(config_path)
        # With --json, stdout holds only the JSON records; logs go to stderr.
        _service_logs(sys.stderr if as_json else sys.stdout, log_format)
        records = run_once(config, jobs)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps([r.to_dict() for r in records]) + b"\n")
    failed = [r.job for r in records if r.outcome != "success"]
    if failed:
        click.echo(f"ddbvault: error: jobs failed: {', '.join(failed)}", err=True)
        click.echo("Try: each job's error is in " + ("its record's `error` and `hint`" if as_json else
                   "the log lines above") + "; run the failed jobs again with --job NAME", err=True)
        sys.exit(int(ExitCode.FAILURE))


@cli.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="The service's YAML config.")
@click.option("--job", "jobs", multiple=True, metavar="NAME",
              help="Check only this job; repeat it for several [default: all jobs].")
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": ..., "jobs": [...]} on stdout.')
def status(config_path: str, jobs: tuple[str, ...], as_json: bool) -> None:
    """Is every job's newest good backup within its RPO? Exit 0 only if so (a monitoring check)."""
    from .service import load_config
    from .service.status_cli import check_jobs, print_status, status_json

    try:
        config = load_config(config_path)
        protections = check_jobs(config, jobs)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(status_json(protections))
    else:
        print_status(protections, config)
    out = [p.job for p in protections if not p.within]
    if out:
        click.echo(f"ddbvault: error: out of RPO: {', '.join(out)}", err=True)
        sys.exit(int(ExitCode.FAILURE))


@cli.command()
@old_spellings(WRITERS_OLD_SPELLINGS)
@click.option("--table", required=True, help="The table a backup would read (with --continuous: its name or ARN).")
@click.option("--to", "dest", required=True, metavar="s3://BUCKET/PREFIX", help="The backup destination.")
@table_role_options("read the table")
@vault_role_options("write the backup")
@click.option("--owner-role", metavar="ARN", help="A role of the bucket owner: proves it can read the probe.")
@click.option("--acl", default=DEFAULT_ACL, show_default=True, type=_ACLS, help="Canned ACL the backup uses; 'none' for none.")
@click.option("--sse", type=click.Choice(SSE_CHOICES), help="SSE the backup uses.")
@click.option("--kms-key-id", help="KMS key for --sse aws:kms.")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region.")
@click.option("--keep", metavar="POLICY", help="The backups' keep policy: check the bucket has its lifecycle rules.")
@click.option("--engine", type=click.Choice(["scan", "export"]), default="scan", show_default=True,
              help="export: also check PITR and what DynamoDB's export needs of the table principal.")
@click.option("--continuous", is_flag=True, help="Check what `ddbvault follow` needs instead: the stream (enabled, "
              "NEW_IMAGE or NEW_AND_OLD_IMAGES), DescribeStream and GetShardIterator as the table principal, "
              "create-only writes of the change log as the vault principal.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON on stdout.")
def doctor(table, dest, table_role, table_external_id, vault_role, vault_external_id, owner_role, acl, sse,
           kms_key_id, profile, region, keep, engine, continuous, as_json) -> None:
    """Check, live, every permission a backup of TABLE to DEST needs (leaves only a tiny probe)."""
    from .doctor import MARKS, DoctorOptions, run_doctor
    from .format.retention import parse_keep

    try:
        policy = parse_keep(keep) if keep is not None else None
    except DdbvaultError as exc:
        _fail(exc, as_json)

    options = DoctorOptions(
        table_principal=Principal(profile=profile, region=region, role_arn=table_role, external_id=table_external_id,
                         session_name="ddbvault-doctor-source"),
        vault_principal=Principal(profile=profile, region=region, role_arn=vault_role, external_id=vault_external_id,
                       session_name="ddbvault-doctor-dest"),
        owner=Principal(profile=profile, region=region, role_arn=owner_role, session_name="ddbvault-doctor-owner")
        if owner_role else None,
        acl=None if acl.lower() == "none" else acl, sse=sse, kms_key_id=kms_key_id, keep=policy, engine=engine)
    try:
        if continuous and (engine != "scan" or policy is not None):
            raise UsageError("--continuous checks the follower; --engine and --keep are backup options",
                             hint="run `ddbvault doctor` once for the backups and once with --continuous")
        if continuous:
            from .doctor_continuous import run_follow_doctor
            report = run_follow_doctor(table, dest, options)
        else:
            report = run_doctor(table, dest, options)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(report.to_dict())
    else:
        for check in report.checks:
            click.echo(f"{MARKS[check.status]} {check.name}: {check.detail}")
            if check.permission and check.status == "fail":
                click.echo(f"    missing: {check.permission}" + (f"; granted by the {check.grant}" if check.grant else ""))
    if not report.ok:
        sys.exit(int(ExitCode.ACCESS_DENIED))


def _one_of_table_or_selectors(table, selectors) -> None:
    if bool(table) == bool(selectors):
        raise UsageError(f"give either TABLE or --tables, {'not both' if table else 'one of them'}",
                         hint="ddbvault backup orders --to DEST, or ddbvault backup --tables 'orders-*' --to DEST")


def _restore_form(backup_url, table, source, selectors, renames) -> None:
    """The single form (BACKUP_URL --table NAME) or the several-tables form (--from DEST --tables
    GLOB --rename FROM=TO), never a mix: UsageError otherwise."""
    several = bool(source or selectors or renames)
    if several and (backup_url or table):
        raise UsageError("BACKUP_URL and --table restore one backup; --from, --tables and --rename restore "
                         "several tables: give one form", hint="ddbvault restore --help")
    if several and not (source and selectors and renames):
        raise UsageError("restoring several tables needs --from DEST, --tables GLOB and --rename FROM=TO",
                         hint="ddbvault restore --from s3://vault/prefix --tables 'orders-*' "
                              "--rename 'orders-*=dr-orders-*'")
    if not several and not (backup_url and table):
        raise UsageError("give BACKUP_URL and --table NAME (or --from, --tables and --rename; or DEST/TABLE "
                         "--at TIME --table NAME)",
                         hint="ddbvault restore s3://vault/prefix/orders/BACKUP_ID --table orders-restored")


def _point_in_time_form(at, keys, keys_file, then, source, schema_only) -> None:
    """--at restores DEST/TABLE as of a time; --key/--keys-file need it; it excludes --then,
    --from and --schema-only. UsageError otherwise."""
    if (keys or keys_file) and at is None:
        raise UsageError("--key and --keys-file restore items as of a time: they need --at",
                         hint="ddbvault restore DEST/TABLE --at 2026-11-30T10:15:00Z --table NAME --key pk=VALUE")
    if at is not None and (then or source or schema_only):
        raise UsageError("--at replays the change log on the newest full backup before it; it cannot be "
                         "combined with --then, --from or --schema-only",
                         hint="ddbvault restore DEST/TABLE --at 2026-11-30T10:15:00Z --table NAME")


def _echo_point_in_time(result, table: str) -> None:
    """The text output of restore --at: what was written, from which base, and the granularity."""
    pit = result.point_in_time
    if "keys" in pit:
        absent = f"{pit['absent']:,} absent then" + (", deleted" if pit["deletes"] else ", not written")
        if pit.get("repeated_keys"):
            absent += f"; {counted(pit['repeated_keys'], 'key', ',')} named an item already given"
        click.echo(f"restored {pit['puts']:,} of {counted(pit['keys'], 'item', ',')} into {table} as of {pit['at']} "
                   f"({absent}) from {pit['base']} and the change log")
    else:
        click.echo(f"restored {table} as of {pit['at']}: {counted(result.items, 'item', ',')} from {pit['base']}, "
                   f"then {counted(pit['changes'], 'change', ',')} ({counted(pit['puts'], 'put', ',')}, "
                   f"{counted(pit['deletes'], 'delete', ',')}) from the "
                   f"change log ({result.seconds:.1f}s)")
    click.echo(f"granularity: {pit['granularity']}")


def _guarded(as_json: bool, call):
    """call(); a DdbvaultError raised before any table was run exits via _fail."""
    try:
        return call()
    except DdbvaultError as exc:
        _fail(exc, as_json)


SUMMARY_NAMES = 10  # failed tables named on the last error line; every one has its own line above


def _tables_summary(run, verb: str, as_json: bool) -> None:
    """One line per table and a count (or one JSON object), then exit with run.exit_code: 0 when
    every table succeeded, else the code all failures share, else 1 (runtime/each_table.py)."""
    for outcome in run.succeeded:  # a restore's notes (encryption chosen, settings kept), as in a single one
        for line in getattr(outcome.result, "notes", ()):
            click.echo(f"ddbvault: note: {outcome.target or outcome.table}: {line}", err=True)
    if as_json:
        _emit_json(run.to_dict())
    else:
        for outcome in run.outcomes:
            into = f" into {outcome.target}" if outcome.target else ""
            if outcome.ok:
                result = outcome.result
                click.echo(f"ok      {outcome.table}{into}: {counted(result.items, 'item', ',')}"
                           f"{' (schema only)' if result.schema_only else ''} "
                           f"{'to ' + result.url if hasattr(result, 'url') else 'from ' + result.backup}")
            else:
                click.echo(f"FAILED  {outcome.table}{into}: {outcome.error['message']}")
                if outcome.error.get("hint"):
                    click.echo(f"        Try: {outcome.error['hint']}")
        click.echo(f"{verb} {len(run.succeeded)} of {counted(len(run.outcomes), 'table')}"
                   + (f"; {len(run.failed)} failed" if run.failed else ""))
    if run.failed:
        names = [o.table for o in run.failed]
        more = f" and {len(names) - SUMMARY_NAMES} more" if len(names) > SUMMARY_NAMES else ""
        click.echo(f"ddbvault: error: {len(names)} of {counted(len(run.outcomes), 'table')} failed: "
                   + ", ".join(names[:SUMMARY_NAMES]) + more, err=True)
        click.echo("Try: each failed table's error and hint are "
                   + ("in the JSON on stdout" if as_json else "listed above") + "; run again for those tables", err=True)
    sys.exit(run.exit_code)


def _with_progress(flag: bool | None, unit: str, as_json: bool, call):
    """call(bar) with a progress bar (or None) that is stopped afterwards; errors exit via _fail."""
    bar = _progress_bar(flag, unit)
    try:
        return call(bar)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    finally:
        if bar:
            bar.stop()


class _BarPerTable:
    """A progress bar per table of a --tables run (or None, as _progress_bar decides): calling it
    for the next table stops the previous table's bar; leaving the `with` stops the last."""

    def __init__(self, flag: bool | None, unit: str):
        self.flag, self.unit, self.bar = flag, unit, None

    def __call__(self, table: str):
        self.__exit__()
        self.bar = _progress_bar(self.flag, self.unit)
        return self.bar

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None


def _progress_bar(flag: bool | None, unit: str):
    """A TerminalProgress when asked (--progress) or when stderr is a terminal, else None."""
    if not (sys.stderr.isatty() if flag is None else flag):
        return None
    from .runtime.progress_bar import TerminalProgress

    return TerminalProgress(unit=unit)


@cli.command()
@click.option("--items", type=click.IntRange(10, 20_000), default=3000, show_default=True,
              help="Items in the sample table.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def demo(items: int, as_json: bool) -> None:
    """Back up a sample table across accounts on local servers (no AWS account needed)."""
    from .devtools.demo import run_demo

    try:
        report = run_demo(items, echo=None if as_json else click.echo)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(report)


@cli.command()
@old_spellings(READERS_OLD_SPELLINGS)
@click.argument("backup_url", metavar="BACKUP_URL")
@click.option("--against-table", metavar="NAME", help="Also compare every item with this live table, by key.")
@click.option("--max-differences", type=click.IntRange(0), default=10, show_default=True,
              help="Differences reported one by one (with --against-table).")
@click.option("--read-rcu", type=_CAP,
              help="Read cap for --against-table in RCU/s [default: as for backup].")
@vault_role_options("read the backup")
@table_role_options("read --against-table")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def verify(backup_url, against_table, max_differences, read_rcu, vault_role, vault_external_id,
           table_role, table_external_id, profile, region, as_json) -> None:
    """Check BACKUP_URL (sizes, sha256, item counts) without writing; exit 6 on any problem."""
    from .verify import verify_backup

    try:
        report = verify_backup(
            backup_url, against_table=against_table, max_differences=max_differences,
            read_rcu=read_rcu,
            vault_principal=Principal(profile=profile, region=region, role_arn=vault_role,
                                external_id=vault_external_id, session_name="ddbvault-verify"),
            table_principal=Principal(profile=profile, region=region, role_arn=table_role,
                                      external_id=table_external_id, session_name="ddbvault-verify-table"))
    except DdbvaultError as exc:
        _fail(exc, as_json)
    for line in report.notes:
        click.echo(f"ddbvault: note: {line}", err=True)
    for line in report.problem_lines():
        click.echo(f"ddbvault: verify: {line}", err=True)
    if as_json:
        _emit_json(report.to_dict())
    if report.ok:
        click.echo(report.summary(), err=as_json)
    else:
        click.echo(f"ddbvault: error: {report.summary()}", err=True)
        click.echo("Try: the lines above name each problem; restore from another backup "
                   "(`ddbvault list` shows them)", err=True)
        sys.exit(int(ExitCode.INTEGRITY))


@cli.command(name="list")
@old_spellings(READERS_OLD_SPELLINGS)
@click.argument("dest", metavar="DEST")
@click.option("--table", metavar="NAME", help="Only this table's backups.")
@vault_role_options("list the backups")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the bucket.")
@click.option("--rpo", type=_Duration(), metavar="DURATION",
              help="Say whether each table's newest complete backup is within this age (26h, 90m, 7d).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list on stdout.")
def list_command(dest, table, vault_role, vault_external_id, profile, region, rpo, as_json) -> None:
    """List the backups under DEST, newest first, with their status."""
    from datetime import datetime, timezone

    from .service.rpo import format_duration, rpo_fields, rpo_mark, rpo_marks
    from .vault.listing import format_rows, list_backups

    from .vault.change_log import attach_summaries, format_summary

    reader = _reader(profile, region, vault_role, vault_external_id, "ddbvault-list")
    try:
        entries = list_backups(dest, table=table, vault_principal=reader)
        change_logs = attach_summaries(dest, entries, reader)
    except DdbvaultError as exc:
        _fail(exc, as_json)
    marks = None if rpo is None else rpo_marks(entries, rpo, datetime.now(timezone.utc))
    if as_json:
        rows = [e.to_dict() if marks is None else {**e.to_dict(), **rpo_fields(marks.get(e.url))} for e in entries]
        sys.stdout.buffer.write(orjson.dumps(rows) + b"\n")
    elif entries:
        extra = None if marks is None else (f"RPO {format_duration(rpo)}", {u: rpo_mark(p) for u, p in marks.items()})
        for row in format_rows(entries, extra):
            click.echo(row)
        for name, found in change_logs.items():
            for line in format_summary(name, found):
                click.echo(line)
    else:
        where = f"of table {table} under {dest}" if table else f"under {dest}"
        verdict = f"; RPO {format_duration(rpo)}: OUT (no backup yet)" if rpo is not None and table else ""
        click.echo(f"no backups {where}{verdict}", err=True)


@cli.command()
@click.argument("table", metavar="TABLE")
@click.option("--from", "dest", required=True, metavar="DEST", help="The vault (the --to of the backups and of follow).")
@click.option("--key", "key", required=True, metavar="K", help="The item: pk=VALUE[,sk=VALUE], or a JSON wire-form key.")
@vault_role_options("read the vault")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the bucket.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the versions on stdout.")
def history(table, dest, key, vault_role, vault_external_id, profile, region, as_json) -> None:
    """Print an item's versions in the change log (time, event, sequence, image), oldest first."""
    from .restore.item_history import item_history

    try:
        versions = item_history(_table_url(dest, table), key, _reader(profile, region, vault_role, vault_external_id,
                                                                      "ddbvault-history"))
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(versions) + b"\n")
        return
    for version in versions:
        image = "-" if version["image"] is None else orjson.dumps(version["image"]).decode()
        click.echo(f"{version['time']}  {version['event']:<6}  {version['sequence']}  {image}")
    if not versions:
        click.echo(f"no version of that item in the change log of {table}", err=True)


@cli.command()
@click.argument("table", metavar="TABLE")
@click.option("--from", "dest", required=True, metavar="DEST", help="The vault (the --to of the backups and of follow).")
@click.option("--key", "key", required=True, metavar="K", help="The item: pk=VALUE[,sk=VALUE], or a JSON wire-form key.")
@click.option("--at", "at", metavar="TIME", help="UTC time, whole seconds [default: the newest restorable time].")
@vault_role_options("read the vault")
@click.option("--profile", help="AWS profile for the base credentials.")
@click.option("--region", help="AWS region of the bucket.")
@click.option("--json", "as_json", is_flag=True, help="Errors too as one JSON object on stdout (the item is JSON anyway).")
def get(table, dest, key, at, vault_role, vault_external_id, profile, region, as_json) -> None:
    """Print an item as of --at as JSON (wire form), from a full backup and the change log; exit 3
    when it did not exist then."""
    from .errors import NotFoundError
    from .restore.item_history import item_at

    try:
        item, when = item_at(_table_url(dest, table), key, at, _reader(profile, region, vault_role,
                                                                       vault_external_id, "ddbvault-get"))
        if item is None:
            raise NotFoundError(f"the item did not exist in {table} at {when}",
                                hint=f"`ddbvault history {table} --from {dest} --key ...` lists its versions")
    except DdbvaultError as exc:
        _fail(exc, as_json)
    sys.stdout.buffer.write(orjson.dumps(item) + b"\n")


def _table_url(dest: str, table: str) -> str:
    """DEST/TABLE, the table's folder in the vault."""
    from .format.layout import check_table_name
    from .storage.destination import refuse_empty_segments

    refuse_empty_segments(dest)
    return dest.rstrip("/") + "/" + check_table_name(table)


def _reader(profile, region, role, external_id, session_name: str) -> Principal:
    return Principal(profile=profile, region=region, role_arn=role, external_id=external_id,
                     session_name=session_name)


@cli.command()
@click.option("--table", "tables", multiple=True, required=True, metavar="NAME|ARN",
              help="A production table to back up (repeat for several).")
@click.option("--prod-account", required=True, metavar="ID", help="The production account id.")
@click.option("--data-account", required=True, metavar="ID", help="The data account id (owns the bucket).")
@click.option("--bucket", required=True, help="The backup bucket in the data account.")
@click.option("--prefix", default="", help="Key prefix of the backups in the bucket.")
@click.option("--region", default="us-east-1", show_default=True, help="Region of the bucket and the tables.")
@click.option("--kms-key-arn", metavar="ARN", help="SSE-KMS with this existing key [default: SSE-S3].")
@click.option("--create-kms-key", is_flag=True, help="The data template creates the SSE-KMS key.")
@click.option("--writer-role", metavar="NAME", help="Write through this role in the data account (the vault "
              "role that backups pass as --vault-role).")
@click.option(VAULT_EXTERNAL_ID, "--external-id", "external_id", metavar="ID",
              help="External id required to assume --writer-role.")
@click.option("--backup-role", default="ddbvault-backup", show_default=True, metavar="NAME",
              help="Name of the production role that runs backups.")
@click.option("--restore-account", metavar="ID", help="Account that restores (default: production); "
              "another account than the data account is granted read access to the backups.")
@click.option("--restore-table", "restore_tables", multiple=True, metavar="NAME",
              help="Target table of restores (repeat; default: the --table names).")
@click.option("--format", "fmt", type=click.Choice(["json", "cloudformation", "cloudformation-json", "terraform",
                                                   "kubernetes"]), default="json", show_default=True,
              help="IAM policy documents, CloudFormation templates, Terraform modules (one per account), or "
              "the Kubernetes objects of --runner kubernetes.")
@click.option("--part", type=click.Choice(["production", "data", "restore", "all"]), default="all",
              show_default=True, help="Only the documents of one account or of restores.")
@click.option("--out-dir", type=click.Path(file_okay=False),
              help="Write one file per document here (Terraform: one folder per account).")
@click.option("--keep", metavar="POLICY", help="Keep policy of the backups, e.g. daily=7,weekly=5,monthly=12: "
              "one lifecycle rule per tier, and the grants tagging needs.")
@click.option("--engine", type=click.Choice(["scan", "export"]), default="scan", show_default=True,
              help="export: also grant what DynamoDB's exports into the bucket need (docs/export-engine.md); "
              "the scheduled backups use it.")
@click.option("--continuous", is_flag=True, help="Also the follower role (data account) and each table's stream "
              "and table resource policies that let it read the stream (docs/continuous-access.md).")
@click.option("--follower-role", default="ddbvault-follower", show_default=True, metavar="NAME",
              help="With --continuous: name of the data account role that runs `ddbvault follow`.")
@click.option("--keep-changes", type=int, metavar="DAYS", help="With --continuous: a lifecycle rule expires "
              "the change log's segments (tag ddbvault-log=segment) DAYS days after they were written; "
              "start, closed and gap objects never expire (docs/continuous.md).")
@click.option("--runner", type=click.Choice(["batch", "kubernetes"]), help="Run backups as `backup plan`, an "
              "array of `backup work` and `backup commit` jobs: an AWS Batch stack, or Kubernetes Jobs with an IRSA role "
              "(docs/scale-batch-kubernetes.md).")
@click.option("--parallelism", type=int, metavar="P", help="With --runner: workers of one backup (array size, "
              "completions) [default: 4].")
@click.option("--namespace", metavar="NS", help="With --runner kubernetes: the jobs' namespace [default: ddbvault].")
@click.option("--image", metavar="IMAGE", help="With --runner kubernetes: the ddbvault container image.")
@click.option("--oidc-provider", metavar="ISSUER", help="With --runner kubernetes: the EKS cluster's OIDC issuer "
              "without https:// (oidc.eks.REGION.amazonaws.com/id/ID), which the role trusts.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"format", "part", "files": {NAME: TEXT}} on stdout; with --out-dir, '
              '{"format", "part", "written": [PATH, ...]}.')
def iam(tables, prod_account, data_account, bucket, prefix, region, kms_key_arn, create_kms_key,
        writer_role, external_id, backup_role, restore_account, restore_tables, fmt, part, out_dir,
        keep, engine, continuous, follower_role, keep_changes, runner, parallelism, namespace, image,
        oidc_provider, as_json) -> None:
    """Print least-privilege IAM policies, the bucket policy, CloudFormation templates or Terraform."""
    from pathlib import Path

    from .iac import make_inputs
    from .iac.render import render_files, render_stream

    try:
        inputs = make_inputs(
            tables=tables, prod_account=prod_account, data_account=data_account, bucket=bucket,
            region=region, prefix=prefix, kms_key_arn=kms_key_arn, create_kms_key=create_kms_key,
            writer_role=writer_role, external_id=external_id, backup_role=backup_role,
            restore_account=restore_account, restore_tables=restore_tables, keep=keep, engine=engine,
            continuous=continuous, follower_role=follower_role, keep_changes=keep_changes, runner=runner,
            parallelism=parallelism, namespace=namespace, image=image, oidc_provider=oidc_provider)
        if not (out_dir or as_json):
            click.echo(render_stream(inputs, fmt, part), nl=False)
            return
        files = render_files(inputs, fmt, part)
        written = _write_all(Path(out_dir), files) if out_dir else []
    except DdbvaultError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json({"format": fmt, "part": part, **({"written": written} if out_dir else {"files": files})})
    else:
        for path in written:
            click.echo(path)


def _write_all(out_dir, files: dict[str, str]) -> list[str]:
    """Write every file under `out_dir` (terraform: a folder per module), all or none: each is
    staged in a hidden temporary file beside its path and renamed into place only once all are
    staged, so a failure leaves no file of this run (a folder it made may stay). Raises
    UsageError naming the path that could not be written."""
    from pathlib import Path

    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            path = Path(out_dir) / name
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
                temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # open(): the umask's mode
                staged.append((temp, path))
                temp.write_text(text)
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror}",
                                 hint="pass an --out-dir this user can write to") from None
        for temp, path in staged:
            os.replace(temp, path)
        return [str(path) for _, path in staged]
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)


def _usage_error(exc: click.ClickException, as_json: bool) -> None:
    """click's own errors (bad options, missing arguments) in our shape: one line, a hint, exit 2."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        exc.show()  # `ddbvault` alone: the help text is the answer, not an error line
        sys.exit(int(ExitCode.USAGE))
    command = getattr(getattr(exc, "ctx", None), "command_path", None) or "ddbvault"
    _fail(UsageError(exc.format_message(), hint=f"{command} --help"), as_json)


def _unexpected(exc: Exception, as_json: bool) -> None:
    """An exception ddbvault does not classify (a bug): one line and exit 1; the traceback only
    at -vv. Only system errors' messages are shown: others could quote data (invariant 7). With
    --json, the same error object as ddbvault's own errors, `error` naming the exception's class."""
    detail = f": {str(exc)[:200]}" if isinstance(exc, (OSError, RuntimeError, MemoryError)) else ""
    message = f"unexpected {type(exc).__name__}{detail}"
    click.echo(f"ddbvault: error: {message}", err=True)
    if logging.getLogger().isEnabledFor(logging.DEBUG):  # where it happened, not the message again
        click.echo("Traceback (most recent call last):\n" + "".join(traceback.format_tb(exc.__traceback__))
                   + f"{type(exc).__name__}{detail}", err=True)
        hint = "report this with the traceback above (it holds no item values)"
    else:
        hint = "run again with -vv to see where it happened, and report it"
    click.echo(f"Try: {hint}", err=True)
    if as_json:
        _emit_json({"error": type(exc).__name__, "message": message, "hint": hint,
                    "exit_code": int(ExitCode.FAILURE)})
    sys.exit(int(ExitCode.FAILURE))


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    # An error raised before a command could read its own --json (click's usage errors, options
    # refused while they are built) still prints its JSON object on stdout for scripts.
    as_json = "--json" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False, prog_name="ddbvault")
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _usage_error(exc, as_json)
    except click.exceptions.Abort:
        click.echo("ddbvault: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except DdbvaultError as exc:
        _fail(exc, as_json)
    except KeyboardInterrupt:
        click.echo("ddbvault: interrupted", err=True)
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # noqa: BLE001 - the one place that turns a bug into exit 1
        _unexpected(exc, as_json)


if __name__ == "__main__":
    main()
