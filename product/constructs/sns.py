"""SNS: operations, security and cost alert topics, KMS-encrypted and TLS-only."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from product.contract import ResourceNames
from product.options import Switch, apply_switch


class AlertTopics(Construct):
    """The three alert topics; their display names carry the environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        environment_label: str,
        key: kms.IKey,
        notification_email: str | None,
        subscribe_email: Switch = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.operations = self._topic("Operations", "operations", name_suffix, environment_label, key)
        self.security = self._topic("Security", "security", name_suffix, environment_label, key)
        self.cost = self._topic("Cost", "cost", name_suffix, environment_label, key)
        self._allow_service(self.operations, "cloudwatch.amazonaws.com")
        self._allow_service(self.cost, "costalerts.amazonaws.com")
        # The default-bus rules' targets (PaymentEventRouting) rely on these and grant nothing themselves.
        for topic in (self.operations, self.security):
            self._allow_service(topic, "events.amazonaws.com")
        if notification_email:
            for topic in (self.operations, self.security, self.cost):
                subscription = topic.add_subscription(subscriptions.EmailSubscription(notification_email))
                apply_switch(subscribe_email, subscription)

    def _topic(self, construct_id: str, purpose: str, suffix: str, label: str, key: kms.IKey) -> sns.Topic:
        return sns.Topic(
            self,
            construct_id,
            topic_name=ResourceNames(suffix).alert_topic(purpose),
            display_name=f"Payment Processing {purpose.capitalize()} Alerts ({label})",
            master_key=key,
            enforce_ssl=True,
        )

    @staticmethod
    def _allow_service(topic: sns.Topic, service: str) -> None:
        """Let an AWS service publish on this account's behalf only (confused-deputy guard)."""
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Allow{service.split('.', maxsplit=1)[0].capitalize()}Publish",
                principals=[iam.ServicePrincipal(service)],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            )
        )
