"""The Service Catalog product ships what the pipeline tests: launched with a profile, it is that profile's stage.

The product template (from the session synth) is instantiated offline for each profile and compared,
resource by resource, with the stage template built from the same profile.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from aws_cdk.assertions import Template

from product.catalog.assets import asset_bucket_name
from product.catalog.knobs import (
    CONCRETE_KNOBS,
    LAUNCH_REMOVAL,
    column_name,
    launch_profile,
    max_nat_gateways,
    profile_mapping_rows,
)
from product.catalog.parameters import COST_MONITOR, GUARDDUTY, NAME_SUFFIX, OPT_INS, PROFILE, SHIELD
from product.errors import ConfigurationError
from product.profiles import ENVIRONMENT_NAMES, PROFILES
from tests.unit.apps import new_app
from tests.unit.template_instance import Instance, comparable

CATALOG_ACCOUNT, CATALOG_REGION = "111111111111", "us-east-1"
NOT_PHYSICAL_NAMES = {"StageName", "MetricName", "DeploymentConfigName", "PolicyName", "DisplayName"}
NOT_PHYSICAL_NAME_OF = {"AWS::ApiGateway::Model", "AWS::Lambda::Alias"}  # scoped to their API / function


def _launch(product: dict[str, Any], env: str, suffix: str | None = None, **parameters: str) -> Instance:
    return Instance(product, {PROFILE: env, NAME_SUFFIX: suffix or env, **parameters})


def _without_code_bucket(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Lambda code and layers come from the catalog's asset bucket instead of the CDK bootstrap bucket: same key."""
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"].pop("S3Bucket")
        if resource["Type"] == "AWS::Lambda::LayerVersion":
            resource["Properties"]["Content"].pop("S3Bucket")
    return resources


