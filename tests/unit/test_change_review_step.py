"""The prod change review as synthesized: before the approval, read-only, and what the approval shows of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.change_review import (
    ACKNOWLEDGMENTS_FILE,
    CACHE_KEY,
    INSTALL_COMMAND,
    REVIEW_COMMAND,
    REVIEW_URL_VARIABLE,
    SUMMARY_VARIABLE,
)
from pipeline.pipeline_stack import approval_comment
from tests.unit.pipeline_actions import PipelineAction, pipeline_actions

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
# Longest realistic values: a full commit id, a 255-character summary cap is far above what summarize() writes.
LONGEST_BUILD_URL = (
    "https://ap-southeast-3.console.aws.amazon.com/codesuite/codebuild/111111111111/projects/"
    + "P" * 60
    + "/build/"
    + "P" * 60
    + "%3A01234567-89ab-cdef-0123-456789abcdef/reports?region=ap-southeast-3"
)
ACTION_CONFIGURATION_LIMIT = 1000  # CodePipeline's ActionConfigurationValue maximum length


@pytest.fixture(scope="module")
def prod_actions(pipeline_template: dict[str, Any]) -> list[PipelineAction]:
    return [a for a in pipeline_actions(pipeline_template) if a.stage == "prod"]


@pytest.fixture(scope="module")
def review(prod_actions: list[PipelineAction]) -> PipelineAction:
    (action,) = [a for a in prod_actions if a.kind == "review"]
    return action


def _project(template: dict[str, Any], action: PipelineAction) -> dict[str, Any]:
    return template["Resources"][action.configuration["ProjectName"]["Ref"]]["Properties"]


def test_review_runs_in_prod_before_the_approval_and_the_deploy(prod_actions: list[PipelineAction]) -> None:
    assert [a.kind for a in prod_actions] == ["review", "approval", "deploy", "smoke"]
    assert [a.run_order for a in prod_actions] == [1, 2, 3, 4]


def test_review_reads_the_synthesized_assembly_and_the_commit(review: PipelineAction, pipeline_template: dict) -> None:
    pipeline = next(r for r in pipeline_template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    stage = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == "prod")
    action = next(a for a in stage["Actions"] if a["Name"] == "ChangeReview")
    inputs = [artifact["Name"] for artifact in action["InputArtifacts"]]
    assert inputs[1] == "Synth_Output", "the template being promoted comes from the synth step's cdk.out"
    assert "Source" in inputs[0], "the review script and the acknowledgments come from the same commit"


def test_review_buildspec_installs_only_its_own_packages_and_exports_the_summary(
    review: PipelineAction, pipeline_template: dict[str, Any]
) -> None:
    spec = json.loads(_project(pipeline_template, review)["Source"]["BuildSpec"])
    install = spec["phases"]["install"]["commands"]
    assert INSTALL_COMMAND in install
    build = spec["phases"]["build"]["commands"]
    (run,) = [command for command in build if command.startswith(REVIEW_COMMAND)]
    assert "--stack PaymentPipeline/prod/PaymentStack" in run
    assert f"--acknowledgments {ACKNOWLEDGMENTS_FILE}" in run
    assert build[-1].startswith(". reports/change-review/prod/exports.env")
    assert set(spec["env"]["exported-variables"]) == {SUMMARY_VARIABLE, REVIEW_URL_VARIABLE}
    assert spec["artifacts"]["base-directory"] == "reports/change-review/prod"
    assert spec["cache"] == {"key": CACHE_KEY, "paths": ["/root/.npm/**/*"]}
    cache = _project(pipeline_template, review)["Cache"]
    assert cache["Type"] == "S3"
    assert cache["Location"]["Fn::Join"][1][-1].endswith("codebuild-cache/change-review")


def test_review_dependencies_are_pinned_apart_from_the_cli() -> None:
    package = json.loads((REPOSITORY_ROOT / "package.json").read_text())
    lock = json.loads((REPOSITORY_ROOT / "package-lock.json").read_text())
    assert set(package["dependencies"]) == {"@aws-cdk/cloudformation-diff", "@aws-sdk/client-cloudformation"}
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} must be pinned exactly, got {version}"
        locked = lock["packages"][f"node_modules/{name}"]
        assert locked["version"] == version
        assert not locked.get("dev"), f"{name} must install with `npm ci --omit=dev`"
    assert lock["packages"]["node_modules/aws-cdk"].get("dev") is True


def test_review_role_can_only_read_the_prod_stack(review: PipelineAction, pipeline_template: dict[str, Any]) -> None:
    resources = pipeline_template["Resources"]
    role_id = _project(pipeline_template, review)["ServiceRole"]["Fn::GetAtt"][0]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
    ]
    statements = [s for document in policies for s in document]
    cloudformation = sorted(
        action
        for s in statements
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if action.startswith("cloudformation:")
    )
    assert cloudformation == ["cloudformation:DescribeStacks", "cloudformation:GetTemplate"]
    (read,) = [s for s in statements if s.get("Sid") == "ReadTheDeployedStack"]
    assert read["Resource"] == "arn:aws:cloudformation:us-east-1:111111111111:stack/prod-PaymentStack/*"


def test_approval_summarises_the_change_and_links_both_reports(
    prod_actions: list[PipelineAction], review: PipelineAction
) -> None:
    (approval,) = [a for a in prod_actions if a.kind == "approval"]
    custom = approval.configuration["CustomData"]
    assert f"#{{{review.namespace}.{SUMMARY_VARIABLE}}}" in custom
    assert f"#{{{review.namespace}.{REVIEW_URL_VARIABLE}}}" in custom
    assert "#{staging@Smoke.SMOKE_REPORT_URL}" in custom
    assert approval.configuration["ExternalEntityLink"] == f"#{{{review.namespace}.{REVIEW_URL_VARIABLE}}}"


def test_approval_comment_fits_codepipeline_once_its_variables_resolve() -> None:
    worst_summary = (
        "999 added, 999 modified, 999 replaced, 999 removed, 999 IAM changes, 999 security-group changes, "
        "999 stateful replaced/removed (BLOCKED)"
    )
    comment = approval_comment(
        "f" * 40,
        "an-organisation-name/a-long-repository-name@release/2026-12",
        worst_summary,
        LONGEST_BUILD_URL,
        LONGEST_BUILD_URL,
    )
    assert len(comment) <= ACTION_CONFIGURATION_LIMIT, len(comment)
