"""WAF (v2): the regional web ACL in front of the API stage, with rate limiting and managed rules."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from product.constructs.shield import OriginHeader
from product.contract import ResourceNames
from product.options import Switch, if_switch, is_built

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _only_via_cloudfront(header: OriginHeader, priority: int) -> dict[str, Any]:
    """Block what lacks CloudFront's origin header (CloudFormation's spelling: it may sit inside `Fn::If`)."""
    return {
        "Name": "OnlyViaCloudFront",
        "Priority": priority,
        # 403, what Block answers anyway; spelt out because a property override drops empty objects.
        "Action": {"Block": {"CustomResponse": {"ResponseCode": 403}}},
        "Statement": {
            "NotStatement": {
                "Statement": {
                    "ByteMatchStatement": {
                        "FieldToMatch": {"SingleHeader": {"Name": header.name}},
                        "PositionalConstraint": "EXACTLY",
                        "SearchString": header.value,
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                    }
                }
            }
        },
        "VisibilityConfig": {
            "CloudWatchMetricsEnabled": True,
            "MetricName": "OnlyViaCloudFront",
            "SampledRequestsEnabled": True,
        },
    }


class ApiFirewall(Construct):
    """Web ACL (rate-based rule + AWS managed groups) associated with the stage, logging to CloudWatch.

    With `only_via_cloudfront` on, a last rule blocks requests without CloudFront's origin header, so callers
    cannot skip the Shield-protected distribution by calling execute-api directly (see shield.py).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        rate_limit: int,
        stage: apigw.Stage,
        log_group: logs.LogGroup,
        origin_header: OriginHeader,
        only_via_cloudfront: Switch = False,
    ) -> None:
        super().__init__(scope, construct_id)
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerIp",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP", evaluation_window_sec=300
                    )
                ),
                visibility_config=_visibility("RateLimitPerIp"),
            )
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group
                        )
                    ),
                    visibility_config=_visibility(group),
                )
            )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=ResourceNames(name_suffix).web_acl,
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(ResourceNames(name_suffix).web_acl),
            rules=rules,
        )
        if is_built(only_via_cloudfront):
            # In CloudFormation's spelling, as an override: a typed rule cannot sit inside `Fn::If`, and the
            # rule must be one element of the list whether the switch is a value or a launch condition.
            rule = _only_via_cloudfront(origin_header, priority=len(rules))
            self.web_acl.add_property_override(
                f"Rules.{len(rules)}", if_switch(only_via_cloudfront, rule, Aws.NO_VALUE)
            )
        self.association = wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self.association.node.add_dependency(stage)
        # WAF wants the bare log-group ARN, without the ':*' that LogGroup.log_group_arn carries.
        log_group_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            # The origin secret too: it would otherwise be in every request's log record.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": name})
                for name in ("authorization", origin_header.name)
            ],
        )
