"""ddbvault: back up DynamoDB tables into S3 in a separate AWS account, and restore them anywhere.

The library API is what the CLI and the scheduler use:

    from ddbvault import backup_table, BackupOptions
    result = backup_table("orders", "s3://backups-bucket/prod", BackupOptions(read_share=0.25))

Errors derive from `ddbvault.errors.DdbvaultError`; each carries an exit code and a hint.
"""

from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("ddbvault")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

from .backup import BackupOptions, BackupResult, backup_table  # noqa: E402
from .errors import DdbvaultError  # noqa: E402
from .listing import BackupEntry, list_backups  # noqa: E402
from .verify import VerifyReport, verify_backup  # noqa: E402

__all__ = ["__version__", "backup_table", "BackupOptions", "BackupResult", "DdbvaultError",
           "verify_backup", "VerifyReport", "list_backups", "BackupEntry"]
