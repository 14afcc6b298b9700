"""Log output: one handler, redacted records, AWS wire loggers kept above DEBUG (invariant 7)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from ddbvault.logs import WIRE_LOGGERS, configure


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in WIRE_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, value in levels.items():
        logging.getLogger(name).setLevel(value)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_debug_level_never_lets_wire_logs_or_secrets_through(restore_logging, log_format):
    out = io.StringIO()
    configure(out, logging.DEBUG, log_format)
    logging.getLogger("botocore.endpoint").debug("Sending http request: X-Amz-Security-Token: tok123")
    logging.getLogger("urllib3.connectionpool").debug("body b'{\"Item\": {\"v\": {\"S\": \"secret\"}}}'")
    logging.getLogger("ddbvault.x").debug("retry after %s", "aws_session_token=tok456 key AKIAABCDEFGHIJKLMNOP")
    try:
        raise ValueError('botocore said {"S": "itemvalue9"}')
    except ValueError:
        logging.getLogger("ddbvault.y").exception("failed")
    text = out.getvalue()
    for secret in ("tok123", "secret", "tok456", "AKIAABCDEFGHIJKLMNOP", "itemvalue9"):
        assert secret not in text
    assert "retry after" in text and "failed" in text  # ddbvault's own records still pass
    if log_format == "json":
        assert all(json.loads(line)["logger"].startswith("ddbvault") for line in text.splitlines())


def test_wire_loggers_stay_at_warning_unless_debugging(restore_logging):
    configure(io.StringIO(), logging.INFO)
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.WARNING for name in WIRE_LOGGERS)
    configure(io.StringIO(), logging.DEBUG)
    assert all(logging.getLogger(name).getEffectiveLevel() == logging.INFO for name in WIRE_LOGGERS)
