"""Read a synthesized CodePipeline template back as an ordered list of actions (the pipeline tests and the bench).

CodePipeline runs stages one after another, and inside a stage the actions of one RunOrder in parallel,
then the next RunOrder. So the critical path of a run is one action per (stage, RunOrder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS_BY_STAGE = {"Build": "synth", "UpdatePipeline": "self-mutate", "Assets": "assets"}
CLOUDFORMATION_MODES = {"CREATE_UPDATE": "deploy", "CHANGE_SET_REPLACE": "prepare", "CHANGE_SET_EXECUTE": "execute"}


@dataclass(frozen=True)
class PipelineAction:
    """One action of the pipeline, where it sits and what it does."""

    stage: str
    stage_index: int
    run_order: int
    name: str
    category: str
    provider: str
    configuration: dict[str, Any]
    namespace: str | None

    @property
    def kind(self) -> str:
        """source, synth, self-mutate, assets, deploy / prepare / execute, review, smoke or approval."""
        if self.category == "Source":
            return "source"
        if self.category == "Approval":
            return "approval"
        if self.stage in KINDS_BY_STAGE:
            return KINDS_BY_STAGE[self.stage]
        if self.provider == "CloudFormation":
            return CLOUDFORMATION_MODES.get(self.configuration.get("ActionMode", ""), "cloudformation")
        if self.provider == "CodeBuild":
            return "review" if self.name == "ChangeReview" else "smoke"
        return self.provider.lower()

    @property
    def label(self) -> str:
        """`source`, `synth`, ... for the pipeline's own stages; `<stage> <kind>` in an environment stage."""
        return self.kind if self.stage in (*KINDS_BY_STAGE, "Source") else f"{self.stage} {self.kind}"


def pipeline_properties(template: dict[str, Any]) -> dict[str, Any]:
    pipelines = [r for r in template["Resources"].values() if r["Type"] == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise ValueError(f"expected one AWS::CodePipeline::Pipeline, found {len(pipelines)}")
    return pipelines[0]["Properties"]


def pipeline_actions(template: dict[str, Any]) -> list[PipelineAction]:
    """Every action, in the order a run reaches it (stage order, then RunOrder)."""
    actions = [
        PipelineAction(
            stage=stage["Name"],
            stage_index=index,
            run_order=action.get("RunOrder", 1),
            name=action["Name"],
            category=action["ActionTypeId"]["Category"],
            provider=action["ActionTypeId"]["Provider"],
            configuration=action.get("Configuration", {}),
            namespace=action.get("Namespace"),
        )
        for index, stage in enumerate(pipeline_properties(template)["Stages"])
        for action in stage["Actions"]
    ]
    return sorted(actions, key=lambda a: (a.stage_index, a.run_order))


def critical_path(template: dict[str, Any]) -> list[PipelineAction]:
    """One action per (stage, RunOrder): the sequence a push waits for from source to the last action."""
    seen: dict[tuple[int, int], PipelineAction] = {}
    for action in pipeline_actions(template):
        seen.setdefault((action.stage_index, action.run_order), action)
    return list(seen.values())


def push_to_prod(template: dict[str, Any], last_stage: str = "prod") -> list[PipelineAction]:
    """The critical path from the push up to the last action of `last_stage` (catalog publication follows it)."""
    path = critical_path(template)
    last = max(i for i, action in enumerate(path) if action.stage == last_stage)
    return path[: last + 1]
