"""What reading and writing a DynamoDB table share: one client, calls retried and translated.

TableSource (reads, for backup and verify) and TableSink (writes, for restore) build on this.
Every call goes through `call()`: the retry policy of aws/retry.py, then the error boundary of
aws/error_translation.py, naming the table's ARN. The ARN is known before DescribeTable answers
(it may be denied), from the region and the account STS reports.
"""

from __future__ import annotations

import threading

from ..aws.error_translation import translated
from ..aws.retry import RetryPolicy, RetryStats, call_with_retries
from ..aws.session import account_of, client


def table_arn(session, region: str, table: str) -> str:
    """arn:aws:dynamodb:REGION:ACCOUNT:table/NAME, or `table/NAME` if STS cannot say who we are.
    GetCallerIdentity needs no permission, so this works for any valid credentials."""
    account = account_of(session)
    if not account:
        return f"table/{table}"
    try:
        partition = session.get_partition_for_region(region)
    except Exception:  # an unknown (e.g. local) region: the commercial partition
        partition = "aws"
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"


class TableClient:
    def __init__(self, session, table: str, *, pool: int = 10, retry: RetryPolicy | None = None,
                 stats: RetryStats | None = None, cancelled: threading.Event | None = None):
        self.table = table
        self.stats = stats or RetryStats()
        self.client = client(session, "dynamodb", pool=pool, stats=self.stats)
        # `table` may be a table ARN (format.layout.parse_table_ref checked it): it names itself.
        self.arn = table if table.startswith("arn:") else table_arn(session, self.client.meta.region_name, table)
        self.retry = retry or RetryPolicy()
        self.cancelled = cancelled or threading.Event()

    def call(self, action: str, fn, *, service: str = "dynamodb", resource: str | None = None):
        """fn(), retried and translated; errors name `resource` (default: the table's ARN)."""
        with translated(service=service, action=action, resource=resource or self.arn):
            return call_with_retries(fn, policy=self.retry, what=f"{action} {self.table}",
                                     stats=self.stats, cancelled=self.cancelled)
