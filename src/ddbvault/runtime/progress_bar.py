"""A progress bar on a terminal (stderr): items against a total, MB, capacity units/s (RCU/s for a
backup, WCU/s for a restore: the CLI passes the unit), ETA.

For a backup the total is DescribeTable's ItemCount; for a restore, the manifest's item count.

ItemCount is DynamoDB's estimate (refreshed about every six hours), so the bar can end a little
short of or past 100%; the final counts come from the scan itself.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import (BarColumn, Progress as RichBar, TaskProgressColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

from .progress import Progress


class TerminalProgress(Progress):
    def __init__(self, console: Console | None = None, unit: str = "RCU"):
        self.console = console or Console(stderr=True)
        self._bar = RichBar(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                            TextColumn("{task.completed:,.0f} items"), TextColumn("{task.fields[mb]:.1f} MB"),
                            TextColumn("{task.fields[units_s]:.0f} " + unit + "/s"), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=self.console, transient=False)
        self._task = None
        self._lock = threading.Lock()
        self._bytes = 0
        self._units = 0.0
        self._t0 = time.monotonic()

    def start(self, table: str, estimated_items: int) -> None:
        self._bar.start()
        self._t0 = time.monotonic()
        self._task = self._bar.add_task(table, total=estimated_items or None, mb=0.0, units_s=0.0)

    def advance(self, items: int, size_bytes: int, capacity_units: float) -> None:
        with self._lock:
            self._bytes += size_bytes
            self._units += capacity_units
            elapsed = max(time.monotonic() - self._t0, 1e-3)
            self._bar.update(self._task, advance=items, mb=self._bytes / 1e6, units_s=self._units / elapsed)

    def stop(self) -> None:
        self._bar.stop()
