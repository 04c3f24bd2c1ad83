"""Safe release: the payment API function behind alias `live`, shifted by CodeDeploy per environment."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from aws_cdk.assertions import Template

from product.errors import ConfigurationError
from product.profiles import ALL_AT_ONCE, PROFILES, ReleasePolicy


def _one(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, (resource_type, list(found))
    return next(iter(found.items()))


def _alias_id(template: Template) -> str:
    alias_id, alias = _one(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"
    return alias_id


def test_alias_points_at_the_current_version_of_the_payment_function(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    _, alias = _one(template, "AWS::Lambda::Alias")
    (function_id,) = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"FunctionName": f"payment-api-{env}"}}
    )
    assert alias["Properties"]["FunctionName"] == {"Ref": function_id}
    version_id = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert template.to_json()["Resources"][version_id]["Properties"]["FunctionName"] == {"Ref": function_id}


def test_api_gateway_invokes_the_alias_not_the_function(env_template: tuple[str, Template]) -> None:
    _, template = env_template
    alias_ref = {"Ref": _alias_id(template)}
    methods = template.find_resources("AWS::ApiGateway::Method")
    assert len(methods) == 2
    for method in methods.values():
        assert alias_ref in method["Properties"]["Integration"]["Uri"]["Fn::Join"][1]
    permissions = template.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
    )
    assert permissions and all(p["Properties"]["FunctionName"] == alias_ref for p in permissions.values())


def test_deployment_group_uses_the_environments_configuration_and_rolls_back(
    env_template: tuple[str, Template],
) -> None:
    env, template = env_template
    release = PROFILES[env].release
    _, group = _one(template, "AWS::CodeDeploy::DeploymentGroup")
    props = group["Properties"]
    assert props["DeploymentGroupName"] == f"payment-api-{env}"
    assert props["DeploymentConfigName"] == release.deployment_config
    assert props["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    alarms = template.to_json()["Resources"]
    names = sorted(alarms[a["Name"]["Ref"]]["Properties"]["AlarmName"] for a in props["AlarmConfiguration"]["Alarms"])
    assert names == [f"payment-{env}-release-errors", f"payment-{env}-release-latency"]
    assert props["AlarmConfiguration"]["Enabled"] is True


def test_dev_shifts_all_at_once_staging_and_prod_by_canary(stage_templates: dict[str, Template]) -> None:
    configs = {
        env: _one(t, "AWS::CodeDeploy::DeploymentGroup")[1]["Properties"]["DeploymentConfigName"]
        for env, t in stage_templates.items()
    }
    assert configs == {
        "dev": "CodeDeployDefault.LambdaAllAtOnce",
        "staging": "CodeDeployDefault.LambdaCanary10Percent5Minutes",
        "prod": "CodeDeployDefault.LambdaCanary10Percent10Minutes",
    }


def test_cloudformation_hands_alias_updates_to_codedeploy(env_template: tuple[str, Template]) -> None:
    _, template = env_template
    _, alias = _one(template, "AWS::Lambda::Alias")
    group_id, _ = _one(template, "AWS::CodeDeploy::DeploymentGroup")
    application_id, application = _one(template, "AWS::CodeDeploy::Application")
    assert alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"] == {
        "ApplicationName": {"Ref": application_id},
        "DeploymentGroupName": {"Ref": group_id},
    }
    assert application["Properties"]["ComputePlatform"] == "Lambda"


def test_rollback_alarms_watch_the_alias_with_the_environments_thresholds(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    release = PROFILES[env].release
    resources = template.to_json()["Resources"]
    by_name = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    errors, latency = by_name[f"payment-{env}-release-errors"], by_name[f"payment-{env}-release-latency"]
    assert (errors["MetricName"], errors["Statistic"], errors["Period"]) == ("Errors", "Sum", 60)
    assert errors["Threshold"] == release.rollback_errors
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Period"]) == ("Duration", "p99", 60)
    assert latency["Threshold"] == release.rollback_latency_p99_ms
    for alarm in (errors, latency):
        resource = next(d["Value"] for d in alarm["Dimensions"] if d["Name"] == "Resource")
        assert resource["Fn::Join"][1][1] == ":live"  # the alias's metrics, not the whole function's


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deployment_config": "CodeDeployDefault.AllAtOnce"}, "is not a CodeDeploy Lambda configuration"),
        ({"rollback_errors": 0}, r"release\.rollback_errors=0 must be a positive number"),
        ({"rollback_latency_p99_ms": -1}, r"release\.rollback_latency_p99_ms=-1 must be a positive number"),
    ],
)
def test_release_policy_rejects(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        replace(PROFILES["staging"].release, **change)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_staging_and_prod_must_shift_gradually(env: str) -> None:
    with pytest.raises(ConfigurationError, match="must shift traffic gradually"):
        replace(PROFILES[env], release=replace(PROFILES[env].release, deployment_config=ALL_AT_ONCE))


def test_latency_threshold_must_be_below_the_function_timeout() -> None:
    dev = PROFILES["dev"]
    with pytest.raises(ConfigurationError, match=r"rollback_latency_p99_ms=30000 must be below .* \(30000 ms\)"):
        replace(dev, release=ReleasePolicy(ALL_AT_ONCE, rollback_errors=1, rollback_latency_p99_ms=30_000))
