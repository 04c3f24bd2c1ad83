"""What would break in a real AWS account (issue 11), each item proven on the synthesized templates.

The emulator checks neither account-level settings nor who may reach an endpoint, so these read the
templates of the whole app (every stack, in its account and region) and the Service Catalog product.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline.settings import DeliverySettings
from product.catalog.parameters import GUARDDUTY, PROFILE, SHIELD
from product.profiles import ConfigurationError
from tests.unit.template_instance import Instance

API_ACCOUNT = "AWS::ApiGateway::Account"


def _stacks(assembly: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(display path, 'account/region', template) of every stack of the app, nested assemblies included."""
    for manifest in sorted(assembly.rglob("manifest.json")):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if artifact.get("type") == "aws:cloudformation:stack":
                template = json.loads((manifest.parent / artifact["properties"]["templateFile"]).read_text())
                yield artifact["displayName"], artifact["environment"].removeprefix("aws://"), template


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in resources.items() if r["Type"] == resource_type}


def _rules_from(resources: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    return {
        k: r
        for k, r in _of_type(resources, "AWS::Events::Rule").items()
        if source in r["Properties"].get("EventPattern", {}).get("source", [])
    }


def _launch(product: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    return Instance(product, {PROFILE: "prod", "NameSuffix": "team-a", **parameters}).resources()


# -- item 4: API Gateway's account-level CloudWatch role --------------------------------------------------
def test_item_04_api_gateway_account_role_once_per_account_region(
    assembly_dir: Path, product_template: dict[str, Any]
) -> None:
    owners: dict[str, list[str]] = {}
    owning: list[tuple[str, dict[str, Any], str]] = []
    for path, environment, template in _stacks(assembly_dir):
        for logical_id in _of_type(template.get("Resources", {}), API_ACCOUNT):
            owners.setdefault(environment, []).append(path)
            owning.append((path, template["Resources"], logical_id))
    shared = {environment: paths for environment, paths in owners.items() if len(paths) > 1}
    assert not shared, f"API Gateway account settings set by several stacks in one account and region: {shared}"
    for path, resources, logical_id in owning:
        # Its role outlives the stack: deleting it would break execution logging of every API in the region
        # (kept on delete and replacement; a failed first create removes it, item 8).
        role = resources[logical_id]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
        assert resources[role]["DeletionPolicy"] == "RetainExceptOnCreate", path
        for stage_id in _of_type(resources, "AWS::ApiGateway::Stage"):  # logging needs the role first
            assert logical_id in resources[stage_id].get("DependsOn", []), (path, stage_id)
    assert not _of_type(product_template["Resources"], API_ACCOUNT), "a catalog launch must not set it"
    api_gateway_roles = [
        logical_id
        for logical_id, role in _of_type(product_template["Resources"], "AWS::IAM::Role").items()
        if "apigateway.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert not api_gateway_roles, f"the product must not create API Gateway's CloudWatch role: {api_gateway_roles}"


def test_item_04_settings_refuse_two_owners_of_the_api_gateway_account() -> None:
    stage = {"account": "222222222222", "region": "eu-west-1", "createApiGatewayCloudWatchRole": True}
    zones = {region: [f"{region}a", f"{region}b"] for region in ("eu-west-1", "us-east-1")}
    context = {"availabilityZones": zones, "stages": {"dev": stage}}
    with pytest.raises(ConfigurationError, match=r"stages dev, staging would each create one in 222222222222/eu-"):
        DeliverySettings.from_context({**context, "stages": {"dev": stage, "staging": stage}})
    owned = DeliverySettings.from_context(context)
    assert owned.stage_options("dev").create_api_gateway_cloudwatch_role
    assert not owned.stage_options("prod").create_api_gateway_cloudwatch_role


# -- item 9: default-bus rules scoped to their own deployment ---------------------------------------------
def test_item_09_default_bus_rules_scoped_to_their_own_deployment(
    assembly_dir: Path, product_template: dict[str, Any], opt_ins_template: Template
) -> None:
    templates = [(path, env, template["Resources"]) for path, env, template in _stacks(assembly_dir)]
    templates.append(("opt-ins", "opt-ins/us-east-1", opt_ins_template.to_json()["Resources"]))
    for guardduty in ("false", "true"):
        resources = _launch(product_template, **{GUARDDUTY.parameter: guardduty})
        templates.append((f"product (detector {guardduty})", f"product {guardduty}", resources))
    findings_routed: Counter[str] = Counter()
    for path, environment, resources in templates:
        for rule in _rules_from(resources, "aws.autoscaling").values():
            (group,) = _of_type(resources, "AWS::AutoScaling::AutoScalingGroup")
            assert rule["Properties"]["EventPattern"].get("detail") == {"AutoScalingGroupName": [{"Ref": group}]}, path
        detectors = _of_type(resources, "AWS::GuardDuty::Detector")
        assert len(_rules_from(resources, "aws.guardduty")) == len(detectors), (
            f"{path}: findings routed without detector"
        )
        findings_routed[environment] += len(detectors)
    assert all(count <= 1 for count in findings_routed.values()), findings_routed
    assert findings_routed["opt-ins/us-east-1"] == findings_routed["product true"] == 1
    (rule,) = _rules_from(product_template["Resources"], "aws.guardduty").values()
    assert rule["Condition"] == f"{GUARDDUTY.parameter}On"


# -- item 10: with Shield on, only CloudFront reaches the API ----------------------------------------------
def _origin_header(resources: dict[str, Any]) -> tuple[str, Any]:
    (distribution,) = _of_type(resources, "AWS::CloudFront::Distribution").values()
    (origin,) = distribution["Properties"]["DistributionConfig"]["Origins"]
    headers = origin.get("OriginCustomHeaders", [])
    assert len(headers) == 1, "CloudFront adds no origin header the API's web ACL could require"
    return headers[0]["HeaderName"].lower(), headers[0]["HeaderValue"]


def _cloudfront_only_rules(resources: dict[str, Any]) -> list[dict[str, Any]]:
    (acl,) = _of_type(resources, "AWS::WAFv2::WebACL").values()
    return [
        rule
        for rule in acl["Properties"]["Rules"]
        if "ByteMatchStatement" in rule.get("Statement", {}).get("NotStatement", {}).get("Statement", {})
    ]


def _assert_only_cloudfront_passes(resources: dict[str, Any], where: str) -> None:
    name, value = _origin_header(resources)
    assert "Fn::Select" in json.dumps(value), f"{where}: the header value must be per stack, never a literal"
    (rule,) = _cloudfront_only_rules(resources)
    match = rule["Statement"]["NotStatement"]["Statement"]["ByteMatchStatement"]
    assert list(rule["Action"]) == ["Block"], where
    assert match["FieldToMatch"] == {"SingleHeader": {"Name": name}}, where
    assert (match["PositionalConstraint"], match["SearchString"]) == ("EXACTLY", value), where
    (logging,) = _of_type(resources, "AWS::WAFv2::LoggingConfiguration").values()
    assert {"SingleHeader": {"Name": name}} in logging["Properties"]["RedactedFields"], f"{where}: logged secret"


def test_item_10_shield_only_cloudfront_reaches_the_api(
    opt_ins_template: Template, dev: Template, product_template: dict[str, Any]
) -> None:
    _assert_only_cloudfront_passes(opt_ins_template.to_json()["Resources"], "stage with enableShieldProtection")
    _assert_only_cloudfront_passes(_launch(product_template, **{SHIELD.parameter: "true"}), "product, Shield on")
    assert not _cloudfront_only_rules(dev.to_json()["Resources"]), "no CloudFront, no header to require"
    assert not _cloudfront_only_rules(_launch(product_template, **{SHIELD.parameter: "false"}))
