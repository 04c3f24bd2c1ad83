"""EventBridge: the payment event bus and the rules that route payment, security and fleet events."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from product.contract import ResourceNames

PAYMENT_EVENT_SOURCE = "payments.api"
PAYMENT_CREATED = "PaymentCreated"


class PaymentEventRouting(Construct):
    """Custom bus for payment events plus default-bus rules for GuardDuty and Auto Scaling."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        payment_queue: sqs.IQueue,
        security_topic: sns.ITopic,
        operations_topic: sns.ITopic,
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
        # Always routed, whether or not this stack owns the account's detector.
        self.guardduty_rule = events.Rule(
            self,
            "GuardDutyFindingsToSecurityTopic",
            description="GuardDuty findings to the security alerts topic",
            event_pattern=events.EventPattern(source=["aws.guardduty"], detail_type=["GuardDuty Finding"]),
            targets=[targets.SnsTopic(security_topic)],
        )
        self.fleet_failures_rule = events.Rule(
            self,
            "FleetLaunchFailuresToOperationsTopic",
            description="Failed launches and terminations of the reconciliation fleet to operations",
            event_pattern=events.EventPattern(
                source=["aws.autoscaling"],
                detail_type=["EC2 Instance Launch Unsuccessful", "EC2 Instance Terminate Unsuccessful"],
            ),
            targets=[targets.SnsTopic(operations_topic)],
        )
