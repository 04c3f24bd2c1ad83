"""The smoke step after each stage: command, inputs, reports, artifact and a least-privilege role."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline.smoke import ACTION_CONFIGURATION_LIMIT, SMOKE_VENV
from product.contract import SMOKE_OUTPUTS, env_var_name
from product.profiles import ENVIRONMENT_NAMES, PROFILES
from tests.unit.pipeline_actions import PipelineAction, pipeline_actions

TEST_ACCOUNT = "111111111111"  # cdk.json's example tooling and stage account
# The only statements on `Resource: "*"`, read-only calls that support no resource-level permission: the
# describes, and the cost-allocation tag status the suite reports (issue 11, item 12).
WITHOUT_RESOURCE_LEVEL_PERMISSIONS = {
    "DescribeWithoutResourceLevelPermissions": ("Describe",),
    "ReadCostAllocationTagStatus": ("List",),
}
REGION = "us-east-1"


@pytest.fixture(scope="module")
def actions(pipeline_template: dict[str, Any]) -> list[PipelineAction]:
    return pipeline_actions(pipeline_template)


def _smoke(actions: list[PipelineAction], env: str) -> PipelineAction:
    (smoke,) = [a for a in actions if a.label == f"{env} smoke"]
    return smoke


def _project(pipeline_template: dict[str, Any], action: PipelineAction) -> tuple[str, dict[str, Any]]:
    project_id = action.configuration["ProjectName"]["Ref"]
    return project_id, pipeline_template["Resources"][project_id]["Properties"]


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    parts = project["Source"]["BuildSpec"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else f"<{'.'.join(p['Fn::GetAtt'])}>" for p in parts))


def _statements(pipeline_template: dict[str, Any], project: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role_id = project["ServiceRole"]["Fn::GetAtt"][0]
    policies = [
        r
        for r in pipeline_template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    return {s["Sid"]: s for s in statements if "Sid" in s}


def _resolve(value: Any) -> Any:
    """Template values with the pipeline stack's pseudo parameters filled in (account, region, partition)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_resolve(v) for v in value["Fn::Join"][1])
    if isinstance(value, dict) and value.get("Ref") in ("AWS::Partition", "AWS::AccountId", "AWS::Region"):
        return {"AWS::Partition": "aws", "AWS::AccountId": TEST_ACCOUNT, "AWS::Region": REGION}[value["Ref"]]
    if isinstance(value, list):
        return [_resolve(v) for v in value]
    return value


