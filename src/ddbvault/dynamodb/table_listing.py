"""Resolving table selectors (dynamodb/selectors.py) against DynamoDB, at run time.

`resolve_tables()` lists the tables of the principal's account and region (ListTables, paginated,
at most MAX_LIST_PAGES pages), keeps those a name glob matches, and asks ListTagsOfResource
(paginated, at most MAX_TAG_PAGES pages a table) for every other table only when a tag selector
is given. Each call is retried and translated like every table call (an AccessDenied names
dynamodb:ListTables or dynamodb:ListTagsOfResource). The result is the union, each table once,
sorted by name; no match is a NotFoundError naming the selectors. A table deleted between the
listing and its tags is skipped (it no longer exists to back up).
"""

from __future__ import annotations

import logging

from ..aws.error_translation import malformed_response, translated
from ..aws.retry import RetryPolicy, call_with_retries
from ..aws.session import Principal, client, make_session
from ..errors import AwsNotFoundError
from .selectors import Selector, no_match
from .table_client import table_arn

log = logging.getLogger(__name__)
MAX_LIST_PAGES = 200  # ListTables answers at most 100 names a page: 20,000 tables
MAX_TAG_PAGES = 10  # a table holds at most 50 tags; more pages than this is a broken endpoint


def resolve_tables(selectors: tuple[Selector, ...], principal: Principal) -> list[str]:
    """The names of the tables any of `selectors` matches, sorted. Raises NotFoundError when none
    does, AwsError (AccessDeniedError...) when a call fails."""
    session = make_session(principal)
    dynamodb = client(session, "dynamodb")
    region = dynamodb.meta.region_name
    names = list_table_names(dynamodb, region)
    matched = {name for name in names if any(s.matches_name(name) for s in selectors)}
    tag_selectors = [s for s in selectors if s.is_tag]
    if tag_selectors:
        arn_of = _arns(session, dynamodb, region)
        for name in names:
            if name not in matched:
                tags = _tags_or_none(dynamodb, arn_of, name)
                if tags is not None and any(s.matches_tags(tags) for s in tag_selectors):
                    matched.add(name)
    if not matched:
        raise no_match(selectors, f"in {region}")
    return sorted(matched)


def list_table_names(dynamodb, region: str) -> list[str]:
    """Every table name of the client's account and region (ListTables, paginated)."""
    names, start = [], None
    for _ in range(MAX_LIST_PAGES):
        args = {"ExclusiveStartTableName": start} if start else {}
        page = _call(dynamodb, "ListTables", f"tables in {region}", lambda: dynamodb.list_tables(**args))
        names.extend(page.get("TableNames", []))
        following = page.get("LastEvaluatedTableName")
        if not following:
            return names
        if following == start:
            raise malformed_response(action="ListTables", resource=f"tables in {region}",
                                     reason="the listing did not advance")
        start = following
    raise malformed_response(action="ListTables", resource=f"tables in {region}",
                             reason=f"more than {MAX_LIST_PAGES} pages of tables")


def _arns(session, dynamodb, region: str):
    """name -> the table's ARN: built from the account STS reports (asked once), or, when STS
    cannot say, from DescribeTable (the ARN ListTagsOfResource needs)."""
    prefix = table_arn(session, region, "")
    if prefix.startswith("arn:"):
        return lambda name: prefix + name
    return lambda name: _call(dynamodb, "DescribeTable", f"table/{name}",
                              lambda: dynamodb.describe_table(TableName=name))["Table"]["TableArn"]


def _tags_or_none(dynamodb, arn_of, name: str) -> dict[str, str] | None:
    """The table's tags, or None if the table was deleted since it was listed."""
    tags, token, arn = {}, None, f"table/{name}"
    try:
        arn = arn_of(name)
        for _ in range(MAX_TAG_PAGES):
            args = {"ResourceArn": arn, **({"NextToken": token} if token else {})}
            page = _call(dynamodb, "ListTagsOfResource", arn, lambda: dynamodb.list_tags_of_resource(**args))
            tags.update({t["Key"]: t.get("Value", "") for t in page.get("Tags", [])})
            token = page.get("NextToken")
            if not token:
                return tags
    except AwsNotFoundError:
        log.info("%s was deleted while its tags were read; skipped", arn)
        return None
    raise malformed_response(action="ListTagsOfResource", resource=arn,
                             reason=f"more than {MAX_TAG_PAGES} pages of tags")


def _call(dynamodb, action: str, resource: str, fn):
    with translated(service="dynamodb", action=action, resource=resource):
        return call_with_retries(fn, policy=RetryPolicy(), what=f"{action} {resource}")
