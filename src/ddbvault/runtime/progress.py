"""What a run reports as it goes: the Progress protocol that backup, restore and the CLI share.

The default does nothing. The CLI's bar is runtime/progress_bar.py (rich, imported only there).
Called from worker threads: an implementation must be thread-safe.
"""

from __future__ import annotations


class Progress:
    """Receives a run's progress. The capacity unit is the run's: RCU for a backup's Scan pages,
    WCU for a restore's BatchWriteItem requests (the CLI's bar is told which, and says so)."""

    def start(self, table: str, estimated_items: int) -> None:
        """The run begins: `estimated_items` is DescribeTable's ItemCount for a backup (an
        estimate, refreshed about every six hours) or the manifest's total for a restore."""

    def advance(self, items: int, size_bytes: int, capacity_units: float) -> None:
        """`items` more were read or written: `size_bytes` of data lines, `capacity_units` the
        consumed capacity DynamoDB reported for them (RCU or WCU)."""