def _resources(statement: dict[str, Any]) -> list[str]:
    resources = _resolve(statement["Resource"])
    return resources if isinstance(resources, list) else [resources]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_smoke_runs_the_suite_entry_command_from_the_source(
    env: str, actions: list[PipelineAction], pipeline_template: dict[str, Any]
) -> None:
    smoke = _smoke(actions, env)
    assert smoke.provider == "CodeBuild"
    _, project = _project(pipeline_template, smoke)
    commands = _buildspec(project)["phases"]["build"]["commands"]
    # The suite's own interpreter, which the install phase fills from requirements-smoke.txt (a CodeBuild
    # checkout has no .venv and the image no pytest: issue 11, item 1).
    assert commands[-1] == f"{SMOKE_VENV}/bin/python scripts/smoke --stage {env}"
    static = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert static["STAGE"] == env and static["STACK_NAME"] == f"{env}-PaymentStack"
    assert static["STAGE_REGION"] == REGION and static["STAGE_ACCOUNT"] == TEST_ACCOUNT
    (source,) = [a for a in actions if a.kind == "source"]
    # The suite comes from the source checkout: the same commit the stage was deployed from.
    assert (
        _raw_action(pipeline_template, smoke)["InputArtifacts"]
        == _raw_action(pipeline_template, source)["OutputArtifacts"]
    )


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_smoke_gets_stack_outputs_within_codepipelines_limit(env: str, actions: list[PipelineAction]) -> None:
    smoke = _smoke(actions, env)
    (deploy,) = [a for a in actions if a.label == f"{env} deploy"]
    raw = smoke.configuration["EnvironmentVariables"]
    assert isinstance(raw, str) and len(raw) <= ACTION_CONFIGURATION_LIMIT, len(raw)
    variables = {v["name"]: v["value"] for v in json.loads(raw)}
    assert variables == {env_var_name(o): f"#{{{deploy.namespace}.{o}}}" for o in SMOKE_OUTPUTS}


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_smoke_publishes_junit_to_its_own_report_group_and_keeps_the_report(
    env: str, actions: list[PipelineAction], pipeline_template: dict[str, Any]
) -> None:
    smoke = _smoke(actions, env)
    project_id, project = _project(pipeline_template, smoke)
    spec = _buildspec(project)
    (report_key,) = spec["reports"]
    group_id = report_key.strip("<>").split(".")[0]
    group = pipeline_template["Resources"][group_id]
    assert group["Type"] == "AWS::CodeBuild::ReportGroup" and group["Properties"]["Type"] == "TEST"
    assert spec["reports"][report_key] == {
        "files": ["junit.xml"],
        "base-directory": f"reports/smoke/{env}",
        "file-format": "JUNITXML",
    }
    assert spec["artifacts"] == {"base-directory": f"reports/smoke/{env}", "files": ["**/*"]}
    assert len(_raw_action(pipeline_template, smoke)["OutputArtifacts"]) == 1  # report.html + junit.xml
    statements = [
        s
        for p in pipeline_template["Resources"].values()
        if p["Type"] == "AWS::IAM::Policy"
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Resource"] == {"Fn::GetAtt": [group_id, "Arn"]} and "codebuild:BatchPutTestCases" in s["Action"]
        for s in statements
    )
    assert project["EncryptionKey"], project_id


def _raw_action(pipeline_template: dict[str, Any], action: PipelineAction) -> dict[str, Any]:
    pipeline = next(r for r in pipeline_template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    stage = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == action.stage)
    return next(a for a in stage["Actions"] if a["Name"] == action.name)


def test_every_smoke_report_group_is_distinct(actions: list[PipelineAction], pipeline_template: dict[str, Any]) -> None:
    groups = {
        next(iter(_buildspec(_project(pipeline_template, _smoke(actions, env))[1])["reports"]))
        for env in ENVIRONMENT_NAMES
    }
    assert len(groups) == len(ENVIRONMENT_NAMES)


