"""storage.session_for: a local directory needs no session, and a role given for one is refused
rather than silently ignored (backup, list, verify and restore all reach a vault through it)."""

from __future__ import annotations

import pytest

from ddbvault.aws.session import Principal
from ddbvault.errors import UsageError
from ddbvault.storage import session_for
from ddbvault.storage.destination import parse_destination

ROLE = "arn:aws:iam::210987654321:role/writer"


def test_a_local_directory_takes_no_session_and_no_role(tmp_path):
    assert session_for(parse_destination(str(tmp_path)), None) is None
    assert session_for(parse_destination(str(tmp_path)), Principal()) is None
    with pytest.raises(UsageError, match="is a local directory"):
        session_for(parse_destination(str(tmp_path)), Principal(role_arn=ROLE))


def test_an_s3_destination_gets_a_session(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert session_for(parse_destination("s3://bucket/prefix"), None) is not None
