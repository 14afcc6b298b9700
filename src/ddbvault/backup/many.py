"""Backing up every table that selectors match: `ddbvault backup --tables` and a service job with
`tables:`.

`backup_tables()` checks the options and the destination, resolves the selectors at call time
(dynamodb/table_listing.py: each run lists the tables again, so a table created since the last
run is included), then calls `backup_table()` for each table, one after the other. Each table
gets its own backup and manifest under DEST/TABLE/BACKUP_ID, exactly as a single-table backup.
One table's failure does not stop the others (runtime/each_table.py).
"""

from __future__ import annotations

import threading
from typing import Callable

from ..aws.retry import RetryStats
from ..dynamodb.selectors import Selector
from ..dynamodb.table_listing import resolve_tables
from ..runtime.each_table import TablesRun, run_each
from ..runtime.progress import Progress
from ..storage.destination import parse_destination
from . import BackupOptions, BackupResult, backup_table
from .plan import open_destination, write_options_for
from .via_export import check_export_options


def backup_tables(selectors: tuple[Selector, ...], dest: str, options: BackupOptions | None = None, *,
                  progress: Callable[[str], Progress | None] | None = None,
                  cancelled: threading.Event | None = None,
                  after: Callable[[BackupResult], object] | None = None) -> TablesRun:
    """Back up each table `selectors` match (their union, sorted by name) into `dest`.

    `progress(table)` gives the Progress of one table's backup (None: none). `after(result)` runs
    after each table's backup (the service's verify_after): if it raises, that table failed.
    Raises before any backup starts: UsageError for bad options or destination (a directory
    that cannot be written), NotFoundError when no table matches or the bucket does not exist,
    AwsError when the tables cannot be listed (dynamodb:ListTables, and
    dynamodb:ListTagsOfResource for tag selectors). Afterwards only InterruptedRun or
    KeyboardInterrupt (the run was stopped); each table's own error is in its outcome.
    """
    options = options or BackupOptions()
    options.validate()
    destination = parse_destination(dest)
    if options.engine == "export":  # the run's usage error, not each table's (a local directory, --keep)
        check_export_options(options, destination)
    write_options = write_options_for(destination, options)
    tables = resolve_tables(selectors, options.table_principal)
    # A bucket that does not exist (or a directory that cannot be written) is the run's failure,
    # not each table's: found once here, instead of one HeadBucket error per matched table.
    open_destination(destination, options, write_options, RetryStats())

    def one(table: str, table_cancelled: threading.Event):
        result = backup_table(table, dest, options, progress=progress(table) if progress else None,
                              cancelled=table_cancelled)
        if after is not None:
            after(result)
        return result

    return run_each(tables, one, cancelled=cancelled)
