"""S3: the audit-log bucket and the bucket that receives its server access logs."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames

# Every bucket of the repository: no public access, no ACLs, TLS only, versioned.
BUCKET_BASELINE: Mapping[str, Any] = MappingProxyType(
    {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "enforce_ssl": True,
        "versioned": True,
    }
)


class AuditBuckets(Construct):
    """Versioned, KMS-encrypted, TLS-only audit bucket whose access is logged to a second bucket."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        key: kms.IKey,
        removal: RemovalPolicy,
        audit_retention_days: int,
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        names = ResourceNames(name_suffix)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            bucket_name=names.access_log_bucket(Aws.ACCOUNT_ID, Aws.REGION),
            # S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            **BUCKET_BASELINE,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(log_retention_days), noncurrent_version_expiration=Duration.days(30)
                )
            ],
            removal_policy=removal,
        )
        acknowledge(
            self.access_logs,
            ("PCI.DSS.321-S3DefaultEncryptionKMS", "S3 server access logging delivers only to SSE-S3 buckets"),
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "access logs are operational data; the audit trail of record is the KMS-encrypted audit bucket",
            ),
        )
        self.audit = s3.Bucket(
            self,
            "Audit",
            bucket_name=names.audit_bucket(Aws.ACCOUNT_ID, Aws.REGION),
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            **BUCKET_BASELINE,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="audit-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="KeepAuditTrail",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=Duration.days(90)
                        )
                    ],
                    expiration=Duration.days(audit_retention_days),
                    noncurrent_version_expiration=Duration.days(audit_retention_days),
                )
            ],
            removal_policy=removal,
        )
        acknowledge(
            self.audit,
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "cross-region replication of the audit trail is a "
                "disaster-recovery decision per organisation; versioning and PITR-backed data cover 10.5.3 here",
            ),
        )
