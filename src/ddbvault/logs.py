"""Where log records leave the process: one stream handler, text or JSON lines, redacted.

The library adds no handlers; only the CLI calls `configure()`, for every command and for the
service alike. Invariant 7, at any verbosity, is kept here in one place:
- the loggers of the AWS SDK and its HTTP stack (WIRE_LOGGERS) never go below INFO (WARNING
  unless ddbvault itself logs at DEBUG): at DEBUG they dump request headers (the session
  token, the access key id in Authorization) and request and response bodies (item values);
- every record passes `Redacting`, which runs notify/redact.py's redact() over the message and
  any traceback text, as a safety net for what a library puts in an exception message.
ddbvault's own records name tables, object keys, counts and errors, never item contents.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TextIO

import orjson

from .notify.redact import redact

WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redacting(logging.Filter):
    """Rewrites each record's message (and traceback text) through redact(). Never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure(stream: TextIO, level: int, log_format: str = "text") -> None:
    """Route every record at `level` or above to `stream`, formatted as `log_format` ("text" or
    "json"), through the redaction filter; replaces any handler configured before."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(Redacting())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("apscheduler.executors.default").setLevel(max(level, logging.WARNING))
