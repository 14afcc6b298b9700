"""The exit codes ddbvault's CLI returns. Scripts may rely on them; they never change meaning.

Each exception class in `ddbvault.errors` carries one of these; only the CLI entry point exits.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1            # unexpected error (a bug, or an error we do not classify); also
                           # `run` when a job failed and `status` when a job is out of its RPO
    USAGE = 2              # bad options or arguments (also click's own usage errors)
    NOT_FOUND = 3          # the table, bucket or backup does not exist
    ACCESS_DENIED = 4      # AWS refused a call: a permission is missing
    AWS_ERROR = 5          # another AWS error, or retries ran out (throttling, 5xx, resets)
    INTEGRITY = 6          # incomplete or corrupted backup, or a write that would overwrite
    INTERRUPTED = 130      # SIGINT / SIGTERM: the run was stopped, nothing marked complete
