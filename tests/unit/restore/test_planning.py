"""Restore's pure planning: the write cap from the slowest index, capacity and encryption of the
table it creates, the settings a table lacks, and the checkpoint's names, records and checks."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from ddbvault.restore.checkpoint import CheckpointState, bounded_file_name, check, read_state
from ddbvault.errors import IntegrityError, NotFoundError, UsageError
from ddbvault.dynamodb.table_create import AWS_MANAGED_KEY, Overrides, create_table_request, target_sse
from ddbvault.dynamodb.table_settings import missing_tags, missing_updates
from ddbvault.capacity.write_plan import ON_DEMAND_DEFAULT_WCU, plan_write_rate

KEYS = {"KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "g", "AttributeType": "S"}]}
GSI = {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
       "Projection": {"ProjectionType": "ALL"}}


def described(billing: str, table_wcu: int, gsis: dict[str, dict]) -> dict:
    """A DescribeTable Table with GSIs given as name -> ProvisionedThroughput/OnDemandThroughput."""
    return {"BillingModeSummary": {"BillingMode": billing},
            "ProvisionedThroughput": {"WriteCapacityUnits": table_wcu},
            "GlobalSecondaryIndexes": [{"IndexName": name, **extra} for name, extra in gsis.items()]}


# -- the write cap ---------------------------------------------------------------------------

def test_write_cap_comes_from_the_slowest_gsi():
    table = described("PROVISIONED", 1000, {"wide": {"ProvisionedThroughput": {"WriteCapacityUnits": 800}},
                                            "narrow": {"ProvisionedThroughput": {"WriteCapacityUnits": 5}}})
    rate = plan_write_rate(table, None, None)
    assert rate.units_per_s == 2.5 and "GSI narrow" in rate.reason
    assert plan_write_rate(table, 0.2, None).units_per_s == 1.0


def test_write_cap_is_the_table_when_it_is_the_slowest():
    table = described("PROVISIONED", 10, {"g": {"ProvisionedThroughput": {"WriteCapacityUnits": 10}}})
    rate = plan_write_rate(table, None, None)
    assert rate.units_per_s == 5 and "GSI" not in rate.reason


def test_write_wcu_overrides_every_index():
    table = described("PROVISIONED", 1000, {"g": {"ProvisionedThroughput": {"WriteCapacityUnits": 5}}})
    assert plan_write_rate(table, None, 300).units_per_s == 300


def test_on_demand_gsi_with_max_write_units():
    table = described("PAY_PER_REQUEST", 0, {"g": {"OnDemandThroughput": {"MaxWriteRequestUnits": 100},
                                                    "ProvisionedThroughput": {"WriteCapacityUnits": 0}}})
    assert plan_write_rate(table, None, None).units_per_s == 50
    unbounded = described("PAY_PER_REQUEST", 0, {"g": {"ProvisionedThroughput": {"WriteCapacityUnits": 0}}})
    assert plan_write_rate(unbounded, None, None).units_per_s == ON_DEMAND_DEFAULT_WCU


# -- capacity of the table restore creates ---------------------------------------------------

def provisioned_schema(gsi_throughput: dict | None) -> dict:
    gsi = dict(GSI, **({"ProvisionedThroughput": gsi_throughput} if gsi_throughput else {}))
    return {**KEYS, "BillingMode": "PROVISIONED", "GlobalSecondaryIndexes": [gsi],
            "ProvisionedThroughput": {"ReadCapacityUnits": 4000, "WriteCapacityUnits": 1000}}


def gsi_throughput(request: dict) -> tuple[int, int]:
    t = request["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]
    return t["ReadCapacityUnits"], t["WriteCapacityUnits"]


def test_rcu_wcu_overrides_apply_to_gsis():
    schema = provisioned_schema({"ReadCapacityUnits": 3000, "WriteCapacityUnits": 900})
    cheap = create_table_request(schema, "t", Overrides(rcu=1, wcu=1))
    assert gsi_throughput(cheap) == (1, 1) and cheap["ProvisionedThroughput"]["WriteCapacityUnits"] == 1
    assert gsi_throughput(create_table_request(schema, "t", Overrides(wcu=2))) == (3000, 2)
    assert gsi_throughput(create_table_request(schema, "t")) == (3000, 900)
    assert gsi_throughput(create_table_request(provisioned_schema(None), "t")) == (4000, 1000)


def test_billing_mode_override_reaches_gsis():
    schema = provisioned_schema({"ReadCapacityUnits": 3000, "WriteCapacityUnits": 900})
    on_demand = create_table_request(schema, "t", Overrides(billing_mode="PAY_PER_REQUEST"))
    assert "ProvisionedThroughput" not in on_demand["GlobalSecondaryIndexes"][0]
    from_on_demand = {**KEYS, "BillingMode": "PAY_PER_REQUEST", "GlobalSecondaryIndexes": [GSI]}
    made = create_table_request(from_on_demand, "t", Overrides(billing_mode="PROVISIONED", rcu=3, wcu=2))
    assert gsi_throughput(made) == (3, 2)


# -- encryption of the table restore creates -------------------------------------------------

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SAVED = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY}
MANAGED = {"Enabled": True, "SSEType": "KMS"}


def test_saved_key_is_kept_in_its_own_account_and_region():
    assert target_sse(SAVED, Overrides(), "111122223333", "us-east-1") == (SAVED, None)


@pytest.mark.parametrize("account, region", [("444455556666", "us-east-1"), ("111122223333", "eu-west-1"),
                                             (None, "us-east-1")])
def test_key_of_another_account_or_region_falls_back_to_the_managed_key(account, region):
    sse, note = target_sse(SAVED, Overrides(), account, region)
    assert sse == MANAGED and KEY in note and AWS_MANAGED_KEY in note and "--kms-key-id" in note


def test_aws_managed_and_default_encryption_stay_portable():
    alias = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": f"arn:aws:kms:us-east-1:111122223333:{AWS_MANAGED_KEY}"}
    assert target_sse(alias, Overrides(), "444455556666", "us-east-1") == (MANAGED, None)
    assert target_sse({"Enabled": False}, Overrides(), "444455556666", "us-east-1") == (None, None)
    assert target_sse(None, Overrides(), None, None) == (None, None)


def test_sse_options_act_on_the_target():
    chosen = "arn:aws:kms:eu-west-1:444455556666:key/x"
    assert target_sse(SAVED, Overrides(kms_key_id=chosen), "1", "r")[0]["KMSMasterKeyId"] == chosen
    assert target_sse(SAVED, Overrides(sse="aws-owned"), "111122223333", "us-east-1") == (None, None)
    assert target_sse(None, Overrides(sse="aws:kms"), None, None) == (MANAGED, None)
    with pytest.raises(UsageError):
        target_sse(SAVED, Overrides(sse="aws-owned", kms_key_id=chosen), "1", "r")
    with pytest.raises(UsageError):
        Overrides(sse="AES256").check()
    sse = target_sse(SAVED, Overrides(), "111122223333", "us-east-1")[0]
    assert create_table_request({**KEYS, "BillingMode": "PAY_PER_REQUEST"}, "t", sse=sse)["SSESpecification"] == SAVED
    assert "SSESpecification" not in create_table_request({**KEYS, "BillingMode": "PAY_PER_REQUEST"}, "t")


def test_overrides_given_names_the_flags():
    assert Overrides().given() == []
    assert Overrides(rcu=1, sse="aws-owned").given() == ["--rcu", "--sse"]


# -- settings a table lacks ------------------------------------------------------------------

def test_missing_updates_only_add():
    schema = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
              "TableClass": "STANDARD_INFREQUENT_ACCESS", "DeletionProtectionEnabled": True}
    updates, notes = missing_updates(schema, {})
    assert updates == [{"StreamSpecification": schema["StreamSpecification"]},
                       {"TableClass": "STANDARD_INFREQUENT_ACCESS"}, {"DeletionProtectionEnabled": True}]
    done = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
            "TableClassSummary": {"TableClass": "STANDARD_INFREQUENT_ACCESS"}, "DeletionProtectionEnabled": True}
    assert missing_updates(schema, done) == ([], [])
    other_view = {**done, "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}}
    updates, notes = missing_updates(schema, other_view)
    assert updates == [] and "KEYS_ONLY" in notes[0]
    assert missing_updates({"TableClass": "STANDARD", "DeletionProtectionEnabled": False}, {}) == ([], [])


def test_missing_tags_keeps_the_tables_own_values():
    schema = {"Tags": [{"Key": "team", "Value": "core"}, {"Key": "env", "Value": "prod"}]}
    tags, notes = missing_tags(schema, [{"Key": "env", "Value": "test"}])
    assert tags == [{"Key": "team", "Value": "core"}] and "'env'" in notes[0]
    assert missing_tags(schema, schema["Tags"]) == ([], [])


# -- checkpoint names, records and checks ----------------------------------------------------

def test_bounded_file_name():
    assert bounded_file_name("orders--id", ".jsonl") == "orders--id.jsonl"
    long = "t" * 255 + "--20261130T100106Z-f88011"
    name = bounded_file_name(long, ".jsonl")
    assert len(name.encode()) == 255 and name.endswith(".jsonl") and name.startswith("ttt")
    assert bounded_file_name(long[:-1] + "2", ".jsonl") != name
    wide = "é" * 200
    assert len(bounded_file_name(wide, ".jsonl").encode()) <= 255


def write(path, records: list[dict], tail: bytes = b"") -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + tail)


HEADER = {"backup": "s3://b/p/t/id", "table": "t", "endpoint": "https://e", "region": "us-east-1",
          "account": "111122223333", "table_arn": "arn:aws:dynamodb:us-east-1:111122223333:table/t",
          "table_id": "id-1", "created": "2026-11-30T10:00:00+00:00"}
TARGET = {"endpoint": "https://e", "region": "us-east-1", "account": "111122223333"}
LIVE = {"TableArn": HEADER["table_arn"], "TableId": "id-1", "CreationDateTime": HEADER["created"]}


def test_read_state_ignores_a_torn_last_record(tmp_path):
    path = tmp_path / "ck.jsonl"
    write(path, [HEADER, {"object": "a", "lines": 25}, {"object": "a", "done": True}], b'{"object":"b","li')
    state = read_state(path)
    assert state.done == {"a"} and state.lines == {"a": 25} and not state.complete
    assert state.end == len(path.read_bytes()) - len(b'{"object":"b","li') and not state.needs_newline
    write(path, [HEADER, {"object": "a", "lines": 25}], b'{"object":"a","lines":50}')  # whole, no newline
    state = read_state(path)
    assert state.lines == {"a": 50} and state.needs_newline
    assert read_state(tmp_path / "absent.jsonl") is None


def test_read_state_refuses_a_corrupt_middle_record(tmp_path):
    path = tmp_path / "ck.jsonl"
    path.write_bytes(orjson.dumps(HEADER) + b"\nnot json\n" + orjson.dumps({"object": "a", "done": True}) + b"\n")
    with pytest.raises(IntegrityError, match="record 2"):
        read_state(path)


def decide(state, live, resume, target=TARGET):
    return check(Path("ck.jsonl"), state, resume=resume, backup_url=HEADER["backup"],
                 table="t", target=target, live=live)


def test_check_resumes_only_the_same_incarnation():
    state = CheckpointState(header=HEADER)
    assert decide(state, LIVE, resume=True) is True
    with pytest.raises(UsageError, match="unfinished restore") as info:
        decide(state, LIVE, resume=False)  # the hint after a killed run
    assert "--resume" in info.value.hint
    with pytest.raises(IntegrityError, match="deleted and created again"):
        decide(state, {**LIVE, "TableId": "id-2"}, resume=True)
    with pytest.raises(IntegrityError, match="deleted and created again"):
        decide(state, {**LIVE, "CreationDateTime": "2026-11-30T11:00:00+00:00"}, resume=True)
    with pytest.raises(NotFoundError):
        decide(state, None, resume=True)
    assert decide(state, None, resume=False) is False  # stale: a fresh run starts over
    assert decide(state, {**LIVE, "TableId": "id-2"}, resume=False) is False
    assert decide(CheckpointState(header=HEADER, complete=True), LIVE, resume=False) is False


def test_check_refuses_another_target_and_old_headers():
    state = CheckpointState(header=HEADER)
    for changed in ({"endpoint": "http://127.0.0.1:1"}, {"region": "eu-west-1"}, {"account": "444455556666"}):
        for resume in (True, False):
            with pytest.raises(UsageError, match="is for"):
                decide(state, LIVE, resume, target={**TARGET, **changed})
    assert decide(state, LIVE, True, target={**TARGET, "account": None}) is True  # STS could not say
    old = CheckpointState(header={"backup": HEADER["backup"], "table": "t"})
    with pytest.raises(IntegrityError, match="does not say which table"):
        decide(old, LIVE, resume=True)
    with pytest.raises(UsageError, match="no checkpoint"):
        decide(None, LIVE, resume=True)
    with pytest.raises(UsageError, match="no checkpoint"):
        decide(CheckpointState(header={}), LIVE, resume=True)  # only a torn header
