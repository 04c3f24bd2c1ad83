"""Data stores: tables, buckets and the stage's KMS key."""

from __future__ import annotations

import json

import pytest

from product.contract import Output
from tests.smoke.target import Target

TABLES = [(Output.PAYMENTS_TABLE_NAME, False), (Output.IDEMPOTENCY_TABLE_NAME, True)]
BUCKETS = [Output.AUDIT_BUCKET_NAME, Output.ACCESS_LOG_BUCKET_NAME]


def _table(target: Target, output_id: str) -> tuple[str, str]:
    name = target.outputs[output_id]
    return target.find("AWS::DynamoDB::Table", TableName=name), name


def _bucket(target: Target, output_id: str) -> tuple[str, str]:
    name = target.outputs[output_id]
    return target.find("AWS::S3::Bucket", BucketName=name), name


@pytest.mark.parametrize(("output_id", "has_ttl"), TABLES, ids=["payments", "idempotency"])
def test_table(output_id: str, has_ttl: bool, target: Target, aws, subject) -> None:
    """Table ACTIVE, encrypted with the stage's KMS key, point-in-time recovery on, settings as declared"""
    logical_id, name = _table(target, output_id)
    subject(logical_id, name)
    dynamodb = aws("dynamodb")
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    sse = table.get("SSEDescription") or {}
    assert sse.get("Status") == "ENABLED" and sse.get("SSEType") == "KMS", f"not KMS-encrypted: {sse}"
    expected_key = target.prop(logical_id, "SSESpecification", "KMSMasterKeyId")
    assert sse.get("KMSMasterKeyArn") == expected_key == target.outputs[Output.KEY_ARN], (
        f"encrypted with {sse.get('KMSMasterKeyArn')}, template says {expected_key}"
    )
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    assert target.prop(logical_id, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled") is True
    assert pitr == "ENABLED", f"point-in-time recovery is {pitr}"
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    assert billing == target.prop(logical_id, "BillingMode", default="PROVISIONED")
    assert bool(table.get("DeletionProtectionEnabled")) == bool(target.prop(logical_id, "DeletionProtectionEnabled"))
    if has_ttl:
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        expected = target.prop(logical_id, "TimeToLiveSpecification", "AttributeName")
        assert ttl.get("TimeToLiveStatus") == "ENABLED" and ttl.get("AttributeName") == expected, ttl


@pytest.mark.parametrize("output_id", BUCKETS, ids=["audit", "access-logs"])
def test_bucket_versioned(output_id: str, target: Target, aws, subject) -> None:
    """Bucket versioning enabled"""
    logical_id, name = _bucket(target, output_id)
    subject(logical_id, name)
    assert aws("s3").get_bucket_versioning(Bucket=name).get("Status") == "Enabled"


@pytest.mark.parametrize("output_id", BUCKETS, ids=["audit", "access-logs"])
def test_bucket_encrypted(output_id: str, target: Target, aws, subject) -> None:
    """Bucket default encryption as declared (audit: the stage's KMS key; access logs: SSE-S3)"""
    logical_id, name = _bucket(target, output_id)
    subject(logical_id, name)
    declared = target.prop(
        logical_id, "BucketEncryption", "ServerSideEncryptionConfiguration", 0, "ServerSideEncryptionByDefault"
    )
    rules = aws("s3").get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    actual = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert actual["SSEAlgorithm"] == declared["SSEAlgorithm"], f"{actual} != {declared}"
    if declared["SSEAlgorithm"] == "aws:kms":
        assert actual.get("KMSMasterKeyID") == declared.get("KMSMasterKeyID") == target.outputs[Output.KEY_ARN]


@pytest.mark.parametrize("output_id", BUCKETS, ids=["audit", "access-logs"])
def test_bucket_blocks_public_access(output_id: str, target: Target, aws, subject) -> None:
    """Bucket blocks all public access"""
    logical_id, name = _bucket(target, output_id)
    subject(logical_id, name)
    block = aws("s3").get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    assert all(block.get(flag) is True for flag in flags), block


@pytest.mark.parametrize("output_id", BUCKETS, ids=["audit", "access-logs"])
def test_bucket_policy_requires_tls(output_id: str, target: Target, aws, subject) -> None:
    """Bucket policy denies every request without TLS"""
    bucket_logical_id, name = _bucket(target, output_id)
    subject(bucket_logical_id, name)
    policy_logical_id = next(
        (
            lid
            for lid, res in target.of_type("AWS::S3::BucketPolicy")
            if res.get("Properties", {}).get("Bucket") == {"Ref": bucket_logical_id}
        ),
        None,
    )
    assert policy_logical_id is not None, f"the template has no bucket policy for {name}"
    subject(policy_logical_id, f"policy of {name}")
    policy = json.loads(aws("s3").get_bucket_policy(Bucket=name)["Policy"])
    denies = [
        s
        for s in policy["Statement"]
        if s.get("Effect") == "Deny"
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower() == "false"
    ]
    assert denies, f"no statement denies aws:SecureTransport=false: {policy}"
    resources = {r for s in denies for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])}
    assert f"arn:{target.partition}:s3:::{name}" in resources and f"arn:{target.partition}:s3:::{name}/*" in resources


def test_audit_bucket_retention(target: Target, aws, subject) -> None:
    """Audit bucket keeps objects for the environment's audit retention (lifecycle as declared)"""
    logical_id, name = _bucket(target, Output.AUDIT_BUCKET_NAME)
    subject(logical_id, name)
    declared = {r.get("Id"): r for r in target.prop(logical_id, "LifecycleConfiguration", "Rules", default=[])}
    rules = {r.get("ID"): r for r in aws("s3").get_bucket_lifecycle_configuration(Bucket=name)["Rules"]}
    for rule_id, rule in declared.items():
        assert rule_id in rules, f"lifecycle rule {rule_id} missing: {list(rules)}"
        actual = rules[rule_id]
        assert actual["Status"] == "Enabled"
        if "ExpirationInDays" in rule:
            assert int(actual["Expiration"]["Days"]) == int(rule["ExpirationInDays"]), (actual, rule)
        if "NoncurrentVersionExpiration" in rule:
            days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
            assert int(actual["NoncurrentVersionExpiration"]["NoncurrentDays"]) == days


def test_kms_key(target: Target, aws, subject) -> None:
    """Stage key enabled, customer-managed, rotation on"""
    key_arn = target.outputs[Output.KEY_ARN]
    logical_id = next(lid for lid, _ in target.of_type("AWS::KMS::Key") if key_arn.endswith(target.physical_ids[lid]))
    subject(logical_id, key_arn)
    kms = aws("kms")
    metadata = kms.describe_key(KeyId=key_arn)["KeyMetadata"]
    assert metadata["Enabled"] and metadata["KeyState"] == "Enabled", metadata["KeyState"]
    assert metadata["KeyManager"] == "CUSTOMER"
    assert target.prop(logical_id, "EnableKeyRotation") is True
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
