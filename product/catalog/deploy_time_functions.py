"""aws-cdk's own deploy-time handlers in the catalog stack (asset copy, organization share), made to follow
the repository's log-group rule: a CDK-named group handed to the function, never `/aws/lambda/<name>`, and
the role may write that group only.

aws-cdk creates `/aws/lambda/<function>` for its singleton handlers; Lambda can create that group itself on
the first invocation, before CloudFormation does, and the deployment then fails on an existing resource.
aws-cdk also gives their roles the AWS-managed AWSLambdaBasicExecutionRole (logs on every group in the
account); it is replaced by write access to the handler's own group.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from product.checked import l1_of, narrowed
from product.compliance import acknowledge_async_failures

# PCI DSS 10.5.1: a year of logs at least.
HANDLER_LOG_RETENTION = logs.RetentionDays.ONE_YEAR
CDK_MANAGED_LOG_GROUP_ID = "LogGroup"
CUSTOM_RESOURCE_INVOCATION = (
    "CloudFormation invokes this custom-resource handler asynchronously and waits for its answer: the handler "
    "reports every failure to CloudFormation, which fails and rolls back the stack operation (or times it out), "
    "so no failed event goes unnoticed; a queued event could not be replayed (its response URL expires)"
)


def handlers_named(stack: Stack, prefix: str) -> list[lambda_.Function]:
    """The stack's aws-cdk singleton functions whose construct id starts with `prefix`."""
    return [c for c in stack.node.children if c.node.id.startswith(prefix) and isinstance(c, lambda_.Function)]


def give_own_log_group(function: lambda_.Function) -> logs.LogGroup:
    """Replace the group aws-cdk manages under `/aws/lambda/` with a CDK-named one the function logs to."""
    function.node.try_remove_child(CDK_MANAGED_LOG_GROUP_ID)
    group = logs.LogGroup(function, "Logs", retention=HANDLER_LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
    cfn_function = l1_of(function, lambda_.CfnFunction)
    cfn_function.logging_config = lambda_.CfnFunction.LoggingConfigProperty(log_group=group.log_group_name)
    role = narrowed(function.role, iam.Role, "the role", of=function)
    cfn_role = l1_of(role, iam.CfnRole)
    cfn_role.managed_policy_arns = None  # on the L1, so cdk-nag sees it too (it reads L1 properties)
    group.grant_write(role)
    return group


def adopt(scope: Construct, prefix: str) -> list[lambda_.Function]:
    """Give every matching handler of `scope`'s stack its own log group; return the handlers."""
    functions = handlers_named(Stack.of(scope), prefix)
    for function in functions:
        if function.node.try_find_child("Logs") is None:
            give_own_log_group(function)
            acknowledge_async_failures(function, CUSTOM_RESOURCE_INVOCATION)
    return functions
