"""Cost Explorer: anomaly monitors and the subscription that alerts the cost topic.

AWS allows one AWS-services (DIMENSIONAL/SERVICE) monitor per account, so each deployment gets a
CUSTOM monitor scoped by its cost-allocation tag; the account-wide services monitor is opt-in.
"""

from __future__ import annotations

import json

from aws_cdk import IResolvable, Stack, Token
from aws_cdk import aws_ce as ce
from aws_cdk import aws_sns as sns
from constructs import Construct

from product.contract import ResourceNames
from product.options import Switch, apply_switch, if_switch, is_built

COST_ALLOCATION_TAG = "payment-deployment"


def _as_text(value: int) -> str:
    """Cost Explorer wants the impact threshold as a string, also when it is a launch-time token."""
    return Token.as_string(value) if Token.is_unresolved(value) else str(value)


class CostAnomalyDetection(Construct):
    """Anomaly monitor(s) and an IMMEDIATE SNS subscription for impacts >= the threshold (USD).

    Names end in the deployment's suffix, which is the environment name for pipeline stages.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        topic: sns.ITopic,
        threshold_usd: int,
        create_account_monitor: Switch,
    ) -> None:
        super().__init__(scope, construct_id)
        self.monitor = ce.CfnAnomalyMonitor(
            self,
            "DeploymentMonitor",
            monitor_name=ResourceNames(name_suffix).cost_monitor,
            monitor_type="CUSTOM",
            monitor_specification=json.dumps(
                {"Tags": {"Key": COST_ALLOCATION_TAG, "Values": [name_suffix], "MatchOptions": ["EQUALS"]}}
            ),
        )
        monitor_arns: list[str] | IResolvable = [self.monitor.attr_monitor_arn]
        self.account_monitor: ce.CfnAnomalyMonitor | None = None
        if is_built(create_account_monitor):
            self.account_monitor = ce.CfnAnomalyMonitor(
                self,
                "AccountServicesMonitor",
                monitor_name="payment-account-services",
                monitor_type="DIMENSIONAL",
                monitor_dimension="SERVICE",
            )
            apply_switch(create_account_monitor, self.account_monitor)
            # The subscription lists the account monitor only where it exists.
            monitor_arns = if_switch(
                create_account_monitor,
                [self.monitor.attr_monitor_arn, self.account_monitor.attr_monitor_arn],
                [self.monitor.attr_monitor_arn],
            )
        self.subscription = ce.CfnAnomalySubscription(
            self,
            "Subscription",
            subscription_name=ResourceNames(name_suffix).cost_subscription,
            frequency="IMMEDIATE",
            monitor_arn_list=Token.as_list(monitor_arns),
            subscribers=[ce.CfnAnomalySubscription.SubscriberProperty(address=topic.topic_arn, type="SNS")],
            threshold_expression=Stack.of(self).to_json_string(
                {
                    "Dimensions": {
                        "Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE",
                        "MatchOptions": ["GREATER_THAN_OR_EQUAL"],
                        "Values": [_as_text(threshold_usd)],
                    }
                }
            ),
        )
