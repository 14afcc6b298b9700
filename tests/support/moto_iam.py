"""moto_server with IAM enforcement, for tests that prove a generated policy: roles holding given
policies, an operator user that may assume them, then enforcement switched on.

- `for_moto(policy)`: moto authorizes DynamoDB calls (Streams too) against Resource "*" only
  (its DynamoDB responses name no resource), so a statement of DynamoDB actions only gets "*";
  S3 statements keep their exact resources and conditions.
- `enforce_with_roles(url, roles)`: creates each role (trusting the operator user: moto checks
  trust by exact principal ARN), the operator and its access key, turns enforcement on, and
  returns the key ({"AccessKeyId", "SecretAccessKey"}).
- `assumed(url, key, role)`: a boto3 session with the role's credentials.
"""

from __future__ import annotations

import copy
import json

import boto3

from ddbvault.devtools import local_servers

ACCOUNT = "123456789012"  # moto's default account


def for_moto(policy: dict) -> dict:
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if all(a.startswith("dynamodb:") for a in actions):
            statement["Resource"] = "*"
    return policy


def enforce_with_roles(url: str, roles: dict[str, dict]) -> dict:
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="a",
                       aws_secret_access_key="a")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/operator"}}]})
    for name, policy in roles.items():
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName="generated", PolicyDocument=json.dumps(policy))
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Resource": "*"}]}))  # moto matches STS on "*" only
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    local_servers.set_moto_auth(url, 0)
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def assumed(url: str, key: dict, role: str) -> boto3.Session:
    creds = boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                          region_name="us-east-1").client("sts", endpoint_url=url).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="tester")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="us-east-1")
