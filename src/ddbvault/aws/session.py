"""boto3 sessions for the two principals: the table reader and the bucket writer.

Credentials come only from the standard AWS chain (environment, profiles, SSO, instance and
container roles). A role given with --table-role / --vault-role is assumed from those base
credentials, separately for each side, with refreshable credentials so a long backup outlives
the one-hour session. Endpoints follow boto3's own rules, AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE> included: nothing here overrides them.

Inputs are checked before any AWS call (`Principal.__post_init__`): a role must be an IAM role
ARN, an external id must be what STS accepts and needs a role, a region must be a region name.
Errors botocore raises on the client side (a profile that does not exist, no region, an invalid
endpoint) become ddbvault errors here, through aws/error_translation.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import NoCredentialsError

from .._version import __version__
from ..errors import UsageError
from .error_translation import configuration_errors, translated
from .retry import RetryStats, count_botocore_retries

# botocore's own retries absorb brief transport faults; aws/retry.py handles the rest.
# total_max_attempts counts the first attempt too (botocore's max_attempts counts retries only).
BOTOCORE_RETRIES = {"mode": "standard", "total_max_attempts": 3}
# S3 reads: each data object's sha256 is checked against the manifest, end to end. botocore's own
# check of GetObject checksums covers single-part objects only (it skips AWS's composite `-N`
# multipart checksums) and fails on moto, whose composite checksums lack the `-N` suffix; uploads
# still send our SHA-256 (storage/s3.py).
S3_CHECKSUMS = {"response_checksum_validation": "when_required"}

# What STS AssumeRole accepts (RoleArn 20-2048 characters; ExternalId 2-1224 of [\w+=,.@:/-]),
# narrowed to roles: a user or bucket ARN can never be assumed.
ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,2000}", re.ASCII)
EXTERNAL_ID = re.compile(r"[\w+=,.@:/-]{2,1224}", re.ASCII)
# botocore's own rule for region names (InvalidRegionError otherwise).
REGION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


def check_role_arn(value: str) -> str:
    """`value` if it is an IAM role ARN; raises UsageError otherwise."""
    if not ROLE_ARN.fullmatch(value):
        raise UsageError(f"{value[:80]!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)",
                         hint="pass the ARN of the role to assume, e.g. arn:aws:iam::123456789012:role/ddbvault-writer")
    return value


def check_external_id(value: str) -> str:
    """`value` if STS accepts it as an external id (2-1224 of letters, digits, _+=,.@:/-)."""
    if not EXTERNAL_ID.fullmatch(value):
        raise UsageError("the external id is not one STS accepts: 2 to 1224 letters, digits or _+=,.@:/-",
                         hint="pass the external id the role's trust policy requires (sts:ExternalId)")
    return value


def check_region(value: str) -> str:
    if not REGION.fullmatch(value):
        raise UsageError(f"{value[:80]!r} is not an AWS region name", hint="use a region such as us-east-1")
    return value


@dataclass(frozen=True)
class Principal:
    """Who makes the calls on one side: base credentials, optionally an assumed role.

    Checked on construction (UsageError): role_arn is an IAM role ARN, external_id is valid and
    comes with a role (it is only ever sent with AssumeRole), region is a region name."""

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    session_name: str = "ddbvault"

    def __post_init__(self) -> None:
        if self.role_arn is not None:
            check_role_arn(self.role_arn)
        if self.external_id is not None:
            check_external_id(self.external_id)
            if not self.role_arn:
                raise UsageError(f"an external id was given without a role to assume ({self.session_name}); "
                                 "it would be ignored",
                                 hint="pass the matching --*-role ARN as well, or drop the external id")
        if self.region is not None:
            check_region(self.region)


def make_session(principal: Principal) -> boto3.Session:
    """A boto3 session for `principal`; assumes its role now, so a bad one fails before any work.
    Raises UsageError (unknown profile), AccessDeniedError or AwsError. AWS calls: sts:AssumeRole
    when a role is given."""
    with configuration_errors():
        base = boto3.Session(profile_name=principal.profile, region_name=principal.region)
    if not principal.role_arn:
        return base
    with translated(service="sts", action="AssumeRole", resource=principal.role_arn):
        source_credentials = base.get_credentials()
        if source_credentials is None:
            raise NoCredentialsError()
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=base._session.create_client,
            source_credentials=source_credentials,
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
                    user_agent_extra=f"ddbvault/{__version__}", connect_timeout=10, read_timeout=60,
                    **(S3_CHECKSUMS if service == "s3" else {}))
    with configuration_errors():
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