def test_staging_smoke_exports_the_report_url_for_the_approval(
    actions: list[PipelineAction], pipeline_template: dict[str, Any]
) -> None:
    spec = _buildspec(_project(pipeline_template, _smoke(actions, "staging"))[1])
    assert spec["env"]["exported-variables"] == ["SMOKE_REPORT_URL"]
    assert spec["env"]["shell"] == "bash"
    assert any("export SMOKE_REPORT_URL=" in c for c in spec["phases"]["build"]["commands"])


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_smoke_role_is_scoped_to_its_stage(
    env: str, actions: list[PipelineAction], pipeline_template: dict[str, Any], all_templates: dict[str, Any]
) -> None:
    """Every resource the smoke role names exists in that stage's template, and nothing of another stage."""
    _, project = _project(pipeline_template, _smoke(actions, env))
    statements = _statements(pipeline_template, project)
    stage = Template.from_json(all_templates[f"PaymentPipeline/{env}/PaymentStack"])

    def names(resource_type: str, prop: str) -> set[str]:
        return {
            _resolve(r["Properties"][prop])
            for r in stage.find_resources(resource_type).values()
            if prop in r["Properties"]
        }

    arn = f"arn:aws:{{}}:{REGION}:{TEST_ACCOUNT}:{{}}"
    tables = {arn.format("dynamodb", f"table/{n}") for n in names("AWS::DynamoDB::Table", "TableName")}
    assert set(_resources(statements["ReadTheTables"])) == tables
    assert set(_resources(statements["DeleteSmokeItems"])) == tables
    assert statements["DeleteSmokeItems"]["Action"] == "dynamodb:DeleteItem"
    functions = {arn.format("lambda", f"function:{n}") for n in names("AWS::Lambda::Function", "FunctionName")}
    assert set(_resources(statements["DescribeTheFunctions"])) == functions | {f"{f}:*" for f in functions}
    (audit,) = [n for n in names("AWS::S3::Bucket", "BucketName") if n.startswith("payment-audit-logs-")]
    assert _resources(statements["ReadTheAuditBucket"]) == [f"arn:aws:s3:::{audit}"]
    # The suite checks versioning, encryption, public access and the TLS-only policy of both buckets.
    buckets = {f"arn:aws:s3:::{n}" for n in names("AWS::S3::Bucket", "BucketName")}
    assert set(_resources(statements["ReadTheBucketSettings"])) == buckets
    actions = [
        a for st in statements.values() for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    ]
    s3_writes = [a for a in actions if a.startswith("s3:") and not a.startswith(("s3:Get", "s3:List"))]
    assert s3_writes == [], "the smoke role never writes or deletes audit objects"
    topics_and_queues = _resources(statements["DescribeTopicsAndQueues"])
    for topic in names("AWS::SNS::Topic", "TopicName"):
        assert any(fnmatch.fnmatchcase(arn.format("sns", topic), pattern) for pattern in topics_and_queues), topic
    queues = {arn.format("sqs", n) for n in names("AWS::SQS::Queue", "QueueName")}
    assert queues <= set(topics_and_queues)
    (acl,) = names("AWS::WAFv2::WebACL", "Name")
    assert arn.format("wafv2", f"regional/webacl/{acl}/*") in _resources(statements["DescribeTheFirewall"])
    (bus,) = names("AWS::Events::EventBus", "Name")
    assert _resources(statements["DescribeTheEventBus"]) == [arn.format("events", f"event-bus/{bus}")]
    watched = _resources(statements["DescribeAlarmsAndDashboard"])
    for alarm in names("AWS::CloudWatch::Alarm", "AlarmName"):
        assert any(fnmatch.fnmatchcase(arn.format("cloudwatch", f"alarm:{alarm}"), p) for p in watched), alarm
    (dashboard,) = names("AWS::CloudWatch::Dashboard", "DashboardName")
    assert f"arn:aws:cloudwatch::{TEST_ACCOUNT}:dashboard/{dashboard}" in watched
    (alias,) = names("AWS::KMS::Alias", "AliasName")
    assert statements["DescribeTheStageKey"]["Condition"] == {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}
    }
    stage_name = PROFILES[env].api_stage_name
    assert _resources(statements["CallTheApiStageWithSigV4"]) == [arn.format("execute-api", f"*/{stage_name}/*")]
    assert statements["CallTheApiStageWithSigV4"]["Action"] == "execute-api:Invoke"
    others = [e for e in ENVIRONMENT_NAMES if e != env]
    text = json.dumps(statements)
    assert not any(f"-{other}" in text or f"/{other}/" in text for other in others)


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_smoke_role_has_no_wildcard_actions_and_no_admin(
    env: str, actions: list[PipelineAction], pipeline_template: dict[str, Any]
) -> None:
    _, project = _project(pipeline_template, _smoke(actions, env))
    for statement in _statements(pipeline_template, project).values():
        actions_ = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions_), statement
        if statement["Sid"] in WITHOUT_RESOURCE_LEVEL_PERMISSIONS:
            verbs = WITHOUT_RESOURCE_LEVEL_PERMISSIONS[statement["Sid"]]
            assert all(a.split(":")[1].startswith(verbs) for a in actions_), statement
        else:
            assert not any(r == "*" for r in _resources(statement)), statement
        kms_or_writes = {"kms:Decrypt", "kms:DescribeKey", "dynamodb:PutItem", "s3:PutObject", "s3:DeleteObject"}
        if kms_or_writes & set(actions_):
            assert "Condition" in statement, statement


def test_smoke_script_contract_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "scripts/smoke --stage" in readme
