"""One segment's task, as a child process or a Dask worker runs it: work_segments on one segment.

Module-level functions only: a task is pickled by reference, so the process that runs it must be
able to import ddbvault (a Dask worker needs ddbvault installed, in the same version).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ...runtime.progress import Progress
from ..work import WorkOptions, work_segments


@dataclass(frozen=True)
class SegmentDone:
    """What a task reports back: the segment, and what its attempt read (0s when a result
    already existed and nothing ran): items, and RCU as DynamoDB reported it."""

    segment: int
    items: int
    consumed_rcu: float


def run_segment(url: str, segment: int, options: WorkOptions, cancelled: threading.Event,
                progress: Progress | None = None) -> SegmentDone:
    """Run (or skip, when it has a result) one segment of the backup at `url`. Raises what
    work_segments raises; a failed attempt has aborted its own uploads."""
    report = work_segments(url, [segment], options=options, progress=progress, cancelled=cancelled)
    return SegmentDone(segment, int(report.items), float(report.consumed_rcu))
