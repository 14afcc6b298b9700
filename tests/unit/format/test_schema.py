"""DescribeTable output -> the manifest's schema, in CreateTable's vocabulary."""

from __future__ import annotations

from ddbvault.format.schema import table_schema

KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}]
ATTRS = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "N"}]


def describe(**extra) -> dict:
    return {"TableName": "t", "KeySchema": KEYS, "AttributeDefinitions": ATTRS,
            "TableArn": "arn:aws:dynamodb:eu-west-1:111122223333:table/t", **extra}


def test_full_provisioned_schema():
    table = describe(
        BillingModeSummary={"BillingMode": "PROVISIONED"},
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5, "NumberOfDecreasesToday": 0},
        GlobalSecondaryIndexes=[{"IndexName": "g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]},
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 2},
                                 "IndexStatus": "ACTIVE", "ItemCount": 9}],
        LocalSecondaryIndexes=[{"IndexName": "l", "KeySchema": KEYS, "Projection": {"ProjectionType": "KEYS_ONLY"},
                                "IndexSizeBytes": 1}],
        SSEDescription={"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": "arn:aws:kms:k"},
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        TableClassSummary={"TableClass": "STANDARD_INFREQUENT_ACCESS"},
        DeletionProtectionEnabled=True,
    )
    schema = table_schema(table, {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"},
                          [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    assert schema == {
        "TableName": "t", "KeySchema": KEYS, "AttributeDefinitions": ATTRS, "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
        "GlobalSecondaryIndexes": [{"IndexName": "g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]},
                                    "ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 2}}],
        "LocalSecondaryIndexes": [{"IndexName": "l", "KeySchema": KEYS, "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        "SSESpecification": {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "arn:aws:kms:k"},
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        "TableClass": "STANDARD_INFREQUENT_ACCESS", "DeletionProtectionEnabled": True,
        "TimeToLive": {"Enabled": True, "AttributeName": "exp", "Status": "ENABLED"},
        "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    }


def test_on_demand_defaults_and_unknowns():
    table = describe(BillingModeSummary={"BillingMode": "PAY_PER_REQUEST"},
                     ProvisionedThroughput={"ReadCapacityUnits": 0, "WriteCapacityUnits": 0},
                     GlobalSecondaryIndexes=[], OnDemandThroughput={"MaxReadRequestUnits": -1})
    schema = table_schema(table, None, None)
    assert schema["BillingMode"] == "PAY_PER_REQUEST" and "ProvisionedThroughput" not in schema
    assert "OnDemandThroughput" not in schema
    assert schema["GlobalSecondaryIndexes"] == [] and schema["LocalSecondaryIndexes"] == []
    assert schema["SSESpecification"] == {"Enabled": False}
    assert schema["StreamSpecification"] == {"StreamEnabled": False}
    assert schema["TimeToLive"] is None and schema["Tags"] is None
    assert schema["TableClass"] == "STANDARD" and schema["DeletionProtectionEnabled"] is False
