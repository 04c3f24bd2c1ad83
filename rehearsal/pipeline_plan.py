"""The plan of a rehearsal: the synthesized `AWS::CodePipeline::Pipeline`, read from the cloud assembly.

Stages, actions, run orders, action types and configurations come from the pipeline stack's template;
the CodeBuild projects the actions name (buildspec, environment, timeout) from the same template. Nothing
here knows the stages of this product: a pipeline with another stage or step plans the same way.

Values of the template are resolved statically, as CloudFormation would resolve them for a stack named
after the artifact in its account and region (physical names the template does not fix are
`<stack>-<LogicalId>`); `#{Namespace.Variable}` references stay in the strings and are resolved when the
action runs (rehearsal/variables.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from product.cfn_template import TemplateResolver
from rehearsal.assembly import AssemblyError, StackArtifact, stacks

PIPELINE_TYPE = "AWS::CodePipeline::Pipeline"
PROJECT_TYPE = "AWS::CodeBuild::Project"
URL_SUFFIX = "amazonaws.com"
# Properties that fix a resource's physical name (what Ref returns for these types).
_NAME_PROPERTIES = {
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeBuild::ReportGroup": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Lambda::Function": "FunctionName",
}
_ARN_RESOURCE = {
    "AWS::CodeBuild::Project": "codebuild:{region}:{account}:project/{name}",
    "AWS::CodeBuild::ReportGroup": "codebuild:{region}:{account}:report-group/{name}",
    "AWS::SNS::Topic": "sns:{region}:{account}:{name}",
    "AWS::IAM::Role": "iam::{account}:role/{name}",
    "AWS::KMS::Key": "kms:{region}:{account}:key/{name}",
    "AWS::S3::Bucket": "s3:::{name}",
    "AWS::CodePipeline::Pipeline": "codepipeline:{region}:{account}:{name}",
    "AWS::Lambda::Function": "lambda:{region}:{account}:function:{name}",
}
_REF_IS_ARN = {"AWS::SNS::Topic"}


class PlanError(AssemblyError):
    """The pipeline cannot be planned from the assembly (what is wrong and how to fix it)."""


@dataclass(frozen=True)
class ActionType:
    category: str
    owner: str
    provider: str
    version: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.category, self.owner, self.provider)

    def __str__(self) -> str:
        return f"{self.category}/{self.owner}/{self.provider} v{self.version}"


@dataclass(frozen=True)
class PlannedAction:
    stage: str
    name: str
    run_order: int
    action_type: ActionType
    configuration: dict[str, Any]
    input_artifacts: tuple[str, ...]
    output_artifacts: tuple[str, ...]
    namespace: str | None

    @property
    def path(self) -> str:
        return f"{self.stage}/{self.name}"

    def referenced_namespaces(self) -> set[str]:
        """Namespaces whose variables this action's configuration reads (`#{Namespace.Variable}`)."""
        from rehearsal.variables import references  # noqa: PLC0415 - variables imports nothing of ours

        return {namespace for namespace, _ in references(json.dumps(self.configuration))}


@dataclass(frozen=True)
class PlannedStage:
    name: str
    actions: tuple[PlannedAction, ...]

    def run_orders(self) -> list[tuple[int, list[PlannedAction]]]:
        orders: dict[int, list[PlannedAction]] = {}
        for action in self.actions:
            orders.setdefault(action.run_order, []).append(action)
        return sorted(orders.items())


@dataclass(frozen=True)
class EnvironmentVariable:
    name: str
    value: str
    type: str = "PLAINTEXT"


@dataclass(frozen=True)
class BuildProject:
    logical_id: str
    name: str
    arn: str
    buildspec: str
    image: str
    compute_type: str
    environment_variables: tuple[EnvironmentVariable, ...]
    timeout_minutes: int
    description: str
    kms_key: str
    # The build's service role: a role of the pipeline stack (its logical id; the ARN is the deployed
    # role's) or an ARN given in the template.
    service_role_logical_id: str | None = None
    service_role_arn: str | None = None


