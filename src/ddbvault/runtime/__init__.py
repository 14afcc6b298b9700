"""How a run executes: the coordinator that backup segments, restore objects and verify share
(coordinator), the worker threads under it (workers), what a run reports as it goes (progress,
and the terminal bar in progress_bar), and the on-disk set of distinct keys (keyset).
"""
