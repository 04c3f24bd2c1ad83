"""Issue 11 item 7: the name suffix: every physical name fits in every region, and a launch cannot take a stage's name.

The physical names come from the synthesized product template (every `...Name` property that embeds the
`NameSuffix` parameter, at any depth), their limits from the resource schemas cfn-lint ships, tightened where
the service's own limit is stricter than the schema (which often also accepts an ARN in the name property).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from product.catalog import launch
from product.catalog.parameters import NAME_SUFFIX, OPT_INS, PROFILE
from product.errors import ConfigurationError
from product.name_suffix import (
    CATALOG_NAME_SUFFIX_PATTERN,
    NAME_SUFFIX_MAX_LENGTH,
    NAME_SUFFIX_PATTERN,
    STAGE_NAMES,
    suffix_problem,
)
from product.options import DeploymentOptions
from product.profiles import ENVIRONMENT_NAMES
from tests.unit.template_instance import Instance

LONGEST_ACCOUNT = "123456789012"  # account ids are always 12 digits
# Service limits stricter than (or missing from) the CloudFormation resource schema, with their source.
SERVICE_LIMITS = {
    ("AWS::Lambda::Function", "FunctionName"): 64,  # Lambda API CreateFunction: name up to 64 (the schema allows ARNs)
    ("AWS::SQS::Queue", "QueueName"): 80,  # SQS CreateQueue: up to 80 characters
    ("AWS::DynamoDB::Table", "TableName"): 255,  # DynamoDB naming rules: 3-255 (the schema allows ARNs: 1024)
    ("AWS::WAFv2::WebACL", "Name"): 128,  # WAFv2 CreateWebACL: 1-128 (the schema says it only in its pattern)
    ("AWS::EC2::LaunchTemplate", "LaunchTemplateName"): 128,  # EC2 CreateLaunchTemplate: 3-128
    ("AWS::CloudWatch::Dashboard", "DashboardName"): 255,  # CloudWatch PutDashboard: up to 255
    ("AWS::ApiGateway::RestApi", "Name"): 1024,  # API Gateway documents no name limit: the console's 1,024
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::S3::Bucket", "BucketName"): 63,
}


@dataclass(frozen=True)
class NamedProperty:
    logical_id: str
    resource_type: str
    path: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.resource_type} {'.'.join(self.path)}"


def _embeds_suffix(value: Any) -> bool:
    if isinstance(value, dict):
        return value == {"Ref": NAME_SUFFIX} or any(_embeds_suffix(v) for v in value.values())
    if isinstance(value, list):
        return any(_embeds_suffix(v) for v in value)
    return False


def _named(properties: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in properties.items():
        if key.endswith("Name") and _embeds_suffix(value):
            yield (*path, key)
        elif isinstance(value, dict) and not {"Fn::Join", "Fn::Sub", "Fn::If"} & set(value):
            yield from _named(value, (*path, key))


def named_properties(template: dict[str, Any]) -> list[NamedProperty]:
    return [
        NamedProperty(logical_id, resource["Type"], path)
        for logical_id, resource in template["Resources"].items()
        for path in _named(resource.get("Properties", {}))
    ]


def _schema_property(resource_type: str, path: tuple[str, ...]) -> dict[str, Any]:
    # imported here: cfn-lint's schemas take 0.4 s to import, and every test worker collects this module
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region="us-east-1", resource_type=resource_type).schema

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    node: dict[str, Any] = schema
    for part in path:
        node = deref(deref(node)["properties"][part])
    return node


def limit_of(named: NamedProperty) -> int:
    schema_limit = _schema_property(named.resource_type, named.path).get("maxLength")
    service_limit = SERVICE_LIMITS.get((named.resource_type, ".".join(named.path)))
    limits = [limit for limit in (schema_limit, service_limit) if limit is not None]
    assert limits, f"{named.label}: no length limit known; add the service's limit to SERVICE_LIMITS"
    return min(limits)


def _value(instance: Instance, named: NamedProperty) -> str:
    value: Any = instance.resolve(instance.template["Resources"][named.logical_id]["Properties"])
    for part in named.path:
        value = value[part]
    assert isinstance(value, str), (named.label, value)
    return value


def _launch(product: dict[str, Any], suffix: str, region: str, zones: list[str]) -> Instance:
    opt_ins = {o.parameter: "true" for o in OPT_INS}  # every opt-in on: their resources are named too
    parameters = {PROFILE: "prod", NAME_SUFFIX: suffix, **opt_ins}
    return Instance(product, parameters, account=LONGEST_ACCOUNT, region=region, availability_zones=tuple(zones))


def _overflows(product: dict[str, Any], regions: dict[str, list[str]], length: int) -> list[str]:
    suffix = "a" * length
    found = []
    for region, zones in regions.items():
        instance = _launch(product, suffix, region, zones)
        for named in named_properties(product):
            value, limit = _value(instance, named), limit_of(named)
            if len(value) > limit:
                found.append(f"{named.label} {value!r} ({len(value)} > {limit}) in {region}")
    return found


def test_item_07_every_physical_name_fits_in_every_region(
    product_template: dict[str, Any], cdk_context: dict[str, Any]
) -> None:
    """The longest suffix the launch parameter allows fits every named property in every configured region."""
    regions: dict[str, list[str]] = cdk_context["availabilityZones"]
    named = named_properties(product_template)
    assert len(named) >= 30, [n.label for n in named]
    assert {n.resource_type for n in named} >= {"AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::SQS::Queue"}
    pattern = product_template["Parameters"][NAME_SUFFIX]["AllowedPattern"]
    longest = max(n for n in range(1, 80) if re.fullmatch(pattern, "a" * n))
    assert _overflows(product_template, regions, longest) == []
    # The cap is the bound, not a guess: one character more would overflow (and the pattern rejects it).
    assert _overflows(product_template, regions, longest + 1)
    assert not re.fullmatch(pattern, "a" * (longest + 1))
    assert longest == NAME_SUFFIX_MAX_LENGTH


def test_suffix_characters_are_legal_in_every_name(
    product_template: dict[str, Any], cdk_context: dict[str, Any]
) -> None:
    """Suffix characters (lower-case, digits, '-') are legal in every name the suffix enters."""
    suffix = "a-1" + "b" * (NAME_SUFFIX_MAX_LENGTH - 3)
    for region, zones in cdk_context["availabilityZones"].items():
        instance = _launch(product_template, suffix, region, zones)
        for named in named_properties(product_template):
            schema_pattern = _schema_property(named.resource_type, named.path).get("pattern")
            if schema_pattern:
                assert re.search(schema_pattern, _value(instance, named)), (named.label, schema_pattern)


def test_item_07_launch_parameter_rejects_the_stage_names(product_template: dict[str, Any]) -> None:
    parameter = product_template["Parameters"][NAME_SUFFIX]
    pattern = parameter["AllowedPattern"]
    assert pattern == CATALOG_NAME_SUFFIX_PATTERN
    assert STAGE_NAMES == ENVIRONMENT_NAMES
    for stage in STAGE_NAMES:
        assert not re.fullmatch(pattern, stage), stage
        assert stage in parameter["ConstraintDescription"]
    for fine in ("team-a", "team-a-dev", "prod2", "devs", "staging-b", "x1"):
        assert re.fullmatch(pattern, fine), fine
    for bad in ("Dev", "x", "1abc", "team_a", "a" * (NAME_SUFFIX_MAX_LENGTH + 1)):
        assert not re.fullmatch(pattern, bad), bad


@pytest.mark.parametrize("stage", STAGE_NAMES)
def test_item_07_launch_cli_rejects_a_stage_name_before_calling_aws(
    stage: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_aws(_region: str | None) -> tuple[Any, Any]:
        raise AssertionError("the launch helper reached AWS with a stage's name as suffix")

    monkeypatch.setattr(launch, "clients", no_aws)
    with pytest.raises(SystemExit) as error:
        launch.main(["launch", "--version", "v1", "--profile", "dev", "--suffix", stage])
    assert error.value.code == 2
    assert f"name suffix {stage!r} is the name of a pipeline stage" in capsys.readouterr().err
    # The same check holds when the suffix comes in as a raw --parameter.
    err = io.StringIO()
    argv = ["launch", "--version", "v1", "--profile", "dev", "--suffix", "team-a", "--parameter", f"NameSuffix={stage}"]
    assert launch.main(argv, out=io.StringIO(), err=err) == launch.EXIT_INPUT
    assert "is the name of a pipeline stage" in err.getvalue()


def test_item_07_direct_stack_takes_stage_names_but_not_overlong_suffixes() -> None:
    """`PaymentStack-<suffix>` and the stages are named after environments; the length cap applies to all."""
    zones = ("us-east-1a", "us-east-1b")
    for stage in STAGE_NAMES:
        assert DeploymentOptions(name_suffix=stage, availability_zones=zones).name_suffix == stage
        assert suffix_problem(stage, catalog_launch=False) is None
    longest = "a" * NAME_SUFFIX_MAX_LENGTH
    assert DeploymentOptions(name_suffix=longest, availability_zones=zones).name_suffix == longest
    with pytest.raises(ConfigurationError, match=re.escape(f"must match {NAME_SUFFIX_PATTERN}")):
        DeploymentOptions(name_suffix=longest + "a", availability_zones=zones)