@dataclass(frozen=True)
class PipelinePlan:
    stack: StackArtifact
    logical_id: str
    name: str
    pipeline_type: str
    account: str
    region: str
    stages: tuple[PlannedStage, ...]
    projects: dict[str, BuildProject] = field(hash=False)
    variables: dict[str, str] = field(hash=False)

    def actions(self) -> Iterator[PlannedAction]:
        for stage in self.stages:
            yield from stage.actions

    def action(self, path: str) -> PlannedAction:
        for action in self.actions():
            if action.path == path:
                return action
        raise KeyError(path)

    def stage(self, name: str) -> PlannedStage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise PlanError(f"the pipeline has no stage {name!r}; its stages: {', '.join(s.name for s in self.stages)}")

    def producer_of_artifact(self, artifact: str) -> PlannedAction | None:
        return next((a for a in self.actions() if artifact in a.output_artifacts), None)

    def producer_of_namespace(self, namespace: str) -> PlannedAction | None:
        return next((a for a in self.actions() if a.namespace == namespace), None)

    def dependencies(self, action: PlannedAction) -> set[str]:
        """Paths of the actions `action` reads from: input artifacts and variable namespaces."""
        needed = set()
        for artifact in action.input_artifacts:
            producer = self.producer_of_artifact(artifact)
            if producer is not None:
                needed.add(producer.path)
        for namespace in action.referenced_namespaces():
            producer = self.producer_of_namespace(namespace)
            if producer is not None:
                needed.add(producer.path)
        return needed

    def closure(self, paths: set[str]) -> set[str]:
        """`paths` and every action they read from, transitively."""
        todo, seen = list(paths), set()
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            todo.extend(self.dependencies(self.action(path)))
        return seen

    def readers_after(self, action: PlannedAction) -> list[PlannedAction]:
        """Later actions that read `action`'s output artifacts or variables."""
        return [a for a in self.actions() if action.path in self.dependencies(a) and a.path != action.path]

    def fingerprint(self, stage_names: list[str]) -> str:
        """A digest of these stages' definitions (to tell whether a new synth changed them)."""
        chosen = [s for s in self.stages if s.name in stage_names]
        return hashlib.sha256(repr(chosen).encode()).hexdigest()[:16]

    def summary(self) -> str:
        count = sum(len(s.actions) for s in self.stages)
        return f"{len(self.stages)} stages, {count} actions: " + " -> ".join(s.name for s in self.stages)


# --- loading ------------------------------------------------------------------------------------------


def pipelines_in(assembly_dir: Path) -> list[tuple[StackArtifact, str]]:
    """(stack, pipeline logical id) of every pipeline resource in the assembly's stacks."""
    found = []
    for stack in stacks(assembly_dir):
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource.get("Type") == PIPELINE_TYPE:
                found.append((stack, logical_id))
    return found


def load_plan(assembly_dir: Path, *, pipeline: str | None = None) -> PipelinePlan:
    """The plan of the assembly's pipeline (`pipeline`: its name or logical id, when there are several)."""
    found = pipelines_in(assembly_dir)
    if not found:
        raise PlanError(
            f"no {PIPELINE_TYPE} in any stack of {assembly_dir}: the rehearsal executes the synthesized pipeline; "
            "synthesize the pipeline app (cdk synth) into it"
        )
    candidates = []
    for stack, logical_id in found:
        values = TemplateValues(stack.template, stack_name=stack.stack_name, account=stack.account, region=stack.region)
        name = values.physical_name(logical_id)
        if pipeline in (None, name, logical_id):
            candidates.append((stack, logical_id, values, name))
    if len(candidates) != 1:
        names = ", ".join(f"{s.stack_name}/{lid}" for s, lid in found)
        wanted = f"pipeline {pipeline!r} is not one of them" if pipeline else "choose one with --pipeline NAME"
        raise PlanError(f"the assembly has {len(found)} pipelines ({names}): {wanted}")
    stack, logical_id, values, name = candidates[0]
    properties = stack.template["Resources"][logical_id].get("Properties", {})
    stages = tuple(_stage(values, stage) for stage in properties.get("Stages", []))
    if not stages:
        raise PlanError(f"pipeline {name} in {stack.template_file.name} has no stages")
    _check_artifacts(stages, name)
    projects = {}
    for project_id, resource in stack.template.get("Resources", {}).items():
        if resource.get("Type") == PROJECT_TYPE:
            project = _project(values, project_id, resource.get("Properties", {}))
            projects[project.name] = project
    variables = {
        str(v["Name"]): str(values.resolve(v.get("DefaultValue", ""))) for v in properties.get("Variables", []) or []
    }
    return PipelinePlan(
        stack=stack,
        logical_id=logical_id,
        name=name,
        pipeline_type=str(properties.get("PipelineType", "V1")),
        account=stack.account,
        region=stack.region,
        stages=stages,
        projects=projects,
        variables=variables,
    )


def _stage(values: TemplateValues, stage: dict[str, Any]) -> PlannedStage:
    name = str(stage["Name"])
    actions = []
    for action in stage.get("Actions", []):
        type_id = action["ActionTypeId"]
        actions.append(
            PlannedAction(
                stage=name,
                name=str(action["Name"]),
                run_order=int(action.get("RunOrder", 1)),
                action_type=ActionType(
                    str(type_id["Category"]), str(type_id["Owner"]), str(type_id["Provider"]), str(type_id["Version"])
                ),
                configuration=values.resolve(action.get("Configuration", {})),
                input_artifacts=tuple(str(a["Name"]) for a in action.get("InputArtifacts", [])),
                output_artifacts=tuple(str(a["Name"]) for a in action.get("OutputArtifacts", [])),
                namespace=action.get("Namespace"),
            )
        )
    return PlannedStage(name, tuple(actions))


