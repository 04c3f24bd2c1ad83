"""What the product promises the delivery pipeline, the smoke suite and the rehearsal (CDK-free: no aws_cdk import).

- `ResourceNames`: every physical name of one deployment, all ending in its name suffix (the environment
  name for a pipeline stage). The constructs name their resources from it; the smoke role's ARN patterns
  and their nag acknowledgments are derived from it (`ResourceNames(env)`, or `"*"` for a wildcard part).
- `Output`: the stack output ids, and `env_var_name` the environment variable each one travels in (the
  pipeline's `env_from_cfn_outputs`, the rehearsal's smoke run, the suite's target lookup).
- The smoke step's environment: which outputs it carries, the other variables, the tag on smoke data.

The smoke suite and the rehearsal import this module without the CDK installed; keep it that way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceNames:
    """Physical names of one deployment's resources. The suffix may be a CDK token (a catalog launch)."""

    suffix: str

    @property
    def _base(self) -> str:
        return f"payment-{self.suffix}"

    # --- API, functions, release ------------------------------------------------------------------
    @property
    def rest_api(self) -> str:
        return f"payment-api-{self.suffix}"

    @property
    def api_function(self) -> str:
        return f"payment-api-{self.suffix}"

    @property
    def processor_function(self) -> str:
        return f"payment-processor-{self.suffix}"

    @property
    def runtime_layer(self) -> str:
        """The functions' layer of runtime libraries (Powertools); each deployment publishes its own versions."""
        return f"payment-runtime-{self.suffix}"

    @property
    def release_application(self) -> str:
        """The CodeDeploy application; its deployment group is named after the function it shifts."""
        return self._base

    @property
    def release_deployment_group(self) -> str:
        return self.api_function

    # --- data and messaging -----------------------------------------------------------------------
    @property
    def payments_table(self) -> str:
        return f"payments-{self.suffix}"

    @property
    def idempotency_table(self) -> str:
        return f"payment-idempotency-{self.suffix}"

    def audit_bucket(self, account: str, region: str) -> str:
        """Globally unique: the account, and the region (one account may run two regions)."""
        return f"payment-audit-logs-{self.suffix}-{account}-{region}"

    def access_log_bucket(self, account: str, region: str) -> str:
        return f"payment-access-logs-{self.suffix}-{account}-{region}"

    @property
    def event_queue(self) -> str:
        return f"payment-events-{self.suffix}"

    @property
    def dead_letter_queue(self) -> str:
        return f"payment-events-dlq-{self.suffix}"

    @property
    def event_bus(self) -> str:
        return f"payment-events-{self.suffix}"

    def alert_topic(self, purpose: str) -> str:
        """`operations`, `security` or `cost`."""
        return f"payment-{purpose}-alerts-{self.suffix}"

    @property
    def key_alias(self) -> str:
        return f"alias/{self._base}"

    # --- monitoring, edge, network, fleet, cost ---------------------------------------------------
    def alarm(self, what: str) -> str:
        """`payment-<suffix>-<what>`, e.g. `payment-dev-api-5xx`: the runbook's entry names."""
        return f"{self._base}-{what}"

    @property
    def dashboard(self) -> str:
        return self._base

    @property
    def trace_group(self) -> str:
        return self._base

    @property
    def sampling_rule(self) -> str:
        return self._base

    @property
    def web_acl(self) -> str:
        return f"payment-api-{self.suffix}"

    @property
    def waf_log_group(self) -> str:
        """WAF logs only to log groups whose name starts with `aws-waf-logs-`."""
        return f"aws-waf-logs-{self._base}"

    @property
    def edge_web_acl(self) -> str:
        return f"payment-api-edge-{self.suffix}"

    @property
    def vpc(self) -> str:
        return self._base

    @property
    def reconciliation_fleet(self) -> str:
        """The Auto Scaling group and its launch template."""
        return f"payment-reconciliation-{self.suffix}"

    @property
    def cost_monitor(self) -> str:
        return f"payment-cost-anomaly-{self.suffix}"

    @property
    def cost_subscription(self) -> str:
        return f"payment-cost-alerts-{self.suffix}"


class Output:
    """Output ids of `PaymentStack` (and of the catalog's product, which exports the same ones)."""

    ENVIRONMENT = "Environment"
    API_URL = "ApiUrl"
    API_ID = "ApiId"
    API_STAGE_NAME = "ApiStageName"
    PAYMENTS_TABLE_NAME = "PaymentsTableName"
    IDEMPOTENCY_TABLE_NAME = "IdempotencyTableName"
    AUDIT_BUCKET_NAME = "AuditBucketName"
    ACCESS_LOG_BUCKET_NAME = "AccessLogBucketName"
    EVENT_BUS_NAME = "EventBusName"
    EVENT_QUEUE_URL = "EventQueueUrl"
    DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
    OPERATIONS_TOPIC_ARN = "OperationsTopicArn"
    SECURITY_TOPIC_ARN = "SecurityTopicArn"
    COST_TOPIC_ARN = "CostTopicArn"
    PAYMENT_FUNCTION_NAME = "PaymentFunctionName"
    PROCESSOR_FUNCTION_NAME = "ProcessorFunctionName"
    WEB_ACL_ARN = "WebAclArn"
    FLEET_GROUP_NAME = "FleetGroupName"
    DASHBOARD_NAME = "DashboardName"
    KEY_ARN = "KeyArn"
    EDGE_URL = "EdgeUrl"  # only with Shield protection


def env_var_name(output_id: str) -> str:
    """`ApiUrl` -> `API_URL`, `PaymentsTableName` -> `PAYMENTS_TABLE_NAME`, `WebAclArn` -> `WEB_ACL_ARN`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", output_id).upper()


# Outputs the pipeline's smoke step hands the suite as environment variables. CodePipeline caps an action's
# configuration value at 1,000 characters and each `#{namespace.Output}` costs ~100, so only what the suite
# needs first goes here; it reads every other output with DescribeStacks on STACK_NAME.
SMOKE_OUTPUTS = (
    Output.API_URL,
    Output.PAYMENTS_TABLE_NAME,
    Output.AUDIT_BUCKET_NAME,
    Output.PAYMENT_FUNCTION_NAME,
    Output.OPERATIONS_TOPIC_ARN,
    Output.EVENT_QUEUE_URL,
)
# Outputs that identify a stage: without a stack name, the suite finds the stack whose outputs equal these
# variables, so each must be one the smoke step carries.
IDENTIFYING_OUTPUTS = (
    Output.PAYMENTS_TABLE_NAME,
    Output.PAYMENT_FUNCTION_NAME,
    Output.AUDIT_BUCKET_NAME,
    Output.EVENT_QUEUE_URL,
)

# The smoke step's other variables (set by the pipeline and the rehearsal, read by scripts/smoke and the suite).
STAGE_VARIABLE = "STAGE"
STACK_NAME_VARIABLE = "STACK_NAME"
SMOKE_TAG_VARIABLE = "SMOKE_TAG"
# Set by the rehearsal only: the emulator's not-created resources, and the run id that marks smoke data.
NOT_EMULATED_VARIABLE = "SMOKE_NOT_EMULATED_FILE"
RUN_ID_VARIABLE = "SMOKE_RUN_ID"

# Metadata tag the suite puts on its payments (and so on their audit records): `purpose=smoke-test`.
SMOKE_TAG_KEY = "purpose"
SMOKE_TAG_VALUE = "smoke-test"
SMOKE_TAG = f"{SMOKE_TAG_KEY}={SMOKE_TAG_VALUE}"
