"""`PaymentService`: the whole payment product as one construct tree, built from one profile."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Tags
from constructs import Construct

from product.constructs.api_gateway import PaymentApi
from product.constructs.api_gateway_account import ApiGatewayAccountLogging
from product.constructs.auto_scaling import ReconciliationFleet
from product.constructs.cloudwatch import MonitoredResources, PaymentMonitoring
from product.constructs.codedeploy import ALIAS_NAME, PaymentRelease
from product.constructs.cost_anomaly import COST_ALLOCATION_TAG, CostAnomalyDetection
from product.constructs.dynamodb import PaymentTables
from product.constructs.ec2 import PaymentNetwork
from product.constructs.eventbridge import PaymentEventRouting
from product.constructs.guardduty import ThreatDetector
from product.constructs.kms import PaymentKey
from product.constructs.lambda_functions import FunctionSizing, PaymentFunctions, PaymentResources
from product.constructs.logs import PaymentLogs
from product.constructs.s3 import AuditBuckets
from product.constructs.shield import EdgeShieldProtection, origin_header
from product.constructs.sns import AlertTopics
from product.constructs.sqs import PaymentEventQueues
from product.constructs.waf import ApiFirewall
from product.constructs.xray import PaymentTracing
from product.contract import ResourceNames
from product.options import DeploymentOptions, is_built
from product.profiles import EnvironmentProfile


class PaymentService(Construct):
    """API, data, processing, edge protection, monitoring, threat detection, cost, compute and keys.

    The opt-ins in `options` are switches: plain values, or CloudFormation conditions that each construct
    applies to the resources it owns (the Service Catalog product passes its launch parameters' conditions).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, profile: EnvironmentProfile, options: DeploymentOptions
    ) -> None:
        super().__init__(scope, construct_id)
        suffix = options.name_suffix
        # Retained data is still deleted when the stack's first create fails: a retry would otherwise meet
        # the fixed-name tables, buckets, queues and log groups it left behind ("already exists").
        removal = RemovalPolicy.DESTROY if profile.removal == "destroy" else RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
        Tags.of(self).add(COST_ALLOCATION_TAG, suffix)
        Tags.of(self).add("environment", profile.name)
        Tags.of(self).add("application", "payment-processing")
        Tags.of(self).add("data-classification", "confidential")

        self.keys = PaymentKey(self, "Keys", name_suffix=suffix, removal=removal)
        key = self.keys.key
        self.logs = PaymentLogs(self, "Logs", key=key, retention_days=profile.log_retention_days, removal=removal)
        self.topics = AlertTopics(
            self,
            "Topics",
            name_suffix=suffix,
            environment_label=profile.environment_label,
            key=key,
            notification_email=options.notification_email,
            subscribe_email=options.subscribe_notification_email,
        )
        self.tables = PaymentTables(
            self,
            "Tables",
            name_suffix=suffix,
            key=key,
            removal=removal,
            deletion_protection=profile.deletion_protection,
        )
        self.buckets = AuditBuckets(
            self,
            "AuditBuckets",
            name_suffix=suffix,
            key=key,
            removal=removal,
            audit_retention_days=profile.audit_retention_days,
            log_retention_days=profile.log_retention_days,
        )
        self.queues = PaymentEventQueues(
            self,
            "Queues",
            name_suffix=suffix,
            key=key,
            visibility_timeout_s=profile.event_queue_visibility_timeout_s,
            max_receive_count=profile.dlq_max_receive_count,
            removal=removal,
        )
        self.events = PaymentEventRouting(
            self,
            "Events",
            name_suffix=suffix,
            payment_queue=self.queues.events,
            security_topic=self.topics.security,
            guardduty_findings=options.create_guardduty_detector,
        )
        self.functions = PaymentFunctions(
            self,
            "Functions",
            name_suffix=suffix,
            environment_name=profile.name,
            sizing=FunctionSizing(
                payment_memory_mb=profile.payment_memory_mb,
                payment_timeout_s=profile.payment_timeout_s,
                processor_memory_mb=profile.processor_memory_mb,
                processor_timeout_s=profile.processor_timeout_s,
                payment_reserved_concurrency=profile.payment_reserved_concurrency,
            ),
            resources=PaymentResources(
                payments_table=self.tables.payments,
                idempotency_table=self.tables.idempotency,
                audit_bucket=self.buckets.audit,
                event_bus=self.events.bus,
                event_queue=self.queues.events,
                key=key,
            ),
            logs=self.logs,
        )
        # Safe release: API Gateway invokes alias `live`, which CodeDeploy shifts to each new version.
        self.release = PaymentRelease(
            self,
            "Release",
            name_suffix=suffix,
            function=self.functions.api,
            policy=profile.release,
            alarm_topic=self.topics.operations,
        )
        self.api = PaymentApi(
            self,
            "Api",
            name_suffix=suffix,
            stage_name=profile.api_stage_name,
            throttling=profile.api_throttling,
            handler=self.release.alias,
            access_log_group=self.logs.log_group("ApiAccessLogs"),
        )
        # The stage must be redeployed when its integrations move from the function to the alias.
        self.api.deployment.add_to_logical_id({"integration": f"alias {ALIAS_NAME}"})
        self.api_gateway_account: ApiGatewayAccountLogging | None = None
        if options.create_api_gateway_cloudwatch_role:
            self.api_gateway_account = ApiGatewayAccountLogging(self, "ApiGatewayAccount")
            # A stage with execution logging cannot be created before the account names a CloudWatch role.
            self.api.stage.node.add_dependency(self.api_gateway_account.account)
        edge_header = origin_header()
        self.firewall = ApiFirewall(
            self,
            "Firewall",
            name_suffix=suffix,
            rate_limit=profile.waf_rate_limit,
            stage=self.api.stage,
            log_group=self.logs.log_group("WafLogs", name=ResourceNames(suffix).waf_log_group),
            origin_header=edge_header,
            only_via_cloudfront=options.enable_shield_protection,
        )
        self.shield: EdgeShieldProtection | None = None
        if is_built(options.enable_shield_protection):
            self.shield = EdgeShieldProtection(
                self,
                "Shield",
                name_suffix=suffix,
                api=self.api.api,
                header=edge_header,
                switch=options.enable_shield_protection,
            )
        self.threat_detector: ThreatDetector | None = None
        if is_built(options.create_guardduty_detector):
            self.threat_detector = ThreatDetector(self, "ThreatDetection", switch=options.create_guardduty_detector)
        self.cost = CostAnomalyDetection(
            self,
            "Cost",
            name_suffix=suffix,
            topic=self.topics.cost,
            threshold_usd=profile.cost_anomaly_threshold_usd,
            create_account_monitor=options.create_account_cost_monitor,
        )
        self.network = PaymentNetwork(
            self,
            "Network",
            name_suffix=suffix,
            nat_gateways=profile.nat_gateways,
            nat_gateway_switches=options.nat_gateway_switches,
            flow_log_group=self.logs.log_group("FlowLogs"),
        )
        self.fleet = ReconciliationFleet(
            self, "Fleet", name_suffix=suffix, vpc=self.network.vpc, capacity=profile.fleet
        )
        self.events.route_fleet_failures(self.fleet.group, self.topics.operations)
        self.tracing = PaymentTracing(
            self,
            "Tracing",
            name_suffix=suffix,
            function_names=[self.functions.api.function_name, self.functions.processor.function_name],
            api_name=self.api.api.rest_api_name,
            api_stage_name=profile.api_stage_name,
            api_stage_arn=self.api.stage.stage_arn,
            sampling_rate=profile.xray_sampling_rate,
        )
        self.monitoring = PaymentMonitoring(
            self,
            "Monitoring",
            name_suffix=suffix,
            thresholds=profile.alarms,
            watched=MonitoredResources(
                api_name=self.api.api.rest_api_name,
                api_stage_name=profile.api_stage_name,
                api_function=self.functions.api,
                processor_function=self.functions.processor,
                payments_table=self.tables.payments,
                dead_letter_queue=self.queues.dead_letters,
                fleet_group_name=self.fleet.group.auto_scaling_group_name,
            ),
            operations_topic=self.topics.operations,
        )