def _check_artifacts(stages: tuple[PlannedStage, ...], pipeline: str) -> None:
    """Every input artifact is produced by an action of an earlier stage or run order (as CodePipeline checks)."""
    produced: set[str] = set()
    for stage in stages:
        for _, actions in stage.run_orders():
            for action in actions:
                missing = [a for a in action.input_artifacts if a not in produced]
                if missing:
                    raise PlanError(
                        f"pipeline {pipeline}: action {action.path} reads artifact(s) {missing} that no earlier action "
                        "produces; CodePipeline would reject this definition"
                    )
            for action in actions:
                produced.update(action.output_artifacts)


def _project(values: TemplateValues, logical_id: str, properties: dict[str, Any]) -> BuildProject:
    environment = properties.get("Environment", {})
    source = properties.get("Source", {})
    buildspec = values.resolve(source.get("BuildSpec", ""))
    if not isinstance(buildspec, str):
        raise PlanError(f"CodeBuild project {logical_id}: Source.BuildSpec does not resolve to text: {buildspec!r}")
    variables = tuple(
        EnvironmentVariable(str(v["Name"]), str(values.resolve(v.get("Value", ""))), str(v.get("Type", "PLAINTEXT")))
        for v in environment.get("EnvironmentVariables", []) or []
    )
    name = values.physical_name(logical_id)
    role = properties.get("ServiceRole")
    role_logical_id = role_arn = None
    attribute = role.get("Fn::GetAtt") if isinstance(role, dict) else None
    if isinstance(attribute, str):
        attribute = attribute.split(".", 1)
    if isinstance(attribute, list) and attribute[1:] == ["Arn"]:
        role_logical_id = str(attribute[0])
    elif role:
        role_arn = str(values.resolve(role))
    return BuildProject(
        logical_id=logical_id,
        name=name,
        arn=values.arn(logical_id),
        buildspec=buildspec,
        image=str(values.resolve(environment.get("Image", ""))),
        compute_type=str(environment.get("ComputeType", "")),
        environment_variables=variables,
        timeout_minutes=int(properties.get("TimeoutInMinutes", 60)),
        description=str(values.resolve(properties.get("Description", ""))),
        kms_key=str(values.resolve(properties.get("EncryptionKey", ""))),
        service_role_logical_id=role_logical_id,
        service_role_arn=role_arn,
    )


# --- static values of the pipeline template ----------------------------------------------------------


class TemplateValues(TemplateResolver):
    """Resolves a template for a stack of that name, account and region, before it is deployed: a resource's
    name and ARN are derived from the template (its name property, else `<stack>-<logical id>`)."""

    def __init__(
        self,
        template: dict[str, Any],
        *,
        stack_name: str,
        account: str,
        region: str,
        parameters: dict[str, str] | None = None,
    ) -> None:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": stack_name,
        }
        super().__init__(template, pseudo=pseudo, parameters=parameters or {})
        self.resources: dict[str, Any] = template.get("Resources", {})
        self.stack_name = stack_name

    def physical_name(self, logical_id: str) -> str:
        resource = self._resource(logical_id)
        key = _NAME_PROPERTIES.get(resource.get("Type", ""))
        named = resource.get("Properties", {}).get(key) if key else None
        return str(self.resolve(named)) if named is not None else f"{self.stack_name}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        resource_type = self._resource(logical_id).get("Type", "")
        pattern = _ARN_RESOURCE.get(resource_type)
        name = self.physical_name(logical_id)
        if pattern is None:
            service = resource_type.split("::")[1].lower() if "::" in resource_type else "unknown"
            pattern = service + ":{region}:{account}:" + logical_id
        partition = self.pseudo["AWS::Partition"]
        return f"arn:{partition}:" + pattern.format(
            region=self.pseudo["AWS::Region"], account=self.pseudo["AWS::AccountId"], name=name
        )

    def _resource(self, logical_id: str) -> dict[str, Any]:
        if logical_id not in self.resources:
            raise PlanError(f"the template refers to {logical_id!r}, which is not one of its resources")
        resource: dict[str, Any] = self.resources[logical_id]
        return resource

    def _resource_ref(self, logical_id: str) -> str:
        if self._resource(logical_id).get("Type") in _REF_IS_ARN:
            return self.arn(logical_id)
        return self.physical_name(logical_id)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn" or attribute.endswith("Arn"):
            return self.arn(logical_id)
        if attribute == "Name":
            return self.physical_name(logical_id)
        return f"{self.physical_name(logical_id)}.{attribute}"

    def _unresolved_function(self, function: str, value: dict[str, Any]) -> Any:
        raise PlanError(f"{function} is not resolved by the rehearsal's planner (in {json.dumps(value)[:200]})")

    def _missing(self, message: str) -> Exception:
        return PlanError(message)
