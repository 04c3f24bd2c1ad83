"""API Gateway account settings: the CloudWatch role that execution logging needs, set by one owner.

`AWS::ApiGateway::Account` is one setting per account and region: the last stack to write it wins, and
deleting a stack whose role it names breaks execution logging of every REST API in the region
(aws/aws-cdk#10878, #22954). So the API never sets it (`cloud_watch_role=False`); one deployment per
account and region owns it (an opt-in, validated like the GuardDuty detector), its role outlives that
stack, and the Service Catalog product never sets it. Runbook: docs/runbooks/api-gateway-account.md.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from constructs import Construct

from product.compliance import acknowledge

PUSH_TO_CLOUDWATCH_POLICY = "service-role/AmazonAPIGatewayPushToCloudWatchLogs"


class ApiGatewayAccountLogging(Construct):
    """The account's API Gateway CloudWatch role (retained) and the account setting that names it."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway execution logging for every REST API in this account and region",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(PUSH_TO_CLOUDWATCH_POLICY)],
        )
        # Kept when the owning stack goes: the account setting would otherwise name a deleted role. A failed
        # first create still deletes it, so the retry does not meet a role left behind (issue 11 item 8).
        self.role.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE)
        self.account = apigw.CfnAccount(self, "Account", cloud_watch_role_arn=self.role.role_arn)
        acknowledge(
            self.role,
            (
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{PUSH_TO_CLOUDWATCH_POLICY}]",
                "the AWS-managed push-to-CloudWatch policy is the documented role API Gateway needs for execution logs",
            ),
        )
