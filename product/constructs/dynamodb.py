"""DynamoDB: the payments table and the idempotency-record table."""

from __future__ import annotations

from typing import Any

from aws_cdk import IResolvable, RemovalPolicy, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from product.checked import l1_of
from product.contract import ResourceNames

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
        deletion_protection: bool | IResolvable,
    ) -> None:
        """Suffix and deletion protection may be launch-time values (the Service Catalog product); then they
        are set on the L1 tables: a token `table_name` makes `Table` record metadata that the catalog stack
        holding the product cannot resolve (aws-cdk ProductStack metadata collection, cross-environment).
        """
        super().__init__(scope, construct_id)
        launch_time = not isinstance(deletion_protection, bool)
        resource_names = ResourceNames(name_suffix)
        names = {"Payments": resource_names.payments_table, "Idempotency": resource_names.idempotency_table}
        token_names = Token.is_unresolved(name_suffix)
        common: dict[str, Any] = {  # the keyword arguments both tables share
            "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
            "encryption": dynamodb.TableEncryption.CUSTOMER_MANAGED,
            "encryption_key": key,
            "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            "deletion_protection": False if launch_time else deletion_protection,
            "removal_policy": removal,
        }
        self.payments = dynamodb.Table(
            self,
            "Payments",
            table_name=None if token_names else names["Payments"],
            partition_key=dynamodb.Attribute(name=PAYMENT_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            **common,
        )
        self.idempotency = dynamodb.Table(
            self,
            "Idempotency",
            table_name=None if token_names else names["Idempotency"],
            partition_key=dynamodb.Attribute(name=IDEMPOTENCY_KEY_ATTRIBUTE, type=dynamodb.AttributeType.STRING),
            time_to_live_attribute=IDEMPOTENCY_TTL_ATTRIBUTE,
            **common,
        )
        for table in (self.payments, self.idempotency):
            cfn_table = l1_of(table, dynamodb.CfnTable)
            if token_names:
                cfn_table.table_name = names[table.node.id]
            if launch_time:
                cfn_table.deletion_protection_enabled = deletion_protection
