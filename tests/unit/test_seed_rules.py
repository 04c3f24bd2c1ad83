"""One test per rule in the spec's 'Rules learnt from earlier attempts' list, named after the rule."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

import pipeline_app
from product.profiles import ENVIRONMENT_NAMES, PROFILES

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
PYTHON_SOURCES = [
    p
    for p in REPOSITORY_ROOT.rglob("*.py")
    if not any(part in {".venv", "node_modules", "cdk.out", "build"} for part in p.parts)
]


def test_rule_app_entry_point_suffix_from_context_then_env_then_dev(tmp_path: Path) -> None:
    none = tmp_path / "missing"
    assert (
        pipeline_app.read_direct_deploy_target(
            {"environmentSuffix": "ctx"}, {"ENVIRONMENT_SUFFIX": "env"}, none
        ).environment_suffix
        == "ctx"
    )
    assert pipeline_app.read_direct_deploy_target({}, {"ENVIRONMENT_SUFFIX": "env"}, none).environment_suffix == "env"
    assert pipeline_app.read_direct_deploy_target({}, {}, none).environment_suffix == "dev"


def test_rule_app_entry_point_region_from_context_then_env_then_file_then_default(tmp_path: Path) -> None:
    region_file = tmp_path / "AWS_REGION"
    region_file.write_text("eu-west-1\n")
    env = {"CDK_DEFAULT_REGION": "us-west-2"}
    assert pipeline_app.read_direct_deploy_target({"region": "eu-central-1"}, env, region_file).region == "eu-central-1"
    assert pipeline_app.read_direct_deploy_target({}, env, region_file).region == "us-west-2"
    assert pipeline_app.read_direct_deploy_target({}, {}, region_file).region == "eu-west-1"
    assert pipeline_app.read_direct_deploy_target({}, {}, tmp_path / "missing").region == "us-east-1"


def test_rule_app_entry_point_account_from_cdk_default_account(tmp_path: Path) -> None:
    none = tmp_path / "missing"
    assert (
        pipeline_app.read_direct_deploy_target({}, {"CDK_DEFAULT_ACCOUNT": "222222222222"}, none).account
        == "222222222222"
    )
    assert pipeline_app.read_direct_deploy_target({}, {}, none).account is None


def test_rule_app_entry_point_builds_every_stack(all_templates: dict[str, Any]) -> None:
    assert set(all_templates) >= {
        "PaymentPipeline",
        "PaymentPipeline/dev/PaymentStack",
        "PaymentPipeline/staging/PaymentStack",
        "PaymentPipeline/prod/PaymentStack",
        "PaymentStack-dev",
    }


def test_rule_stack_description_names_the_environment(all_templates: dict[str, Any]) -> None:
    for env in ENVIRONMENT_NAMES:
        description = all_templates[f"PaymentPipeline/{env}/PaymentStack"]["Description"]
        assert description == f"Payment Processing Infrastructure Stack ({env})"


def test_rule_cdk_json_has_app_command_watch_settings_and_feature_flags() -> None:
    cdk_json = json.loads((REPOSITORY_ROOT / "cdk.json").read_text())
    assert cdk_json["app"].endswith("pipeline_app.py")
    assert "**" in cdk_json["watch"]["include"] and ".venv" in cdk_json["watch"]["exclude"]
    flags = {k: v for k, v in cdk_json["context"].items() if k.startswith("@aws-cdk")}
    assert len(flags) >= 50
    assert flags["@aws-cdk/aws-iam:minimizePolicies"] is True
    assert flags["@aws-cdk/core:target-partitions"] == ["aws", "aws-cn"]


def test_rule_no_log_group_named_like_the_one_lambda_creates(all_templates: dict[str, Any]) -> None:
    for path, template in all_templates.items():
        t = Template.from_json(template)
        for group in t.find_resources("AWS::Logs::LogGroup").values():
            name = group["Properties"].get("LogGroupName", "")
            assert not (isinstance(name, str) and name.startswith("/aws/lambda/")), (path, name)
            assert group["Properties"]["RetentionInDays"] > 0, path
        for function in t.find_resources("AWS::Lambda::Function").values():  # each handed its own group
            assert "Ref" in function["Properties"]["LoggingConfig"]["LogGroup"], path


def test_rule_alarm_actions_come_from_aws_cloudwatch_actions(stage_templates: dict[str, Template]) -> None:
    source = (REPOSITORY_ROOT / "product" / "constructs" / "cloudwatch.py").read_text()
    assert "aws_cloudwatch_actions" in source and "cw_actions.SnsAction(" in source
    for template in stage_templates.values():
        topics = template.find_resources(
            "AWS::SNS::Topic", {"Properties": {"TopicName": Match.string_like_regexp("operations")}}
        )
        (operations,) = topics
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": operations}]


def test_rule_hand_named_s3_buckets_include_account_and_region(all_templates: dict[str, Any]) -> None:
    for path, template in all_templates.items():
        for bucket in Template.from_json(template).find_resources("AWS::S3::Bucket").values():
            name = json.dumps(bucket["Properties"].get("BucketName", ""))
            if name != '""':
                # Pseudo-parameters, or (catalog asset bucket, named literally for shared accounts) the literal ones.
                literal = re.search(r"-\d{12}-[a-z]{2}(-[a-z]+)+-\d\b", name)
                assert ("AWS::AccountId" in name and "AWS::Region" in name) or literal, (path, name)


def test_rule_no_file_of_1000_lines_and_no_lint_disables_to_hide_one() -> None:
    file_wide_disable = re.compile(r"#\s*(ruff|flake8):\s*noqa\s*$|too-many-lines|PLC0302", re.MULTILINE)
    for path in PYTHON_SOURCES:
        text = path.read_text()
        assert len(text.splitlines()) < 1000, path
        if path != Path(__file__):
            assert not file_wide_disable.search(text), path
    assert "PLC0302" not in (REPOSITORY_ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize(
    "pattern",
    [
        r"memory_size=\d",
        r"timeout=Duration\.seconds\(\d",
        r"threshold=\d",
        r"min_capacity=\d",
        r"max_capacity=\d",
        r"desired_capacity=\d",
        r"stage_name=\"",
        r"limit=\d",
        r"retention_days=\d",
    ],
)
def test_rule_sizes_thresholds_and_stage_names_only_in_the_configuration_table(pattern: str) -> None:
    for path in (REPOSITORY_ROOT / "product" / "constructs").glob("*.py"):
        assert not re.search(pattern, path.read_text()), f"{path.name} hard-codes {pattern}"


def test_rule_configured_values_reach_the_templates(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    profile = PROFILES[env]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"payment-api-{env}",
            "MemorySize": profile.payment_memory_mb,
            "Timeout": profile.payment_timeout_s,
        },
    )
    template.has_resource_properties("AWS::ApiGateway::Stage", {"StageName": profile.api_stage_name})
