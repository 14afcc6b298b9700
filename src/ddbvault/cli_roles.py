"""The CLI's role options, named by the account they act on.

Every command that reaches AWS takes `--table-role ARN` with `--table-external-id ID` for the
table's account and `--vault-role ARN` with `--vault-external-id ID` for the vault's account (the
account of the backup bucket). `--external-id` is a second name of `--vault-external-id` in every
command (and in `iam`): wherever it was accepted before, it meant the external id of the role that
reaches the bucket.

The spellings these replace (--source-role, --source-external-id, --dest-role, --target-role,
--target-external-id) are kept for one release as hidden options. Each prints one deprecation line
on stderr (stdout stays the command's result, so --json output is unchanged) and hands its value to
the new option. "source" named the table in `backup` and `doctor` but the vault in `restore`,
`verify` and `list`: the *_OLD_SPELLINGS tables below say, per command, which option each stands for.
"""

from __future__ import annotations

import functools

import click

TABLE_ROLE, TABLE_EXTERNAL_ID = "--table-role", "--table-external-id"
VAULT_ROLE, VAULT_EXTERNAL_ID = "--vault-role", "--vault-external-id"

# What each old spelling stood for, for old_spellings(): "source" was the table for the commands
# that write a backup (backup, doctor) and the vault for those that read one (restore, verify, list).
WRITERS_OLD_SPELLINGS = {"--source-role": TABLE_ROLE, "--source-external-id": TABLE_EXTERNAL_ID,
                         "--dest-role": VAULT_ROLE}
READERS_OLD_SPELLINGS = {"--source-role": VAULT_ROLE, "--source-external-id": VAULT_EXTERNAL_ID}
RESTORE_OLD_SPELLINGS = {**READERS_OLD_SPELLINGS, "--target-role": TABLE_ROLE,
                         "--target-external-id": TABLE_EXTERNAL_ID}


def _variable(option: str) -> str:
    """The command's parameter for `option`: `--table-role` -> `table_role`."""
    return option.lstrip("-").replace("-", "_")


def _stack(*decorators):
    def apply(command):
        for decorator in reversed(decorators):  # the first one given is listed first in --help
            command = decorator(command)
        return command
    return apply


def table_role_options(purpose: str):
    """--table-role and --table-external-id (parameters `table_role`, `table_external_id`)."""
    return _stack(
        click.option(TABLE_ROLE, type=ROLE_ARN, metavar="ARN", help=f"Role to assume in the table's account, to {purpose}."),
        click.option(TABLE_EXTERNAL_ID, type=EXTERNAL_ID, metavar="ID", help=f"External id for {TABLE_ROLE}."))


def vault_role_options(purpose: str):
    """--vault-role and --vault-external-id, alias --external-id (`vault_role`, `vault_external_id`)."""
    return _stack(
        click.option(VAULT_ROLE, type=ROLE_ARN, metavar="ARN",
                     help=f"Role to assume in the vault's account (the backup bucket's), to {purpose}."),
        click.option(VAULT_EXTERNAL_ID, "--external-id", _variable(VAULT_EXTERNAL_ID), type=EXTERNAL_ID, metavar="ID",
                     help=f"External id for {VAULT_ROLE}."))


def old_spellings(renamed: dict[str, str]):
    """Hidden options for the old spellings of a command's role options: `renamed` maps each old
    spelling to the new option it stands for in this command. Apply it below @cli.command(), above
    the options it renames.

    An old spelling prints one deprecation line on stderr and fills the new option's parameter.
    Both spellings with different values is a click.UsageError (exit 2); with the same value, fine.
    """
    def decorate(command):
        @functools.wraps(command)  # also shares command.__click_params__, the options declared so far
        def with_old_spellings(**params):
            for old, new in renamed.items():
                value = params.pop(_old_variable(old))
                given = params[_variable(new)]
                if value is not None and given is not None and value != given:
                    raise click.UsageError(f"{old} (the old spelling of {new}) and {new} give different values; "
                                           f"give only {new}",
                                           ctx=click.get_current_context())
                if value is not None:
                    params[_variable(new)] = value
            _check_pairs(params)
            return command(**params)

        for old, new in renamed.items():
            click.option(old, _old_variable(old), hidden=True, type=ROLE_ARN if new.endswith("-role") else EXTERNAL_ID,
                         callback=_deprecation_line(old, new))(with_old_spellings)
        return with_old_spellings
    return decorate


def _check_pairs(params: dict) -> None:
    """An external id without its role would be ignored: refused, naming the options (the library
    would name only an internal session name). Raises click.UsageError (exit 2)."""
    for role, external_id in ((TABLE_ROLE, TABLE_EXTERNAL_ID), (VAULT_ROLE, VAULT_EXTERNAL_ID)):
        if params.get(_variable(external_id)) is not None and params.get(_variable(role)) is None:
            spelled = f"{external_id} (or --external-id)" if external_id == VAULT_EXTERNAL_ID else external_id
            raise click.UsageError(f"{spelled} needs {role}: without a role to assume it would be ignored",
                                   ctx=click.get_current_context())


class _Checked(click.ParamType):
    """A click type from one of the library's own checks, so that click names the option."""

    def __init__(self, name: str, check):
        self.name, self._check = name, check

    def convert(self, value, param, ctx):
        from .errors import UsageError

        try:
            return self._check(value)
        except UsageError as exc:
            self.fail(exc.message, param, ctx)


def _role_arn(value: str) -> str:
    from .aws.session import check_role_arn

    return check_role_arn(value)


def _external_id(value: str) -> str:
    from .aws.session import check_external_id

    return check_external_id(value)


ROLE_ARN = _Checked("ARN", _role_arn)
EXTERNAL_ID = _Checked("ID", _external_id)


def _old_variable(option: str) -> str:
    return "old_" + _variable(option)


def _deprecation_line(old: str, new: str):
    def warn(ctx: click.Context, param: click.Parameter, value):
        if value is not None and not ctx.resilient_parsing:
            click.echo(f"ddbvault: warning: {old} is deprecated and goes away in the next release; use {new}",
                       err=True)
        return value
    return warn