def _without_boundary(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Only the product's roles have the launch role's permissions boundary (test_launch_role_scope covers it)."""
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            resource["Properties"].pop("PermissionsBoundary")
    return resources


def _without_account_settings(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A stage may own the account's API Gateway CloudWatch role (cdk.json); a launch never sets it."""
    owned = {k for k, r in resources.items() if r["Type"] == "AWS::ApiGateway::Account"}
    roles = {resources[k]["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0] for k in owned}
    return {k: r for k, r in resources.items() if k not in owned | roles}


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_launched_with_a_profile_the_product_is_that_profiles_stage(
    env: str, product_template: dict[str, Any], stage_templates: dict[str, Template]
) -> None:
    launched = comparable(_without_boundary(_launch(product_template, env).resources()))
    stage = comparable(_without_account_settings(Instance(stage_templates[env].to_json()).resources()))
    assert Counter(r["Type"] for r in launched.values()) == Counter(r["Type"] for r in stage.values())
    assert set(launched) == set(stage)
    different = [k for k in stage if _without_code_bucket({k: launched[k]}) != _without_code_bucket({k: stage[k]})]
    assert not different, different


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_launched_outputs_are_the_stages_outputs(
    env: str, product_template: dict[str, Any], stage_templates: dict[str, Template]
) -> None:
    launched = _launch(product_template, env).outputs()
    stage = Instance(stage_templates[env].to_json()).outputs()
    assert set(launched) == set(stage)
    assert launched["Environment"] == env


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_knob_values_resolve_to_the_stages_values(
    env: str, product_template: dict[str, Any], stage_templates: dict[str, Template]
) -> None:
    """The per-environment values, spelled out (the full comparison above covers every property)."""
    launched = _launch(product_template, env).resources()
    stage = Instance(stage_templates[env].to_json()).resources()
    knobs = {
        "AWS::Lambda::Function": ("MemorySize", "Timeout"),
        "AWS::AutoScaling::AutoScalingGroup": ("MinSize", "MaxSize", "DesiredCapacity"),
        "AWS::CloudWatch::Alarm": ("Threshold",),
        "AWS::Logs::LogGroup": ("RetentionInDays",),
        "AWS::SQS::Queue": ("VisibilityTimeout", "RedrivePolicy"),
        "AWS::ApiGateway::Stage": ("StageName", "MethodSettings"),
        "AWS::WAFv2::WebACL": ("Rules",),
        "AWS::XRay::SamplingRule": ("SamplingRule",),
        "AWS::DynamoDB::Table": ("DeletionProtectionEnabled",),
        "AWS::CodeDeploy::DeploymentGroup": ("DeploymentConfigName",),
    }
    compared = 0
    for logical_id, resource in stage.items():
        for key in knobs.get(resource["Type"], ()):
            assert launched[logical_id]["Properties"].get(key) == resource["Properties"].get(key), (logical_id, key)
            compared += 1
    assert compared >= 25
    functions = {
        r["Properties"]["FunctionName"]: r["Properties"]
        for r in launched.values()
        if r["Type"] == "AWS::Lambda::Function"
    }
    assert functions[f"payment-api-{env}"]["MemorySize"] == str(PROFILES[env].payment_memory_mb)


def test_product_lambda_code_is_the_tested_asset_in_the_catalog_bucket(
    product_template: dict[str, Any], stage_templates: dict[str, Template]
) -> None:
    def code(template: dict[str, Any]) -> set[tuple[str, str]]:
        return {
            (r["Properties"]["Code"]["S3Bucket"], r["Properties"]["Code"]["S3Key"])
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
        }

    product = code(product_template)
    assert {bucket for bucket, _ in product} == {asset_bucket_name(CATALOG_ACCOUNT, CATALOG_REGION)}
    assert {key for _, key in product} == {key for _, key in code(stage_templates["prod"].to_json())}


def test_mapping_is_generated_from_the_configuration_table(product_template: dict[str, Any]) -> None:
    mapping = product_template["Mappings"]["EnvironmentProfiles"]
    assert mapping == profile_mapping_rows()
    assert set(mapping) == set(ENVIRONMENT_NAMES)
    for env, profile in PROFILES.items():
        assert mapping[env][column_name("payment_memory_mb")] == str(profile.payment_memory_mb)
        assert mapping[env][column_name("fleet.desired")] == str(profile.fleet.desired)
        assert mapping[env][column_name("alarms.api_5xx")] == str(profile.alarms.api_5xx)
        assert mapping[env]["environmentLabel"] == env.upper()


def test_no_knob_value_is_written_into_the_product_outside_the_mapping(product_template: dict[str, Any]) -> None:
    """Memory sizes, capacities and thresholds appear only as Fn::FindInMap, never as literals."""
    resources = product_template["Resources"]
    function = next(r for r in resources.values() if r["Type"] == "AWS::Lambda::Function")
    assert "Fn::FindInMap" in function["Properties"]["MemorySize"]
    group = next(r for r in resources.values() if r["Type"] == "AWS::AutoScaling::AutoScalingGroup")
    assert all("Fn::FindInMap" in group["Properties"][k] for k in ("MinSize", "MaxSize", "DesiredCapacity"))
    for alarm in (r for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"):
        assert "Fn::FindInMap" in alarm["Properties"]["Threshold"]
    for group in (r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"):
        assert "Fn::FindInMap" in group["Properties"]["RetentionInDays"]


def test_knobs_that_cannot_vary_at_launch_must_agree_or_have_a_policy() -> None:
    assert set(CONCRETE_KNOBS) == {"name", "removal", "nat_gateways", "fleet.instance_type"}
    assert max_nat_gateways() == max(p.nat_gateways for p in PROFILES.values())
    assert LAUNCH_REMOVAL == "retain"
    differing = dict(PROFILES)
    differing["prod"] = type(PROFILES["prod"])(
        **{
            **{f: getattr(PROFILES["prod"], f) for f in PROFILES["prod"].__dataclass_fields__},
            "fleet": type(PROFILES["prod"].fleet)(min=2, max=10, desired=3, instance_type="m7i.large"),
        }
    )
    from aws_cdk import CfnMapping, Stack  # noqa: PLC0415

    mapping = CfnMapping(Stack(new_app(), "S"), "M", mapping=profile_mapping_rows(differing))
    with pytest.raises(ConfigurationError, match=r"knob 'fleet.instance_type' differs between profiles"):
        launch_profile(mapping, "dev", differing)


def test_every_parameter_has_a_description_and_a_constraint(product_template: dict[str, Any]) -> None:
    parameters = product_template["Parameters"]
    assert {PROFILE, NAME_SUFFIX, *(o.parameter for o in OPT_INS)} <= set(parameters)
    constraints = {"AllowedValues", "AllowedPattern", "MinLength", "MaxLength", "MinValue", "MaxValue"}
    for name, parameter in parameters.items():
        assert parameter.get("Description", "").strip(), name
        assert constraints & set(parameter), name
    assert parameters[PROFILE]["AllowedValues"] == list(ENVIRONMENT_NAMES)
    assert "Default" not in parameters[NAME_SUFFIX]  # every launch chooses its own


def test_account_singletons_default_off_and_switch_by_conditions(product_template: dict[str, Any]) -> None:
    parameters = product_template["Parameters"]
    for opt_in in OPT_INS:
        assert parameters[opt_in.parameter]["Default"] == "false"
        assert parameters[opt_in.parameter]["AllowedValues"] == ["false", "true"]
    conditioned = {
        r["Type"]: r["Condition"]
        for r in product_template["Resources"].values()
        if "Condition" in r and not r["Condition"].startswith(("NatGateway", "NotificationEmail"))
    }
    assert conditioned == {
        "AWS::GuardDuty::Detector": f"{GUARDDUTY.parameter}On",
        "AWS::Events::Rule": f"{GUARDDUTY.parameter}On",  # findings are routed where the detector is
        "AWS::CloudFront::Distribution": f"{SHIELD.parameter}On",
        "AWS::Shield::Protection": f"{SHIELD.parameter}On",
        "AWS::CE::AnomalyMonitor": f"{COST_MONITOR.parameter}On",
    }
    subscription = next(
        r for r in product_template["Resources"].values() if r["Type"] == "AWS::CE::AnomalySubscription"
    )
    assert next(iter(subscription["Properties"]["MonitorArnList"])) == "Fn::If"
    assert product_template["Outputs"]["EdgeUrl"]["Condition"] == f"{SHIELD.parameter}On"
    off = Counter(r["Type"] for r in _launch(product_template, "dev").resources().values())
    on = Counter(
        r["Type"]
        for r in _launch(product_template, "dev", **{o.parameter: "true" for o in OPT_INS}).resources().values()
    )
    assert on - off == Counter(
        {
            "AWS::GuardDuty::Detector": 1,
            "AWS::Events::Rule": 1,
            "AWS::CloudFront::Distribution": 1,
            "AWS::Shield::Protection": 1,
            "AWS::CE::AnomalyMonitor": 1,
        }
    )


def test_launched_with_every_opt_in_the_product_is_the_opt_in_stack(
    product_template: dict[str, Any], opt_ins_template: Template
) -> None:
    """Same comparison as for the stages, against the dev stack built with every opt-in and an e-mail."""
    opt_ins = {o.parameter: "true" for o in OPT_INS}
    launched = _launch(product_template, "dev", "optins", NotificationEmail="payments-oncall@example.com", **opt_ins)
    expected = comparable(Instance(opt_ins_template.to_json()).resources())
    actual = comparable(_without_boundary(launched.resources()))
    assert set(actual) == set(expected)
    different = [k for k in expected if _without_code_bucket({k: actual[k]}) != _without_code_bucket({k: expected[k]})]
    assert not different, different


def _physical_names(resources: dict[str, dict[str, Any]]) -> set[str]:
    names = set()
    for resource in resources.values():
        if resource["Type"] in NOT_PHYSICAL_NAME_OF:
            continue
        for key, value in resource["Properties"].items():
            if (key == "Name" or key.endswith("Name")) and key not in NOT_PHYSICAL_NAMES and isinstance(value, str):
                names.add(value)
        rule = resource["Properties"].get("SamplingRule", {})
        if isinstance(rule.get("RuleName"), str):
            names.add(rule["RuleName"])
    return names


def test_two_launches_in_one_account_never_collide(product_template: dict[str, Any]) -> None:
    """Every physical name carries the suffix; only the account singletons (opt-ins, off by default) do not."""
    shield = {SHIELD.parameter: "true"}  # per launch: its protection is named after the suffix
    first = _physical_names(_launch(product_template, "prod", "team-a", **shield).resources())
    second = _physical_names(_launch(product_template, "prod", "team-b", **shield).resources())
    assert len(first) >= 20
    assert not first & second
    assert all("team-a" in name for name in first), sorted(n for n in first if "team-a" not in n)
    singletons = {o.parameter: "true" for o in OPT_INS}
    with_singletons = _physical_names(_launch(product_template, "prod", "team-a", **singletons).resources())
    assert {n for n in with_singletons if "team-a" not in n} == {"payment-account-services"}


def test_launched_data_is_retained_because_deletion_policy_cannot_be_a_parameter(
    product_template: dict[str, Any], stage_templates: dict[str, Template]
) -> None:
    for resource_type in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"):
        for resource in product_template["Resources"].values():
            if resource["Type"] == resource_type:
                assert resource["DeletionPolicy"] == "RetainExceptOnCreate", resource_type
    assert PROFILES["staging"].removal == PROFILES["prod"].removal == "retain"


def test_nat_gateways_follow_the_profile(product_template: dict[str, Any]) -> None:
    for env, profile in PROFILES.items():
        resources = _launch(product_template, env).resources().values()
        assert sum(r["Type"] == "AWS::EC2::NatGateway" for r in resources) == profile.nat_gateways, env


def test_product_is_environment_agnostic(product_template: dict[str, Any]) -> None:
    """It launches in any account and region: the only literal account/region is the catalog's asset bucket."""
    text = json.dumps(product_template["Resources"]).replace(asset_bucket_name(CATALOG_ACCOUNT, CATALOG_REGION), "")
    assert CATALOG_ACCOUNT not in text
    assert f'"{CATALOG_REGION}' not in text and f":{CATALOG_REGION}:" not in text
    subnets = [r for r in product_template["Resources"].values() if r["Type"] == "AWS::EC2::Subnet"]
    assert all("Fn::GetAZs" in json.dumps(s["Properties"]["AvailabilityZone"]) for s in subnets)


def test_product_template_does_not_depend_on_who_synthesizes_it(product_template: dict[str, Any]) -> None:
    """No path/asset metadata or CDKMetadata (the CLI adds them, in-process synths do not): snapshots stay stable."""
    for resource in product_template["Resources"].values():
        assert not [k for k in resource.get("Metadata", {}) if k.startswith(("aws:cdk:path", "aws:asset:"))]
    assert "CDKMetadata" not in product_template["Resources"]
