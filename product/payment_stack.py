"""`PaymentStack`: one deployment of `PaymentService`, with the outputs smoke tests and operators read."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from product.contract import Output
from product.options import DeploymentOptions
from product.payment_service import PaymentService
from product.profiles import EnvironmentProfile


class PaymentStack(Stack):
    """The payment product for one environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        profile: EnvironmentProfile,
        options: DeploymentOptions,
        **stack_kwargs: Any,  # StackProps keywords (env, synthesizer...), forwarded to Stack
    ) -> None:
        super().__init__(
            scope, construct_id, description=f"Payment Processing Infrastructure Stack ({profile.name})", **stack_kwargs
        )
        self._availability_zones = list(options.availability_zones)
        self.service = PaymentService(self, "PaymentService", profile=profile, options=options)
        self.cfn_outputs: dict[str, CfnOutput] = {
            name: CfnOutput(self, name, value=value, description=description)
            for name, value, description in self._output_values(profile)
        }

    @property
    def availability_zones(self) -> list[str]:
        """AZs from configuration (cdk.json context), so synth never asks AWS for them."""
        return self._availability_zones

    def _output_values(self, profile: EnvironmentProfile) -> list[tuple[str, str, str]]:
        return service_outputs(self.service, profile.name)


def service_outputs(service: PaymentService, environment: str) -> list[tuple[str, str, str]]:
    """(name, value, description) of every output; the catalog's product stack exports the same ones."""
    s = service
    outputs = [
        (Output.ENVIRONMENT, environment, "Environment profile this stack was built from"),
        (Output.API_URL, s.api.url, "Base URL of the payment API stage"),
        (Output.API_ID, s.api.api.rest_api_id, "REST API id"),
        (Output.API_STAGE_NAME, s.api.stage.stage_name, "API Gateway stage name"),
        (Output.PAYMENTS_TABLE_NAME, s.tables.payments.table_name, "Payments table"),
        (Output.IDEMPOTENCY_TABLE_NAME, s.tables.idempotency.table_name, "Idempotency records table"),
        (Output.AUDIT_BUCKET_NAME, s.buckets.audit.bucket_name, "Audit-log bucket"),
        (Output.ACCESS_LOG_BUCKET_NAME, s.buckets.access_logs.bucket_name, "Server access log bucket"),
        (Output.EVENT_BUS_NAME, s.events.bus.event_bus_name, "Payment event bus"),
        (Output.EVENT_QUEUE_URL, s.queues.events.queue_url, "Queue feeding the event processor"),
        (Output.DEAD_LETTER_QUEUE_URL, s.queues.dead_letters.queue_url, "Dead-letter queue of payment events"),
        (Output.OPERATIONS_TOPIC_ARN, s.topics.operations.topic_arn, "Operations alerts topic"),
        (Output.SECURITY_TOPIC_ARN, s.topics.security.topic_arn, "Security alerts topic"),
        (Output.COST_TOPIC_ARN, s.topics.cost.topic_arn, "Cost alerts topic"),
        (Output.PAYMENT_FUNCTION_NAME, s.functions.api.function_name, "Payment API function"),
        (Output.PROCESSOR_FUNCTION_NAME, s.functions.processor.function_name, "Payment event processor"),
        (Output.WEB_ACL_ARN, s.firewall.web_acl.attr_arn, "WAF web ACL on the API stage"),
        (Output.FLEET_GROUP_NAME, s.fleet.group.auto_scaling_group_name, "Reconciliation fleet"),
        (Output.DASHBOARD_NAME, s.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
        (Output.KEY_ARN, s.keys.key.key_arn, "Customer-managed KMS key"),
    ]
    if s.shield is not None:
        outputs.append(
            (
                Output.EDGE_URL,
                f"https://{s.shield.distribution.domain_name}/",
                "CloudFront entry point protected by Shield Advanced",
            )
        )
    return outputs
