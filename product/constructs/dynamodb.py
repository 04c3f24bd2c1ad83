"""DynamoDB: the payments table and the idempotency-record table."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

# Powertools' DynamoDBPersistenceLayer defaults; the payment API relies on them.
IDEMPOTENCY_KEY_ATTRIBUTE = "id"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"
PAYMENT_KEY_ATTRIBUTE = "payment_id"


class PaymentTables(Construct):
    """On-demand, KMS-encrypted tables with point-in-time recovery."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        key: kms.IKey,
        removal: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        common = {
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED,
            "encryption_key": key,
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            "deletion_protection": deletion_protection,
            "removal_policy": removal,
        }
        self.payments = dynamodb.Table(
            self,
            "Payments",
            table_name=f"payments-{name_suffix}",
            partition_key=dynamodb.Attribute(name=PAYMENT_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            **common,
        )
        self.idempotency = dynamodb.Table(
            self,
            "Idempotency",
            table_name=f"payment-idempotency-{name_suffix}",
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
            **common,
        )
