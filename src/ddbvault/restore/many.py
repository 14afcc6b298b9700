"""Restoring several tables from one vault: `ddbvault restore --from DEST --tables GLOB --rename FROM=TO`.

`restore_tables()` lists DEST (vault/listing.py), keeps the tables a name glob matches, maps
each through the first rename that matches it (dynamodb/selectors.py: every table must map; a
table is restored into its own name only when a rename says so, e.g. 'orders=orders'), and
restores each table's newest complete backup (never an incremental export, which needs a base)
with `restore_backup()`, one after the other. One
table's failure does not stop the others (runtime/each_table.py). Everything that can be refused
is refused before the first table is touched: a tag selector (a vault listing has no tags), a
table no rename maps, two tables mapped to one name, no table matched.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..dynamodb.selectors import Rename, Selector, describe, no_match, renamed
from ..errors import NotFoundError, UsageError
from ..runtime.each_table import TablesRun, run_each
from ..runtime.progress import Progress
from ..vault.listing import COMPLETE, list_backups
from . import restore_backup
from .options import RestoreOptions


def restore_tables(dest: str, selectors: tuple[Selector, ...], renames: tuple[Rename, ...],
                   options: RestoreOptions | None = None, *,
                   progress: Callable[[str], Progress | None] | None = None,
                   cancelled: threading.Event | None = None) -> TablesRun:
    """Restore the newest complete backup of each table under `dest` that `selectors` match, into
    the name `renames` gives it. Each outcome's `table` is the backed-up table, `target` the
    table restored into. Raises before any restore starts (UsageError, NotFoundError, AwsError
    from the listing); afterwards only InterruptedRun or KeyboardInterrupt."""
    options = options or RestoreOptions()
    tags = [s for s in selectors if s.is_tag]
    if tags:
        raise UsageError(f"restore --tables takes name patterns only, not {describe(tags)}",
                         hint="a vault listing has no tags; select the tables by name, e.g. --tables 'orders-*'")
    if options.checkpoint:
        raise UsageError("--checkpoint names one file, and --tables restores several tables",
                         hint="drop --checkpoint: each table gets its own default checkpoint")
    if options.resume:  # a new run picks each table's newest backup again: maybe not the one being written
        raise UsageError("--resume carries on one interrupted restore, and restoring several tables has no "
                         "checkpoint of its own",
                         hint="resume each table that did not finish with its backup's URL from the summary: "
                              "ddbvault restore BACKUP_URL --table NAME --resume")
    entries = list_backups(dest, vault_principal=options.vault_principal,  # only the matched tables' manifests
                           tables=lambda name: any(s.matches_name(name) for s in selectors))
    tables = sorted({e.table for e in entries})
    if not tables:
        raise no_match(selectors, f"backed up under {dest}")
    targets = renamed(tables, renames)
    newest = {}
    for entry in entries:  # newest first: the first complete one of each table
        # an incremental export holds changes, not a table: it is no table's newest backup here
        if entry.status == COMPLETE and entry.window is None:
            newest.setdefault(entry.table, entry)

    def restore_one(table: str, table_cancelled: threading.Event):
        if table not in newest:
            raise NotFoundError(f"table {table} has no complete backup under {dest}",
                                hint=f"ddbvault list {dest} --table {table}")
        return restore_backup(newest[table].url, targets[table], options,
                              progress=progress(table) if progress else None, cancelled=table_cancelled)

    return run_each(tables, restore_one, targets=targets, cancelled=cancelled)
