"""The delivery pipeline as synthesized: stage and action order, source and trigger, synth, approval, alerts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from pipeline.pipeline_stack import FAILED_OR_WAITING, PIPELINE_NAME, needs_cross_account_keys
from pipeline.settings import DeliverySettings, PipelineSettings, StageTarget
from pipeline.toolchain import CDK_CLI_VERSION, RUNTIME_VERSIONS
from product.profiles import ENVIRONMENT_NAMES, PROFILES
from tests.unit.pipeline_actions import (
    PipelineAction,
    critical_path,
    pipeline_actions,
    pipeline_properties,
    push_to_prod,
)

PUSH_TO_PROD = [
    "source",
    "synth",
    "self-mutate",
    "assets",
    "dev deploy",
    "dev smoke",
    "staging deploy",
    "staging smoke",
    "prod review",
    "prod approval",
    "prod deploy",
    "prod smoke",
]
WHOLE_RUN = [*PUSH_TO_PROD, "catalog deploy"]  # the catalog is republished from the same commit after prod


@pytest.fixture(scope="module")
def actions(pipeline_template: dict[str, Any]) -> list[PipelineAction]:
    return pipeline_actions(pipeline_template)


@pytest.fixture(scope="module")
def resources(pipeline_template: dict[str, Any]) -> dict[str, Any]:
    return pipeline_template["Resources"]


def _project(resources: dict[str, Any], action: PipelineAction) -> dict[str, Any]:
    return resources[action.configuration["ProjectName"]["Ref"]]["Properties"]


def _buildspec(project: dict[str, Any]) -> str:
    """The buildspec text with CloudFormation references left as `<LogicalId.Attr>` / `<LogicalId>`."""
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, str):
        return spec
    parts = spec["Fn::Join"][1]
    return "".join(
        p if isinstance(p, str) else f"<{'.'.join(p['Fn::GetAtt'])}>" if "Fn::GetAtt" in p else f"<{p['Ref']}>"
        for p in parts
    )


def test_pipeline_is_v2_self_mutating_and_restarts_on_update(pipeline_template: dict[str, Any]) -> None:
    props = pipeline_properties(pipeline_template)
    assert props["PipelineType"] == "V2"
    assert props["Name"] == PIPELINE_NAME
    assert props["RestartExecutionOnUpdate"] is True
    assert [s["Name"] for s in props["Stages"]] == [
        "Source",
        "Build",
        "UpdatePipeline",
        "Assets",
        *ENVIRONMENT_NAMES,
        "catalog",
    ]


def test_stages_and_actions_run_in_promotion_order(actions: list[PipelineAction]) -> None:
    assert [a.label for a in actions] == WHOLE_RUN
    # Inside each environment stage every action has its own RunOrder: nothing runs beside a deploy.
    for env in ENVIRONMENT_NAMES:
        orders = [a.run_order for a in actions if a.stage == env]
        assert orders == list(range(1, len(orders) + 1)), env


def test_push_to_prod_critical_path_is_twelve_actions(pipeline_template: dict[str, Any]) -> None:
    assert [a.label for a in push_to_prod(pipeline_template)] == PUSH_TO_PROD
    assert [a.label for a in critical_path(pipeline_template)] == WHOLE_RUN


def test_exactly_one_asset_publishing_action(actions: list[PipelineAction]) -> None:
    assets = [a for a in actions if a.stage == "Assets"]
    assert len(assets) == 1, [a.name for a in assets]
    assert assets[0].provider == "CodeBuild"


def test_each_stack_deploys_in_one_action_without_change_sets(actions: list[PipelineAction]) -> None:
    deploys = [a for a in actions if a.provider == "CloudFormation"]
    assert [a.stage for a in deploys] == [*ENVIRONMENT_NAMES, "catalog"]
    for deploy in deploys:
        assert deploy.configuration["ActionMode"] == "CREATE_UPDATE"
        stack = "PaymentCatalog" if deploy.stage == "catalog" else "PaymentStack"
        assert deploy.configuration["StackName"] == f"{deploy.stage}-{stack}"
        if deploy.stage != "catalog":
            assert deploy.namespace, "outputs are captured for the smoke step"


def test_approval_precedes_every_prod_deploy(actions: list[PipelineAction]) -> None:
    (approval,) = [a for a in actions if a.kind == "approval"]
    assert approval.stage == "prod"
    prod_deploys = [a for a in actions if a.kind == "deploy" and a.stage == "prod"]
    assert prod_deploys
    assert all(approval.run_order < d.run_order and approval.stage_index == d.stage_index for d in prod_deploys)
    earlier = [d for d in actions if d.kind == "deploy" and d.stage in ("dev", "staging")]
    assert all(d.stage_index < approval.stage_index for d in earlier)


def test_source_is_the_configured_connection_repository_and_branch(
    actions: list[PipelineAction], pipeline_settings: PipelineSettings
) -> None:
    source = actions[0]
    assert (source.category, source.provider) == ("Source", "CodeStarSourceConnection")
    assert source.configuration["ConnectionArn"] == pipeline_settings.connection_arn
    assert source.configuration["FullRepositoryId"] == pipeline_settings.repository
    assert source.configuration["BranchName"] == pipeline_settings.branch


def test_v2_trigger_filters_pushes_on_the_branch(
    pipeline_template: dict[str, Any], actions: list[PipelineAction], pipeline_settings: PipelineSettings
) -> None:
    (trigger,) = pipeline_properties(pipeline_template)["Triggers"]
    assert trigger["ProviderType"] == "CodeStarSourceConnection"
    git = trigger["GitConfiguration"]
    assert git["SourceActionName"] == actions[0].name
    (push,) = git["Push"]
    assert push["Branches"] == {"Includes": [pipeline_settings.branch]}
    assert push["FilePaths"] == {"Excludes": ["docs/**"]}
    assert "PullRequest" not in git


def test_synth_runs_the_check_script_and_publishes_unit_junit(
    actions: list[PipelineAction], resources: dict[str, Any]
) -> None:
    (synth,) = [a for a in actions if a.kind == "synth"]
    project = _project(resources, synth)
    spec = _buildspec(project)
    parsed = json.loads(spec)
    assert parsed["phases"]["build"]["commands"] == ["scripts/check"]
    assert parsed["artifacts"]["base-directory"] == "cdk.out"
    (report_key,) = parsed["reports"]
    assert parsed["reports"][report_key] == {
        "files": ["unit.xml"],
        "base-directory": "reports/junit",
        "file-format": "JUNITXML",
    }
    group_id = report_key.strip("<>").split(".")[0]
    assert resources[group_id]["Type"] == "AWS::CodeBuild::ReportGroup"
    assert resources[group_id]["Properties"]["Type"] == "TEST"
    check = (Path(__file__).resolve().parents[2] / "scripts" / "check").read_text()
    assert "--junitxml=reports/junit/unit.xml" in check  # the file the report group reads


def test_build_steps_pin_runtimes_and_self_mutation_pins_the_cli(
    actions: list[PipelineAction], resources: dict[str, Any], assembly_dir: Path
) -> None:
    for action in actions:
        if action.provider == "CodeBuild":
            spec = _buildspec(_project(resources, action))
            # CDK Pipelines ships long buildspecs (asset publishing) as a file in the cloud assembly.
            parsed = json.loads((assembly_dir / spec).read_text() if spec.startswith("buildspec-") else spec)
            # Node.js 22: 20 left support in April 2026 (issue 11, item 13); Python as the synth tests run it.
            assert parsed["phases"]["install"]["runtime-versions"] == RUNTIME_VERSIONS, action
            assert RUNTIME_VERSIONS == {"python": "3.12", "nodejs": "22"}
    (mutate,) = [a for a in actions if a.kind == "self-mutate"]
    spec = _buildspec(_project(resources, mutate))
    package = json.loads((Path(__file__).resolve().parents[2] / "package.json").read_text())
    assert package["devDependencies"]["aws-cdk"] == CDK_CLI_VERSION
    assert f"npm install -g aws-cdk@{CDK_CLI_VERSION}" in spec
    assert "deploy PaymentPipeline" in spec


def test_approval_names_the_commit_and_links_the_staging_smoke_report(
    actions: list[PipelineAction], resources: dict[str, Any], pipeline_settings: PipelineSettings
) -> None:
    (approval,) = [a for a in actions if a.kind == "approval"]
    source_namespace = actions[0].namespace
    (staging_smoke,) = [a for a in actions if a.label == "staging smoke"]
    report_url = f"#{{{staging_smoke.namespace}.SMOKE_REPORT_URL}}"
    custom = approval.configuration["CustomData"]
    assert f"#{{{source_namespace}.CommitId}}" in custom
    assert report_url in custom
    assert pipeline_settings.repository in custom
    # The approval's link button opens the prod change review (test_change_review_step.py); the comment
    # links the staging smoke report beside it.
    assert approval.configuration["ExternalEntityLink"] != report_url
    assert len(custom) <= 500  # CodePipeline's limit on an approval's comment
    topic_id = approval.configuration["NotificationArn"]["Ref"]
    topic = resources[topic_id]["Properties"]
    assert "KmsMasterKeyId" in topic
    emails = sorted(
        r["Properties"]["Endpoint"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription" and r["Properties"]["TopicArn"] == {"Ref": topic_id}
    )
    assert emails == sorted(pipeline_settings.approver_emails)


def test_topics_are_kms_encrypted_and_tls_only(pipeline_template: dict[str, Any]) -> None:
    template = Template.from_json(pipeline_template)
    topics = template.find_resources("AWS::SNS::Topic")
    assert len(topics) == 2
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [_key_id(pipeline_template), "Arn"]}
    for policy in template.find_resources("AWS::SNS::TopicPolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements
        )


def _key_id(pipeline_template: dict[str, Any]) -> str:
    (key_id,) = Template.from_json(pipeline_template).find_resources("AWS::KMS::Key")
    return key_id


def test_notification_rule_sends_failures_and_pending_approvals(pipeline_template: dict[str, Any]) -> None:
    template = Template.from_json(pipeline_template)
    (rule,) = template.find_resources("AWS::CodeStarNotifications::NotificationRule").values()
    props = rule["Properties"]
    assert sorted(props["EventTypeIds"]) == sorted(FAILED_OR_WAITING)
    (pipeline_id,) = template.find_resources("AWS::CodePipeline::Pipeline")
    assert pipeline_id in json.dumps(props["Resource"])
    (target,) = props["Targets"]
    assert target["TargetType"] == "SNS"
    topic = pipeline_template["Resources"][target["TargetAddress"]["Ref"]]
    assert topic["Properties"]["KmsMasterKeyId"]
    key_policy = json.dumps(pipeline_template["Resources"][_key_id(pipeline_template)]["Properties"]["KeyPolicy"])
    assert "codestar-notifications.amazonaws.com" in key_policy and "kms:ViaService" in key_policy


def test_artifact_bucket_is_kms_encrypted_versioned_and_logged(pipeline_template: dict[str, Any]) -> None:
    store = pipeline_properties(pipeline_template)["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": [_key_id(pipeline_template), "Arn"]}, "Type": "KMS"}
    bucket = pipeline_template["Resources"][store["Location"]["Ref"]]["Properties"]
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert "DestinationBucketName" in bucket["LoggingConfiguration"]
    key = pipeline_template["Resources"][_key_id(pipeline_template)]["Properties"]
    assert key["EnableKeyRotation"] is True


def test_every_environment_stack_deploys_with_that_environments_knobs(
    actions: list[PipelineAction], assembly_dir: Path
) -> None:
    for deploy in (a for a in actions if a.kind == "deploy" and a.stage in ENVIRONMENT_NAMES):
        env = deploy.stage
        artifact, path = deploy.configuration["TemplatePath"].split("::")
        assert artifact.endswith("Synth_Output"), artifact
        assert path.startswith(f"assembly-PaymentPipeline-{env}/")
        template = Template.from_json(json.loads((assembly_dir / path).read_text()))
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
        template.has_resource_properties(
            "AWS::CodeDeploy::DeploymentGroup", {"DeploymentConfigName": profile.release.deployment_config}
        )
        template.has_resource_properties("AWS::AutoScaling::AutoScalingGroup", {"MaxSize": str(profile.fleet.max)})


def test_cross_account_keys_only_when_a_stage_leaves_the_tooling_account(delivery_settings: DeliverySettings) -> None:
    assert not needs_cross_account_keys(delivery_settings)
    elsewhere = tuple(
        StageTarget(s.environment, "222222222222" if s.environment == "prod" else s.account, s.region)
        for s in delivery_settings.stages
    )
    assert needs_cross_account_keys(
        DeliverySettings(
            tooling_account=delivery_settings.tooling_account,
            tooling_region=delivery_settings.tooling_region,
            stages=elsewhere,
            availability_zones=delivery_settings.availability_zones,
        )
    )


def test_pipeline_acknowledgments_are_each_used_and_cover_only_their_construct(assembly_dir: Path) -> None:
    """Read back from the session synth: the acknowledgments the pipeline stack recorded (assembly metadata)
    and the findings they suppressed (validation report)."""
    metadata = json.loads((assembly_dir / "PaymentPipeline.metadata.json").read_text())
    acknowledged = {
        (path.lstrip("/"), rule_id)
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule_id in entry["data"]
    }
    assert acknowledged
    report = json.loads((assembly_dir / "validation-report.json").read_text())
    suppressed = [
        v
        for plugin in report["pluginReports"]
        for v in plugin["suppressedViolations"]
        if v["acknowledgedAt"].startswith("PaymentPipeline/")
    ]
    used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in suppressed}
    assert acknowledged - used == set(), "acknowledgments that suppress nothing"
    for violation in suppressed:
        for construct in violation["violatingConstructs"]:
            path = construct["constructPath"]
            assert path == violation["acknowledgedAt"] or path.startswith(violation["acknowledgedAt"] + "/"), (
                violation["acknowledgedId"],
                violation["acknowledgedAt"],
                path,
            )
    stage_roots = {f"PaymentPipeline/{env}" for env in ENVIRONMENT_NAMES}
    assert not {path for path, _ in acknowledged} & {"PaymentPipeline", *stage_roots}
