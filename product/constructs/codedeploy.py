"""CodeDeploy: the payment API function behind an alias whose traffic shifts per the release policy.

CloudFormation hands every change of the function's version to CodeDeploy (the alias's
`CodeDeployLambdaAliasUpdate` update policy). CodeDeploy shifts the alias as the environment's
deployment configuration says (all at once in dev, canary in staging and prod) and rolls back
automatically when an alias alarm (errors, p99 latency) fires during the shift, which fails the stack
update and so the pipeline's deploy action.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.profiles import ReleasePolicy

ALIAS_NAME = "live"
ALARM_PERIOD = Duration.minutes(1)  # canary intervals are minutes long: alarms must see the canary itself
LATENCY_STATISTIC = "p99"
LATENCY_EVALUATION_PERIODS = 2  # one slow minute (a cold start burst) is not a regression


class PaymentRelease(Construct):
    """Alias `live` of the payment API function, a CodeDeploy deployment group and its rollback alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        function: lambda_.Function,
        policy: ReleasePolicy,
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        names = ResourceNames(name_suffix)
        self.alias = lambda_.Alias(self, "Alias", alias_name=ALIAS_NAME, version=function.current_version)
        action = cw_actions.SnsAction(alarm_topic)
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_name=names.alarm("release-errors"),
            alarm_description=f"errors of alias '{ALIAS_NAME}' in one minute: rolls back a deployment in progress",
            metric=self.alias.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
            threshold=policy.rollback_errors,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.latency_alarm = cloudwatch.Alarm(
            self,
            "LatencyAlarm",
            alarm_name=names.alarm("release-latency"),
            alarm_description=f"{LATENCY_STATISTIC} duration (ms) of alias '{ALIAS_NAME}': rolls back a deployment "
            "in progress",
            metric=self.alias.metric_duration(period=ALARM_PERIOD, statistic=LATENCY_STATISTIC),
            threshold=policy.rollback_latency_p99_ms,
            evaluation_periods=LATENCY_EVALUATION_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        for alarm in (self.errors_alarm, self.latency_alarm):
            alarm.add_alarm_action(action)

        self.application = codedeploy.LambdaApplication(self, "Application", application_name=names.release_application)
        self.deployment_group = codedeploy.LambdaDeploymentGroup(
            self,
            "DeploymentGroup",
            application=self.application,
            deployment_group_name=names.release_deployment_group,
            alias=self.alias,
            # From the name, so a launch-time (token) configuration name works as well as a literal one.
            deployment_config=codedeploy.LambdaDeploymentConfig.from_lambda_deployment_config_name(
                self, "Config", policy.deployment_config
            ),
            alarms=[self.errors_alarm, self.latency_alarm],
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        acknowledge(
            self.deployment_group.role,
            (
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]",
                "the AWS-managed CodeDeploy-for-Lambda policy is the "
                "documented minimum for shifting an alias (lambda:UpdateAlias, GetAlias, alarm reads)",
            ),
        )
