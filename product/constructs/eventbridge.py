"""EventBridge: the payment event bus and the rules that route payment, security and fleet events."""

from __future__ import annotations

import jsii
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces import aws_events as events_refs
from constructs import Construct

from product.contract import ResourceNames
from product.options import Switch, apply_switch, is_built

PAYMENT_EVENT_SOURCE = "payments.api"
PAYMENT_CREATED = "PaymentCreated"


@jsii.implements(events.IRuleTarget)
class _AlertTopic:
    """An alert topic as a rule target. Unlike `targets.SnsTopic` it grants nothing: `AlertTopics` lets
    EventBridge publish (for this account only), so the topic's policy is the same whether or not a switched
    rule exists."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, rule: events_refs.IRuleRef, id: str | None = None) -> events.RuleTargetConfig:  # noqa: ARG002 - the interface names them
        return events.RuleTargetConfig(arn=self._topic.topic_arn)


class PaymentEventRouting(Construct):
    """Custom bus for payment events plus default-bus rules for GuardDuty and Auto Scaling.

    Default-bus rules see every event of the account and region, so each is scoped to what this deployment
    owns: GuardDuty findings only where the account's detector is (`guardduty_findings`, the detector's
    switch), Auto Scaling failures only of this deployment's fleet (`route_fleet_failures`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        payment_queue: sqs.IQueue,
        security_topic: sns.ITopic,
        guardduty_findings: Switch,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=ResourceNames(name_suffix).event_bus)
        self.payment_created_rule = events.Rule(
            self,
            "PaymentCreatedToQueue",
            event_bus=self.bus,
            description="PaymentCreated events to the event processor's queue",
            event_pattern=events.EventPattern(source=[PAYMENT_EVENT_SOURCE], detail_type=[PAYMENT_CREATED]),
            targets=[targets.SqsQueue(payment_queue)],
        )
        # Once per account and region, with the detector: every stage routing them would alert every
        # stage's security topic about the same finding under different environment labels.
        self.guardduty_rule: events.Rule | None = None
        if is_built(guardduty_findings):
            self.guardduty_rule = events.Rule(
                self,
                "GuardDutyFindingsToSecurityTopic",
                description="GuardDuty findings of this account and region to the security alerts topic",
                event_pattern=events.EventPattern(source=["aws.guardduty"], detail_type=["GuardDuty Finding"]),
                targets=[_AlertTopic(security_topic)],
            )
            apply_switch(guardduty_findings, self.guardduty_rule)
        self.fleet_failures_rule: events.Rule | None = None

    def route_fleet_failures(self, group: autoscaling.IAutoScalingGroup, operations_topic: sns.ITopic) -> None:
        """Failed launches and terminations of `group` (and of no other group in the account) to operations."""
        self.fleet_failures_rule = events.Rule(
            self,
            "FleetLaunchFailuresToOperationsTopic",
            description="Failed launches and terminations of the reconciliation fleet to operations",
            event_pattern=events.EventPattern(
                source=["aws.autoscaling"],
                detail_type=["EC2 Instance Launch Unsuccessful", "EC2 Instance Terminate Unsuccessful"],
                detail={"AutoScalingGroupName": [group.auto_scaling_group_name]},
            ),
            targets=[_AlertTopic(operations_topic)],
        )
