"""ddbvault: back up DynamoDB tables into S3 in a separate AWS account, and restore them anywhere.

The library API is what the CLI and the scheduler use:

    from ddbvault import backup_table, BackupOptions
    result = backup_table("orders", "s3://backups-bucket/prod", BackupOptions(read_share=0.25))
    report = verify_backup(result.url)
    restore_backup(result.url, "orders-copy")

Every verb raises only `DdbvaultError` subclasses on purpose; each carries the exit code the CLI
exits with and a hint (the CLI prints it as "Try: ..."):

    DdbvaultError          1    UsageError       2    NotFoundError          3
    AccessDeniedError      4    AwsError         5    RetriesExhaustedError  5
    IntegrityError         6    InterruptedRun   130

The package layout and what each package may import: docs/architecture.md.
"""

from importlib import import_module

from ._version import __version__

# The API is imported on first use (PEP 562), so that importing a pure package such as
# ddbvault.format or ddbvault.capacity does not load boto3 through this package root.
_API = {
    "backup_table": ".backup", "BackupOptions": ".backup", "BackupResult": ".backup",
    "restore_backup": ".restore", "RestoreOptions": ".restore", "RestoreResult": ".restore",
    "verify_backup": ".verify", "VerifyReport": ".verify",
    "follow_table": ".follow", "FollowOptions": ".follow", "FollowResult": ".follow",
    "list_backups": ".vault.listing", "BackupEntry": ".vault.listing",
    **dict.fromkeys(["DdbvaultError", "UsageError", "NotFoundError", "AwsError", "AccessDeniedError",
                     "AwsNotFoundError", "RetriesExhaustedError", "IntegrityError", "InterruptedRun"],
                    ".errors"),
}


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


__all__ = [
    "__version__",
    # the verbs, their options and results
    "backup_table", "BackupOptions", "BackupResult",
    "restore_backup", "RestoreOptions", "RestoreResult",
    "verify_backup", "VerifyReport",
    "follow_table", "FollowOptions", "FollowResult",
    "list_backups", "BackupEntry",
    # the exception tree (errors.py)
    "DdbvaultError", "UsageError", "NotFoundError", "AwsError", "AccessDeniedError",
    "AwsNotFoundError", "RetriesExhaustedError", "IntegrityError", "InterruptedRun",
]
