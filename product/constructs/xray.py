"""X-Ray: a trace group for the product's functions and the environment's sampling rate.

Sampling rules are account- and region-wide, and X-Ray applies the first matching rule by priority. Every
deployment (three stages, the direct stack and any number of catalog launches, possibly in one account)
creates one, so each rule matches only its own deployment: the API stage where its traces start, named
exactly (service `<api name>/<stage>`, type `AWS::ApiGateway::Stage`, the stage's ARN, which holds the
API's id). No request can match two of them, so their equal priority never decides anything; a per-deployment
priority could not guarantee that anyway (launches are unbounded, priorities are 1-9999). The functions
behind the API continue the trace decision API Gateway made (the trace header).
"""

from __future__ import annotations

from aws_cdk import aws_xray as xray
from constructs import Construct

from product.contract import ResourceNames

SAMPLING_RULE_PRIORITY = 100  # below the Default rule (10000); ties are harmless, see the module docstring
API_STAGE_SERVICE_TYPE = "AWS::ApiGateway::Stage"


class PaymentTracing(Construct):
    """Group with insights on, and a sampling rule at the environment's rate for this deployment's API stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        function_names: list[str],
        api_name: str,
        api_stage_name: str,
        api_stage_arn: str,
        sampling_rate: float,
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
                priority=SAMPLING_RULE_PRIORITY,
                fixed_rate=sampling_rate,
                reservoir_size=1,
                # API Gateway's service name in X-Ray is "{api-name}/{stage-name}" (API Gateway developer
                # guide, "Configure X-Ray sampling rules for API Gateway APIs").
                service_name=f"{api_name}/{api_stage_name}",
                service_type=API_STAGE_SERVICE_TYPE,
                host="*",
                http_method="*",
                url_path="*",
                resource_arn=api_stage_arn,
                version=1,
            ),
        )
