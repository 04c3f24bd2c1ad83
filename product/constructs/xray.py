"""X-Ray: a trace group for the product's functions and the environment's sampling rate."""

from __future__ import annotations

from aws_cdk import aws_xray as xray
from constructs import Construct

from product.contract import ResourceNames


class PaymentTracing(Construct):
    """Group with insights on, and a sampling rule at the environment's rate (API and functions trace)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_suffix: str, function_names: list[str], sampling_rate: float
    ) -> None:
        super().__init__(scope, construct_id)
        self.group = xray.CfnGroup(
            self,
            "Group",
            group_name=ResourceNames(name_suffix).trace_group,
            filter_expression=" OR ".join(f'service("{name}")' for name in function_names),
            insights_configuration=xray.CfnGroup.InsightsConfigurationProperty(
                insights_enabled=True, notifications_enabled=False
            ),
        )
        self.sampling_rule = xray.CfnSamplingRule(
            self,
            "SamplingRule",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=ResourceNames(name_suffix).sampling_rule,
                priority=100,
                fixed_rate=sampling_rate,
                reservoir_size=1,
                service_name="payment-*",
                service_type="*",
                host="*",
                http_method="*",
                url_path="*",
                resource_arn="*",
                version=1,
            ),
        )
