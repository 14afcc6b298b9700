"""Capacity: the limiter every worker of a run shares (limiter), and the planning of read and
write rates, segment counts and Scan page sizes from DescribeTable (read_plan, write_plan).

Units are DynamoDB's capacity units: RCU for reads, WCU for writes, per second for rates.
Pure: no I/O, no boto3; time is injected so tests run on a fake clock.
"""
