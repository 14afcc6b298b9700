"""boto3 sessions for the two principals: the table reader and the bucket writer.

Credentials come only from the standard AWS chain (environment, profiles, SSO, instance and
container roles). A role given with --source-role / --dest-role is assumed from those base
credentials, separately for each side, with refreshable credentials so a long backup outlives
the one-hour session. Endpoints follow boto3's own rules, AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE> included: nothing here overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

from .. import __version__
from .error_translation import translated
from .retry import RetryStats, count_botocore_retries

# botocore's own retries absorb brief transport faults; aws/retry.py handles the rest.
# total_max_attempts counts the first attempt too (botocore's max_attempts counts retries only).
BOTOCORE_RETRIES = {"mode": "standard", "total_max_attempts": 3}


@dataclass(frozen=True)
class Principal:
    """Who makes the calls on one side: base credentials, optionally an assumed role."""

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "ddbvault"


def make_session(principal: Principal) -> boto3.Session:
    base = boto3.Session(profile_name=principal.profile, region_name=principal.region)
    if not principal.role_arn:
        return base
    with translated(service="sts", action="AssumeRole", resource=principal.role_arn):
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=base._session.create_client,
            source_credentials=base.get_credentials(),
            role_arn=principal.role_arn,
            extra_args={"RoleSessionName": principal.session_name,
                        **({"ExternalId": principal.external_id} if principal.external_id else {})},
        )
        # Fetch now, so a role that cannot be assumed fails before any work starts.
        fetcher.fetch_credentials()
    credentials = DeferredRefreshableCredentials(refresh_using=fetcher.fetch_credentials,
                                                 method="assume-role")
    core = botocore.session.Session(profile=principal.profile)
    core._credentials = credentials  # botocore has no public setter for refreshable credentials
    return boto3.Session(botocore_session=core, region_name=principal.region or base.region_name)


def client(session: boto3.Session, service: str, *, pool: int = 10, stats: RetryStats | None = None):
    """A client with standard retries, a connection pool sized for our threads, our user agent.
    With `stats`, the retries botocore makes inside each call are counted there."""
    config = Config(retries=BOTOCORE_RETRIES, max_pool_connections=max(pool, 10),
                    user_agent_extra=f"ddbvault/{__version__}", connect_timeout=10, read_timeout=60)
    made = session.client(service, config=config)
    if stats is not None:
        count_botocore_retries(made, stats)
    return made


def account_of(session: boto3.Session) -> str | None:
    """The account id of the session's principal, or None if STS cannot tell (never fatal)."""
    try:
        return client(session, "sts").get_caller_identity()["Account"]
    except Exception:  # informational only: recorded in the manifest when known
        return None
