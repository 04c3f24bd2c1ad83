"""KMS: the stage's customer-managed key, used by tables, buckets, topics, queues and logs."""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from product.contract import ResourceNames

# Services that encrypt or decrypt with this key on the product's behalf.
_SERVICE_PRINCIPALS = (
    "events.amazonaws.com",  # EventBridge -> encrypted SQS queue and SNS topic
    "cloudwatch.amazonaws.com",  # alarm actions -> encrypted SNS topic
    "costalerts.amazonaws.com",  # Cost Anomaly Detection -> encrypted SNS topic
)


class PaymentKey(Construct):
    """One customer-managed key per deployment, rotation on, usable by the services that need it."""

    def __init__(self, scope: Construct, construct_id: str, *, name_suffix: str, removal: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=ResourceNames(name_suffix).key_alias,
            description=f"Payment processing data key ({name_suffix})",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsInThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"
                        )
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAwsServicesToUseTheKeyForThisAccount",
                principals=[iam.ServicePrincipal(p) for p in _SERVICE_PRINCIPALS],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                # Who may publish is decided by each topic's or queue's own resource policy.
                resources=["*"],
            )
        )
