"""The delivery-flow picture's model: the pipeline's stages and actions.

From the assembly's `AWS::CodePipeline::Pipeline`: every stage becomes a box and every action a node,
ordered by `RunOrder`, after a trigger node showing the V2 push filter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from scripts.diagram_assembly import Model, Template, render


def pipeline_stack(templates: Mapping[str, Template]) -> tuple[str, str, Template] | None:
    """(stack name, logical id, template) of the first `AWS::CodePipeline::Pipeline`, if the assembly has one."""
    for name in sorted(templates):
        resources = templates[name].get("Resources", {})
        for logical_id in sorted(resources):
            if resources[logical_id].get("Type") == "AWS::CodePipeline::Pipeline":
                return name, logical_id, templates[name]
    return None


_ACTION_KIND = {
    ("Source", "CodeStarSourceConnection"): "source",
    ("Source", "CodeCommit"): "source",
    ("Source", "S3"): "source",
    ("Build", "CodeBuild"): "build",
    ("Test", "CodeBuild"): "test",
    ("Deploy", "CloudFormation"): "deploy",
    ("Deploy", "ServiceCatalog"): "catalog",
    ("Approval", "Manual"): "approval",
    ("Invoke", "Lambda"): "invoke",
}
_CFN_MODES = {
    "CHANGE_SET_REPLACE": "create change set",
    "CHANGE_SET_EXECUTE": "execute change set",
    "CREATE_UPDATE": "create or update stack",
}


def _action_details(action: Mapping[str, Any]) -> list[str]:
    configuration = action.get("Configuration", {})
    details: list[str] = []
    if "StackName" in configuration:
        mode = str(configuration.get("ActionMode", ""))
        details.append(f"{render(configuration['StackName'])}: {_CFN_MODES.get(mode, mode)}")
    if "FullRepositoryId" in configuration:
        details.append(f"{configuration['FullRepositoryId']} @ {configuration.get('BranchName', '')}")
    if "RepositoryName" in configuration:
        details.append(f"{configuration['RepositoryName']} @ {configuration.get('BranchName', '')}")
    if "CustomData" in configuration:  # pipeline variables '#{Source@repo.CommitId}' read as '<CommitId>'
        comment = re.sub(r"#\{[^}]*?(\w+)\}", r"<\1>", render(configuration["CustomData"]))
        details.append(_shorten(comment, 60))
    return details


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _pipeline_model(stack_name: str, logical_id: str, template: Template) -> Model:
    properties = template["Resources"][logical_id].get("Properties", {})
    clusters: list[dict[str, str]] = []
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    triggers = []
    for trigger in properties.get("Triggers", []):
        for push in trigger.get("GitConfiguration", {}).get("Push", []):
            branches = push.get("Branches", {}).get("Includes", [])
            included = push.get("FilePaths", {}).get("Includes", [])
            excluded = push.get("FilePaths", {}).get("Excludes", [])
            triggers.append(", ".join(branches))
            triggers += [f"only paths {', '.join(included)}"] if included else []
            triggers += [f"ignores {', '.join(excluded)}"] if excluded else []
    branch_lines = [f"branch {triggers[0]}", *triggers[1:]] if triggers else ["source action's branch"]
    push_node = {"id": "push", "kind": "push", "cluster": "", "name": "git push", "details": branch_lines}
    nodes.append(push_node)
    previous = ["push"]
    for stage in properties.get("Stages", []):
        stage_id = f"stage:{stage['Name']}"
        clusters.append({"id": stage_id, "label": stage["Name"]})
        by_order: dict[int, list[str]] = defaultdict(list)
        for action in stage.get("Actions", []):
            type_id = action.get("ActionTypeId", {})
            node_id = f"{stage['Name']}/{action['Name']}"
            kind = _ACTION_KIND.get((type_id.get("Category"), type_id.get("Provider")), "action")
            name = action["Name"]
            nodes.append(
                {
                    "id": node_id,
                    "kind": kind,
                    "cluster": stage_id,
                    "name": name,
                    "details": [str(type_id.get("Provider", "")), *_action_details(action)],
                }
            )
            configuration = action.get("Configuration", {})
            if type_id.get("Category") == "Source" and "BranchName" in configuration and not triggers:
                push_node["details"] = [f"branch {configuration['BranchName']}"]
            by_order[int(action.get("RunOrder", 1))].append(node_id)
        for order in sorted(by_order):
            current = sorted(by_order[order])
            edges.extend({"from": a, "to": b, "label": "", "style": "solid"} for a in previous for b in current)
            previous = current
    return {
        "title": "Delivery flow",
        "caption": f"Stages and actions of the pipeline in {stack_name} (generated from its template by make diagram)",
        "source": {"kind": "pipeline-template", "stack": stack_name},
        "clusters": clusters,
        "nodes": nodes,
        "edges": edges,
    }


def delivery_model(templates: Mapping[str, Template]) -> Model:
    """From the pipeline stack's template (the app always synthesizes one)."""
    found = pipeline_stack(templates)
    if found is None:
        raise LookupError(
            "the assembly has no AWS::CodePipeline::Pipeline: synthesize the whole app (make synth), pass its cdk.out"
        )
    return _pipeline_model(*found)
