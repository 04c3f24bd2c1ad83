"""Lambda: the payment API function and the payment event processor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import CfnElement, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from product.checked import l1_of
from product.compliance import acknowledge
from product.constructs.iam import FunctionRole
from product.constructs.lambda_runtime import RuntimeLibrariesLayer
from product.constructs.logs import PaymentLogs
from product.contract import ResourceNames

# Resolved from this file, never from the working directory: synth runs from anywhere.
PAYMENTS_CODE_DIR = Path(__file__).resolve().parents[2] / "assets" / "lambda" / "payments"
RUNTIME = lambda_.Runtime.PYTHON_3_14
AUDIT_KEY_PREFIX = "audit/"
METRICS_NAMESPACE = "PaymentProcessing"


@dataclass(frozen=True)
class FunctionSizing:
    """Memory and timeout of the two functions, and the payment API's reserved concurrency (from the profile)."""

    payment_memory_mb: int
    payment_timeout_s: int
    processor_memory_mb: int
    processor_timeout_s: int
    payment_reserved_concurrency: int


@dataclass(frozen=True)
class PaymentResources:
    """What the functions read and write."""

    payments_table: dynamodb.ITable
    idempotency_table: dynamodb.ITable
    audit_bucket: s3.IBucket
    event_bus: events.IEventBus
    event_queue: sqs.IQueue
    key: kms.IKey


class PaymentFunctions(Construct):
    """Both functions: traced, logging to CDK-named groups, least-privilege roles, environment encrypted with the
    deployment's key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        environment_name: str,
        sizing: FunctionSizing,
        resources: PaymentResources,
        logs: PaymentLogs,
    ) -> None:
        super().__init__(scope, construct_id)
        if not PAYMENTS_CODE_DIR.is_dir():
            raise FileNotFoundError(f"Lambda code directory {PAYMENTS_CODE_DIR} is missing; restore assets/lambda")
        code = lambda_.Code.from_asset(str(PAYMENTS_CODE_DIR), exclude=["**/__pycache__", "**/*.pyc"])
        self.runtime_libraries = RuntimeLibrariesLayer(
            self, "RuntimeLibraries", layer_name=ResourceNames(name_suffix).runtime_layer, runtime=RUNTIME
        )
        r = resources

        self.api_role = FunctionRole(self, "ApiRole", description=f"Payment API function ({name_suffix})")
        self.api_log_group = logs.log_group("ApiLogs")
        self._code, self._layers, self._environment_name = code, [self.runtime_libraries.layer], environment_name
        self._key = r.key
        self.api = self._function(
            "Api",
            name=ResourceNames(name_suffix).api_function,
            description="POST /payments and GET /payments/{id}",
            handler="api.handler",
            memory_mb=sizing.payment_memory_mb,
            timeout_s=sizing.payment_timeout_s,
            role=self.api_role,
            log_group=self.api_log_group,
            # Capacity no other function in the account can take, and a ceiling a runaway client cannot pass.
            reserved_concurrency=sizing.payment_reserved_concurrency,
            environment={
                "PAYMENTS_TABLE_NAME": r.payments_table.table_name,
                "IDEMPOTENCY_TABLE_NAME": r.idempotency_table.table_name,
                "AUDIT_BUCKET_NAME": r.audit_bucket.bucket_name,
                "EVENT_BUS_NAME": r.event_bus.event_bus_name,
                "POWERTOOLS_SERVICE_NAME": "payment-api",
            },
        )
        # UpdateItem records on the payment that its PaymentCreated event was published.
        r.payments_table.grant(self.api_role.role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        r.idempotency_table.grant(
            self.api_role.role, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        r.audit_bucket.grant_put(self.api_role.role, f"{AUDIT_KEY_PREFIX}*")
        r.event_bus.grant_put_events_to(self.api_role.role)
        r.key.grant_encrypt_decrypt(self.api_role.role)
        self.api_role.acknowledge_grant_policy(
            (
                "AwsSolutions-IAM5[Action::s3:Abort*]",
                "grant_put lets the function abort its own multipart "
                "uploads of audit objects; scoped to the audit/ prefix",
            ),
            (
                f"AwsSolutions-IAM5[Resource::<{_logical_id_hint(r.audit_bucket)}>/{AUDIT_KEY_PREFIX}*]",
                "audit objects are keyed by date and payment id under audit/; the prefix is the narrowest scope",
            ),
            ("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", "KMS data-key actions for the stage key only"),
            ("AwsSolutions-IAM5[Action::kms:ReEncrypt*]", "KMS re-encrypt actions for the stage key only"),
        )

        self.processor_role = FunctionRole(
            self, "ProcessorRole", description=f"Payment event processor ({name_suffix})"
        )
        self.processor_log_group = logs.log_group("ProcessorLogs")
        self.processor = self._function(
            "Processor",
            name=ResourceNames(name_suffix).processor_function,
            description="Moves PaymentCreated payments from pending to processed",
            handler="processor.handler",
            memory_mb=sizing.processor_memory_mb,
            timeout_s=sizing.processor_timeout_s,
            role=self.processor_role,
            log_group=self.processor_log_group,
            environment={
                "PAYMENTS_TABLE_NAME": r.payments_table.table_name,
                "POWERTOOLS_SERVICE_NAME": "payment-processor",
            },
        )
        self.processor.add_event_source(
            event_sources.SqsEventSource(r.event_queue, batch_size=10, report_batch_item_failures=True)
        )
        r.payments_table.grant(self.processor_role.role, "dynamodb:UpdateItem")
        r.key.grant_encrypt_decrypt(self.processor_role.role)
        self.processor_role.acknowledge_grant_policy(
            ("AwsSolutions-IAM5[Action::kms:GenerateDataKey*]", "KMS data-key actions for the stage key only"),
            ("AwsSolutions-IAM5[Action::kms:ReEncrypt*]", "KMS re-encrypt actions for the stage key only"),
        )
        for function in (self.api, self.processor):
            acknowledge(
                function,
                (
                    "PCI.DSS.321-LambdaInsideVPC",
                    "the function reaches only AWS service APIs (IAM-authorised, TLS) "
                    "and no resource inside the VPC; no cardholder data store is network-reachable",
                ),
            )

    def _function(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        handler: str,
        memory_mb: int,
        timeout_s: int,
        role: FunctionRole,
        log_group: logs_.ILogGroup,
        environment: dict[str, str],
        reserved_concurrency: int | None = None,
    ) -> lambda_.Function:
        """A traced Python function on the shared code asset and runtime layer, writing to its own log group.

        Passing `log_group` only points the function at it; the role gets CreateLogStream/PutLogEvents on
        that group alone (no managed policy: nothing else to write to).
        """
        log_group.grant_write(role.role)
        return lambda_.Function(
            self,
            construct_id,
            function_name=name,
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=handler,
            code=self._code,
            layers=self._layers,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            role=role.role,
            log_group=log_group,
            reserved_concurrent_executions=reserved_concurrency,
            environment_encryption=self._key,
            environment={
                **environment,
                "ENVIRONMENT": self._environment_name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )


def _logical_id_hint(bucket: s3.IBucket) -> str:
    return f"{Stack.of(bucket).get_logical_id(l1_of(bucket, CfnElement))}.Arn"
