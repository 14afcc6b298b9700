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

from ._version import __version__
from .backup import BackupOptions, BackupResult, backup_table
from .errors import (AccessDeniedError, AwsError, AwsNotFoundError, DdbvaultError, IntegrityError,
                     InterruptedRun, NotFoundError, RetriesExhaustedError, UsageError)
from .restore import RestoreOptions, RestoreResult, restore_backup
from .vault.listing import BackupEntry, list_backups
from .verify import VerifyReport, verify_backup

__all__ = [
    "__version__",
    # the verbs, their options and results
    "backup_table", "BackupOptions", "BackupResult",
    "restore_backup", "RestoreOptions", "RestoreResult",
    "verify_backup", "VerifyReport",
    "list_backups", "BackupEntry",
    # the exception tree (errors.py)
    "DdbvaultError", "UsageError", "NotFoundError", "AwsError", "AccessDeniedError",
    "AwsNotFoundError", "RetriesExhaustedError", "IntegrityError", "InterruptedRun",
]
