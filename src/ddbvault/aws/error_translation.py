"""The one boundary where AWS and botocore errors become ddbvault errors.

Every message names the API action, the resource (table ARN or s3://bucket/key), the AWS error
code, and for AccessDenied the IAM permission most likely missing. AWS's own message is kept,
shortened; it names principals and resources, never item contents or credentials.

Errors botocore raises on the client side, before or instead of a request, are mapped here too
(`configuration_error`): an unknown profile, no or an invalid region, an invalid endpoint URL,
parameters botocore refuses (ParamValidationError) -> UsageError (exit 2); missing, partial or
unobtainable credentials (SSO, credential_process) -> AccessDeniedError (exit 4); anything else
from botocore -> AwsError (exit 5). `configuration_errors()` wraps session and client creation.
"""

from __future__ import annotations

import contextlib
import re
from typing import Iterator

from botocore.exceptions import (BotoCoreError, ClientError, ConfigNotFound, ConfigParseError,
                                 ConnectionError, CredentialRetrievalError, HTTPClientError,
                                 InvalidConfigError, InvalidRegionError, NoCredentialsError,
                                 NoRegionError, ParamValidationError, PartialCredentialsError,
                                 ProfileNotFound, SSOError, TokenRetrievalError, UnknownCredentialError)

from ..errors import (AccessDeniedError, AwsError, AwsNotFoundError, DdbvaultError,
                      RetriesExhaustedError, UsageError)
from .retry import is_retryable

ACCESS_DENIED_CODES = frozenset({
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden",
    "AllAccessDisabled", "InvalidClientTokenId", "UnrecognizedClientException",
    "ExpiredToken", "ExpiredTokenException", "SignatureDoesNotMatch", "InvalidAccessKeyId",
    "KMS.AccessDeniedException", "KMSAccessDeniedException",
})
CREDENTIAL_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
                              "ExpiredTokenException", "InvalidAccessKeyId", "SignatureDoesNotMatch"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "404",
                             "ObjectLockConfigurationNotFoundError",
                             "NotFound", "TableNotFoundException", "NoSuchUpload"})

# The IAM action an API call needs, where it is not simply "<service>:<Action>".
_PERMISSION_OF = {
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListParts": "s3:ListMultipartUploadParts",
}
_SERVICE_PREFIX = {"dynamodb": "dynamodb", "dynamodbstreams": "dynamodb", "s3": "s3", "sts": "sts", "kms": "kms", "sns": "sns"}


def permission_for(service: str, action: str, message: str = "", acl: str | None = None) -> str:
    """The IAM permission an AccessDenied on `service`'s `action` most likely lacks."""
    lowered = message.lower()
    if "kms" in lowered and service == "s3":
        return "kms:GenerateDataKey"
    if service == "s3" and acl and "acl" in lowered:
        return "s3:PutObjectAcl"
    name = f"{_SERVICE_PREFIX.get(service, service)}:{action}"
    return _PERMISSION_OF.get(name, name)


_XML_FIELD = re.compile(r"<(Code|Message)>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</\1>", re.DOTALL)


