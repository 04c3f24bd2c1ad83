"""CloudWatch Logs: KMS-encrypted log groups with the environment's retention.

Log groups are never given `/aws/lambda/<name>` names: Lambda may have created that group already,
which fails deployment with AWS::EarlyValidation::ResourceExistenceCheck. CDK names them instead and
each function is handed its group.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from product.checked import l1_of

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class PaymentLogs(Construct):
    """Factory for the product's log groups, all sharing one key, retention and removal policy."""

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, retention_days: int, removal: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = key
        self._retention_days = retention_days
        self._removal = removal

    def log_group(self, construct_id: str, *, name: str | None = None) -> logs.LogGroup:
        """A new encrypted log group; `name` only for consumers that demand one (WAF)."""
        if name is not None and name.startswith("/aws/lambda/"):
            raise ValueError(f"log group name {name!r} would collide with the group Lambda creates itself")
        concrete = not Token.is_unresolved(self._retention_days)
        group = logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            encryption_key=self._key,
            retention=_RETENTION[self._retention_days] if concrete else logs.RetentionDays.INFINITE,
            removal_policy=self._removal,
        )
        if not concrete:  # a launch-time value from the catalog mapping
            l1_of(group, logs.CfnLogGroup).retention_in_days = self._retention_days
        return group
