"""ddbvault's exceptions. Every error the library raises on purpose derives from DdbvaultError.

    DdbvaultError                 exit 1   base; .hint says what to do (the CLI prints "Try: …")
    ├── UsageError                exit 2   a bad option, URL or config value
    ├── NotFoundError             exit 3   the table, bucket or backup does not exist
    ├── AwsError                  exit 5   an AWS call failed (translated at aws/error_translation.py)
    │   ├── AccessDeniedError     exit 4   ... because a permission is missing
    │   ├── AwsNotFoundError      exit 3   ... because the table/bucket/key is missing (also a NotFoundError)
    │   └── RetriesExhaustedError exit 5   ... throttled / 5xx / reset until retries ran out
    ├── IntegrityError            exit 6   incomplete or corrupted backup; refusing to overwrite
    └── InterruptedRun            exit 130 SIGINT/SIGTERM; the run was stopped before its manifest

Messages never contain item contents or credentials (invariant 7).
"""

from __future__ import annotations

from .exit_codes import ExitCode


class DdbvaultError(Exception):
    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint,
                "exit_code": int(self.exit_code)}


class UsageError(DdbvaultError):
    exit_code = ExitCode.USAGE


class NotFoundError(DdbvaultError):
    exit_code = ExitCode.NOT_FOUND


class AwsError(DdbvaultError):
    """An AWS call failed. Carries what the message names, for machines too."""

    exit_code = ExitCode.AWS_ERROR

    def __init__(self, message: str, hint: str | None = None, *, action: str = "",
                 resource: str = "", code: str = "", permission: str | None = None):
        super().__init__(message, hint)
        self.action = action
        self.resource = resource
        self.code = code
        self.permission = permission

    def to_dict(self) -> dict:
        return {**super().to_dict(), "action": self.action, "resource": self.resource,
                "aws_error_code": self.code, "permission": self.permission}


class AccessDeniedError(AwsError):
    exit_code = ExitCode.ACCESS_DENIED


class AwsNotFoundError(AwsError, NotFoundError):
    exit_code = ExitCode.NOT_FOUND


class RetriesExhaustedError(AwsError):
    exit_code = ExitCode.AWS_ERROR


class IntegrityError(DdbvaultError):
    exit_code = ExitCode.INTEGRITY


class InterruptedRun(DdbvaultError):
    exit_code = ExitCode.INTERRUPTED