def _code_and_message(exc: ClientError) -> tuple[str, str]:
    """The AWS error code and message. Some endpoints (moto's IAM checks on DynamoDB) answer a
    JSON API with an XML error body, which botocore leaves as the message: read it here."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "Unknown")
    message = str(error.get("Message") or "")
    if message.lstrip().startswith("<"):
        fields = dict(_XML_FIELD.findall(message))
        code = fields.get("Code", code)
        message = fields.get("Message", message)
    return code, message


def _short(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


_CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError,
                      UnknownCredentialError, TokenRetrievalError, SSOError)
CREDENTIALS_HINT = ("configure the standard AWS credential chain (AWS_PROFILE, environment variables, "
                    "SSO login, instance role)")


def configuration_error(exc: BaseException, where: str = "") -> DdbvaultError | None:
    """The ddbvault error for a client-side botocore error (see the module docstring), or None
    if `exc` is not one. `where` ("Scan on arn:...") prefixes the message when known."""
    at = f"{where}: " if where else ""
    if isinstance(exc, ProfileNotFound):
        return UsageError(f"AWS profile {exc.kwargs.get('profile')!r} not found",
                          "check --profile and AWS_PROFILE against `aws configure list-profiles`")
    if isinstance(exc, (ConfigNotFound, ConfigParseError, InvalidConfigError)):
        return UsageError(f"the AWS config cannot be used: {_short(exc)}", "check AWS_CONFIG_FILE and ~/.aws/config")
    if isinstance(exc, NoRegionError):
        return UsageError(f"{at}no AWS region configured", "pass --region or set AWS_REGION")
    if isinstance(exc, InvalidRegionError):
        return UsageError(f"{exc.kwargs.get('region_name', '')!r} is not an AWS region name",
                          "pass --region (or set AWS_REGION) to a region such as us-east-1")
    if isinstance(exc, ParamValidationError):
        return UsageError(f"{at}a parameter is not valid: {_short(exc.kwargs.get('report', exc))}",
                          "check the role ARNs, external ids, key ids and names given")
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid endpoint"):
        return UsageError(f"{at}{_short(exc)}", "check AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>")
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return AccessDeniedError(f"{at or 'AWS: '}no usable AWS credentials ({type(exc).__name__})",
                                 CREDENTIALS_HINT, code=type(exc).__name__)
    return None


@contextlib.contextmanager
def configuration_errors() -> Iterator[None]:
    """Run the block (creating a session or a client); re-raise botocore's client-side errors as
    DdbvaultError, and any other botocore error as AwsError."""
    try:
        yield
    except (BotoCoreError, ValueError) as exc:
        error = configuration_error(exc)
        if error is None and isinstance(exc, ValueError):
            raise
        raise error or AwsError(f"cannot set up the AWS client: {type(exc).__name__}: {_short(exc)}",
                                None, code=type(exc).__name__) from exc


def translate(exc: BaseException, *, service: str, action: str, resource: str,
              acl: str | None = None) -> DdbvaultError:
    """A DdbvaultError for `exc`, raised while calling `action` on `resource`."""
    if isinstance(exc, DdbvaultError):
        return exc
    where = f"{action} on {resource}"
    configured = configuration_error(exc, where)
    if configured is not None:
        if isinstance(configured, AwsError):
            configured.action, configured.resource = action, resource
        return configured
    if isinstance(exc, ClientError):
        code, aws_message = _code_and_message(exc)
        aws_message = _short(aws_message)
        detail = f"{where} failed: {code}" + (f" ({aws_message})" if aws_message else "")
        fields = dict(action=action, resource=resource, code=code)
        if code in ACCESS_DENIED_CODES:
            if code in CREDENTIAL_CODES:
                return AccessDeniedError(detail, "check the AWS credentials (profile, environment, role) "
                                         "and that they have not expired", permission=None, **fields)
            perm = permission_for(service, action, aws_message, acl)
            return AccessDeniedError(f"{detail}; missing permission: {perm}",
                                     f"grant {perm} on {resource} to the principal making the call",
                                     permission=perm, **fields)
        if code in NOT_FOUND_CODES:
            return AwsNotFoundError(detail, "check the name, the account and the region", **fields)
        if is_retryable(exc):
            return RetriesExhaustedError(f"{detail}; retries exhausted",
                                         "the service kept throttling or failing; retry later or "
                                         "lower --read-share/--read-rcu", **fields)
        return AwsError(detail, None, **fields)
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return RetriesExhaustedError(f"{where} failed: cannot reach the endpoint ({_short(exc)})",
                                     "check the network, the region and AWS_ENDPOINT_URL*",
                                     action=action, resource=resource, code=type(exc).__name__)
    return AwsError(f"{where} failed: {type(exc).__name__}: {_short(exc)}", None, action=action,
                    resource=resource, code=type(exc).__name__)


def malformed_response(*, action: str, resource: str, reason: str) -> AwsError:
    """A response that arrived but cannot be used (a body that is not JSON, a paginator that does
    not advance). Not retried: the same request would get the same answer."""
    return AwsError(f"{action} on {resource} returned an unusable response: {reason}",
                    "the endpoint is not behaving like AWS; check AWS_ENDPOINT_URL*, or retry later",
                    action=action, resource=resource, code="MalformedResponse")


@contextlib.contextmanager
def translated(*, service: str, action: str, resource: str, acl: str | None = None) -> Iterator[None]:
    """Run the block; re-raise AWS/botocore errors as DdbvaultError (`raise ... from exc`)."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate(exc, service=service, action=action, resource=resource, acl=acl) from exc
    except ValueError as exc:  # botocore's "Invalid endpoint" when a client is created lazily
        error = configuration_error(exc, f"{action} on {resource}")
        if error is None:
            raise
        raise error from exc
