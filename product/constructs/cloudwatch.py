"""CloudWatch: the environment's alarms (all notifying the operations topic) and a dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from product.contract import ResourceNames
from product.profiles import AlarmThresholds

PERIOD = Duration.minutes(5)
# CloudWatch's spelling of the `Operation` dimension (the CDK enum's values are GET_ITEM etc.).
LATENCY_OPERATIONS = ("GetItem", "PutItem")
THROTTLE_OPERATIONS = (dynamodb.Operation.GET_ITEM, dynamodb.Operation.PUT_ITEM, dynamodb.Operation.UPDATE_ITEM)


@dataclass(frozen=True)
class MonitoredResources:
    """What the alarms watch."""

    api_name: str
    api_stage_name: str
    api_function: lambda_.IFunction
    processor_function: lambda_.IFunction
    payments_table: dynamodb.ITable
    dead_letter_queue: sqs.IQueue
    fleet_group_name: str


class PaymentMonitoring(Construct):
    """One alarm per threshold in the profile, named `payment-<suffix>-<what>`, plus the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        thresholds: AlarmThresholds,
        watched: MonitoredResources,
        operations_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._suffix = name_suffix
        self._action = cw_actions.SnsAction(operations_topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._graphs: list[cloudwatch.GraphWidget] = []
        api_dimensions = {"ApiName": watched.api_name, "Stage": watched.api_stage_name}

        for name, function in (("api", watched.api_function), ("processor", watched.processor_function)):
            self._alarm(
                f"{name}-lambda-errors",
                function.metric_errors(period=PERIOD),
                thresholds.lambda_errors,
                f"{name} function errors in 5 minutes",
            )
        throttles = watched.payments_table.metric_throttled_requests_for_operations(
            operations=list(THROTTLE_OPERATIONS), period=PERIOD
        )
        self._alarm("dynamodb-throttles", throttles, thresholds.dynamodb_throttles, "payments table throttled requests")
        for operation in LATENCY_OPERATIONS:
            latency = watched.payments_table.metric_successful_request_latency(
                dimensions_map={"TableName": watched.payments_table.table_name, "Operation": operation},
                statistic="Average",
                period=PERIOD,
            )
            self._alarm(
                f"dynamodb-{operation.lower()}-latency",
                latency,
                thresholds.dynamodb_latency_ms,
                f"payments table {operation} average latency (ms)",
            )
        for metric_name, threshold in (("4XXError", thresholds.api_4xx), ("5XXError", thresholds.api_5xx)):
            metric = cloudwatch.Metric(
                namespace="AWS/ApiGateway",
                metric_name=metric_name,
                dimensions_map=api_dimensions,
                statistic="Sum",
                period=PERIOD,
            )
            self._alarm(
                f"api-{metric_name[:3].lower()}", metric, threshold, f"API {metric_name} responses in 5 minutes"
            )
        cpu = cloudwatch.Metric(
            namespace="AWS/EC2",
            metric_name="CPUUtilization",
            dimensions_map={"AutoScalingGroupName": watched.fleet_group_name},
            statistic="Average",
            period=PERIOD,
        )
        self._alarm("fleet-cpu", cpu, thresholds.ec2_cpu_percent, "reconciliation fleet average CPU (%)")
        dlq = watched.dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=PERIOD, statistic="Maximum"
        )
        self._alarm("dlq-messages", dlq, thresholds.dlq_messages, "payment events parked in the dead-letter queue")

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=ResourceNames(name_suffix).dashboard)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24)
        )
        self.dashboard.add_widgets(*self._graphs)

    def _alarm(self, what: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            "".join(part.capitalize() for part in what.split("-")),
            alarm_name=ResourceNames(self._suffix).alarm(what),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms[what] = alarm
        self._graphs.append(cloudwatch.GraphWidget(title=description, left=[metric], width=8))
