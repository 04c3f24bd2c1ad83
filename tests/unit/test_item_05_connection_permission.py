"""Issue 11, item 5: the source action may use the connection under the service prefix of its ARN.

IAM matches a connection by the prefix of its ARN (CodeConnections rename guide: "the service prefix
needs to match that of the resource"). CDK grants `codestar-connections:UseConnection` only, which does
not authorise an `arn:aws:codeconnections:` connection, the kind the console creates since July 2024.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.settings import PipelineSettings
from tests.unit.pipeline_actions import pipeline_actions

NEW = "arn:aws:codeconnections:us-east-1:111111111111:connection/00000000-0000-4000-8000-000000000000"
LEGACY = "arn:aws:codestar-connections:eu-west-1:123456789012:connection/0123abcd-4567-89ef-0123-456789abcdef"


def _settings(connection_arn: str) -> PipelineSettings:
    return PipelineSettings.from_context(
        {
            "sourceRepository": "example-org/payment-platform",
            "sourceBranch": "main",
            "codestarConnectionArn": connection_arn,
            "approverEmails": ["approvers@example.com"],
        }
    )


def _source_role_actions(pipeline_template: dict[str, Any], connection_arn: str) -> set[str]:
    """Actions the source action's role may take on the connection, across its policies."""
    resources = pipeline_template["Resources"]
    (source,) = [a for a in pipeline_actions(pipeline_template) if a.kind == "source"]
    pipeline = next(r for r in resources.values() if r["Type"] == "AWS::CodePipeline::Pipeline")
    stage = next(s for s in pipeline["Properties"]["Stages"] if s["Name"] == source.stage)
    role_id = next(a for a in stage["Actions"] if a["Name"] == source.name)["RoleArn"]["Fn::GetAtt"][0]
    found: set[str] = set()
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                if statement["Resource"] == connection_arn and statement["Effect"] == "Allow":
                    actions = statement["Action"]
                    found |= {actions} if isinstance(actions, str) else set(actions)
    return found


def test_item_05_source_role_may_use_a_codeconnections_connection(
    pipeline_template: dict[str, Any], pipeline_settings: PipelineSettings
) -> None:
    assert pipeline_settings.connection_arn == NEW  # cdk.json's example is the new prefix
    actions = _source_role_actions(pipeline_template, NEW)
    assert "codeconnections:UseConnection" in actions, actions
    assert "codestar-connections:UseConnection" in actions, actions  # CDK's own grant stays


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (NEW, ("codestar-connections:UseConnection", "codeconnections:UseConnection")),
        (LEGACY, ("codestar-connections:UseConnection",)),
    ],
    ids=["codeconnections", "codestar-connections"],
)
def test_item_05_use_connection_actions_match_the_arns_prefix(arn: str, expected: tuple[str, ...]) -> None:
    assert _settings(arn).use_connection_actions == expected
