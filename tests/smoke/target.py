"""The deployed stage the smoke suite checks: its outputs, its template and its resources.

Runtime code: boto3 only, never the CDK app. Expected values (memory, thresholds, rate limit, retention...)
come from the template CloudFormation deployed (GetTemplate), resolved with the stack's parameters and
resources, so the suite checks "deployed as declared for this environment" against AWS and the emulator
alike, and a catalog launch (knobs from a mapping) is checked the same way as a pipeline stage.

Target selection, in order: `--stack-name` (or STACK_NAME); otherwise the stack whose outputs match the
output variables in the environment (UPPER_SNAKE of the output id, as the pipeline's
`env_from_cfn_outputs` sets them). An output variable in the environment wins over DescribeStacks (the
rehearsal sets API_URL to its local gateway); every other output is read with DescribeStacks.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3

from product.cfn_template import TemplateResolver
from product.contract import IDENTIFYING_OUTPUTS, NOT_EMULATED_VARIABLE, STACK_NAME_VARIABLE, Output, env_var_name


class TargetError(RuntimeError):
    """The suite cannot tell which stack to check (a usage error, not a failed check)."""


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class Skipped:
    logical_id: str
    resource_type: str
    name: str
    reason: str


@dataclass
class NotEmulated:
    """What the emulator did not create, from the rehearsal's file; empty against AWS."""

    source: str | None = None
    emulator: str | None = None
    skipped: dict[str, Skipped] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)
    # output id -> {"output": the stack's value, "served_at": the local URL the rehearsal serves it at}
    served_outputs: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | None) -> NotEmulated:
        if not path:
            return cls()
        document = json.loads(Path(path).read_text())
        skipped = {
            item["logical_id"]: Skipped(
                item["logical_id"],
                item["type"],
                item.get("name") or item["logical_id"],
                item.get("reason", "not created by the emulator"),
            )
            for item in document.get("skipped", [])
        }
        return cls(
            source=path,
            emulator=document.get("emulator"),
            skipped=skipped,
            document=document,
            served_outputs=document.get("served_outputs", {}),
        )

    @property
    def active(self) -> bool:
        return self.source is not None


@dataclass
class Target:
    stack_name: str
    stack_id: str
    region: str
    account: str
    partition: str
    stage: str | None
    outputs: dict[str, str]  # effective: environment variable if set, else DescribeStacks
    stack_outputs: dict[str, str]  # as DescribeStacks reports them
    output_sources: dict[str, str]  # output id -> "env API_URL" / "DescribeStacks"
    template: dict[str, Any]
    parameters: dict[str, str]
    physical_ids: dict[str, str]  # logical id -> physical id (resources present in the stack)
    resource_types: dict[str, str]
    not_emulated: NotEmulated
    endpoint: str | None
    _values: DeployedTemplate = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._values = DeployedTemplate(self)

    # --- template access --------------------------------------------------------------------------

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, template resource) of a type, for the resources the stack actually has."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type and logical_id in self.physical_ids:
                yield logical_id, resource

    def properties(self, logical_id: str) -> dict[str, Any]:
        return self.resources[logical_id].get("Properties", {})

    def condition_holds(self, name: str | None) -> bool:
        """Whether a template condition is true for this stack's parameters (a catalog launch's opt-ins); a
        condition this suite cannot evaluate is taken as true, so its subject is checked rather than skipped."""
        return name is None or self._values.condition(name)

    def prop(self, logical_id: str, *path: str | int, default: Any = None) -> Any:
        """A resolved property value of a resource (None-safe path)."""
        value: Any = self.properties(logical_id)
        for key in path:
            if isinstance(value, dict) and isinstance(key, str):
                value = value.get(key)
            elif isinstance(value, list) and isinstance(key, int) and key < len(value):
                value = value[key]
            else:
                return default
            if value is None:
                return default
        return self.resolve(value)

    def find(self, resource_type: str, **match: Any) -> str:
        """The logical id of the one resource of `resource_type` whose resolved properties match."""
        for logical_id, _ in self.of_type(resource_type):
            if all(self.prop(logical_id, key) == value for key, value in match.items()):
                return logical_id
        raise LookupError(f"no {resource_type} with {match} in the template of {self.stack_name}")

    def output_references(self, output_id: str) -> set[str]:
        """Logical ids an output's value refers to (Ref / Fn::GetAtt / ${...} in Fn::Sub)."""
        return _references(self.template.get("Outputs", {}).get(output_id, {}).get("Value"), set(self.resources))

    # --- intrinsic functions ------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions a template value may use, with this stack's parameters and
        resources (product.cfn_template); AWS::NoValue items and properties are dropped, as in CloudFormation."""
        return self._values.resolve(value)


class DeployedTemplate(TemplateResolver):
    """A deployed stack's template: a resource's Ref is its physical id, and Fn::GetAtt Arn is derived from
    it; what the stack cannot tell stays an intrinsic function (so a check never compares against a guess)."""

    def __init__(self, target: Target) -> None:
        pseudo = {
            "AWS::Region": target.region,
            "AWS::AccountId": target.account,
            "AWS::Partition": target.partition,
            "AWS::StackName": target.stack_name,
            "AWS::StackId": target.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        super().__init__(target.template, pseudo=pseudo, parameters=target.parameters)
        self._target = target

    def _resource_ref(self, logical_id: str) -> Any:
        return self._target.physical_ids.get(logical_id, {"Ref": logical_id})

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        target = self._target
        physical = target.physical_ids.get(logical_id)
        resource_type = target.resource_types.get(logical_id, "")
        if attribute == "Arn" and physical:
            if physical.startswith("arn:"):
                return physical
            p, r, a = target.partition, target.region, target.account
            service_arns = {
                "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{physical}",
                "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{physical.rstrip('/').rsplit('/', 1)[-1]}",
                "AWS::S3::Bucket": f"arn:{p}:s3:::{physical}",
                "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{physical}",
                "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{physical}",
                "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{physical}",
            }
            if resource_type in service_arns:
                return service_arns[resource_type]
        if attribute == "QueueName" and physical:
            return physical.rstrip("/").rsplit("/", 1)[-1]
        return {"Fn::GetAtt": [logical_id, attribute]}


def _references(value: Any, logical_ids: set[str]) -> set[str]:
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item, logical_ids)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and item in logical_ids:
                found.add(item)
            elif key == "Fn::GetAtt":
                name = item[0] if isinstance(item, list) else str(item).split(".", 1)[0]
                if name in logical_ids:
                    found.add(name)
            elif key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text)} & logical_ids
                if not isinstance(item, str):
                    found |= _references(item[1], logical_ids)
            else:
                found |= _references(item, logical_ids)
    return found


# --- resolution ----------------------------------------------------------------------------------------


def _env_outputs(environ: Mapping[str, str], output_ids: list[str]) -> dict[str, str]:
    return {oid: environ[env_var_name(oid)] for oid in output_ids if environ.get(env_var_name(oid))}


def _find_stack(cloudformation: Any, environ: Mapping[str, str]) -> str:
    wanted = _env_outputs(environ, list(IDENTIFYING_OUTPUTS))
    if not wanted:
        names = ", ".join(env_var_name(o) for o in IDENTIFYING_OUTPUTS)
        raise TargetError(
            f"no target: pass --stack-name, set STACK_NAME, or set the stage's output variables ({names})"
        )
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
            if all(outputs.get(key) == value for key, value in wanted.items()):
                return stack["StackName"]
    raise TargetError(f"no stack has the outputs {wanted}; is the stage deployed in this account and region?")


def resolve_target(session: Any, *, stack_name: str | None, stage: str | None, environ: Mapping[str, str]) -> Target:
    """Read the target stack (DescribeStacks, GetTemplate, ListStackResources)."""
    not_emulated = NotEmulated.load(environ.get(NOT_EMULATED_VARIABLE))
    endpoint = environ.get("AWS_ENDPOINT_URL")
    if not_emulated.active and not (endpoint and is_loopback(endpoint)):
        raise TargetError(
            f"{NOT_EMULATED_VARIABLE} is for the local emulator only, but AWS_ENDPOINT_URL is "
            f"{endpoint!r}: refusing to report checks against AWS as not emulated"
        )
    cloudformation = session.client("cloudformation")
    stack_name = stack_name or environ.get(STACK_NAME_VARIABLE) or _find_stack(cloudformation, environ)
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    stack_id = stack["StackId"]
    _, partition, _, region, account, _ = (stack_id.split(":", 5) + [""] * 6)[:6]
    stack_outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    template = cloudformation.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    physical_ids, resource_types = {}, {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            physical_ids[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
            resource_types[summary["LogicalResourceId"]] = summary.get("ResourceType", "")
    for logical_id, resource in template.get("Resources", {}).items():  # the emulator may leave types empty
        if logical_id in resource_types and not resource_types[logical_id]:
            resource_types[logical_id] = resource.get("Type", "")
    output_ids = list(template.get("Outputs", {}))
    from_env = _env_outputs(environ, output_ids)
    outputs = {**stack_outputs, **from_env}
    sources = {oid: (f"env {env_var_name(oid)}" if oid in from_env else "DescribeStacks") for oid in outputs}
    deployed_stage = stack_outputs.get(Output.ENVIRONMENT)
    if stage and deployed_stage and stage != deployed_stage:
        raise TargetError(f"--stage {stage} but stack {stack_name} is the {deployed_stage!r} environment")
    return Target(
        stack_name=stack["StackName"],
        stack_id=stack_id,
        region=region or session.region_name,
        account=account,
        partition=partition or "aws",
        stage=stage or deployed_stage,
        outputs=outputs,
        stack_outputs=stack_outputs,
        output_sources=sources,
        template=template,
        parameters={
            p["ParameterKey"]: p.get("ResolvedValue", p.get("ParameterValue", "")) for p in stack.get("Parameters", [])
        },
        physical_ids=physical_ids,
        resource_types=resource_types,
        not_emulated=not_emulated,
        endpoint=endpoint,
    )


def session_from_environment(region: str | None = None) -> Any:
    return boto3.session.Session(region_name=region or os.environ.get("AWS_REGION") or None)
