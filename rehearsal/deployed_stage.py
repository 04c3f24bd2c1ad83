"""One deployed stage in the emulator: what was created (accounting) and its local runtime (API + events)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from product.contract import Output
from rehearsal import iam, shims
from rehearsal.assembly import StackArtifact
from rehearsal.event_sources import QueueMapping, SqsPoller
from rehearsal.gateway import CallerLookup, InvokePolicy, LocalRestApi, fixed_callers, routes_of
from rehearsal.iam import IamReport
from rehearsal.lambda_runtime import FunctionHost
from rehearsal.pipeline_plan import PlanError, TemplateValues
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

# An API's invoke URL in a stack output: https://<api id>.execute-api.<region>.amazonaws.com/<stage>/...
_EXECUTE_API = re.compile(r"^https://(?P<api>[a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[^/]*/?")

# Properties that carry a resource's name, to show 'payment-dev-api-5xx' rather than a logical id.
_NAME_PROPERTIES = (
    "AlarmName",
    "Name",
    "TableName",
    "BucketName",
    "TopicName",
    "QueueName",
    "FunctionName",
    "LogGroupName",
    "StageName",
    "DashboardName",
    "RestApiName",
    "AutoScalingGroupName",
)


def _display_name(resource: dict[str, Any], stack_path: str) -> str | None:
    """The resource's name if the template gives one, else its construct path inside the stack."""
    properties = resource.get("Properties", {})
    for key in _NAME_PROPERTIES:
        if isinstance(properties.get(key), str):
            return properties[key]
    path = (resource.get("Metadata") or {}).get("aws:cdk:path")
    if isinstance(path, str):
        return path.removeprefix(stack_path + "/").removesuffix("/Resource")
    return None


@dataclass
class Accounting:
    """Template resources vs what the emulator created for one stack."""

    template_count: int
    created: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    provided: list[dict[str, str]] = field(default_factory=list)
    not_created: list[dict[str, str]] = field(default_factory=list)

    def by_type(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for item in self.skipped:
            grouped.setdefault(item["type"], []).append(item.get("name") or item["logical_id"])
        return dict(sorted(grouped.items()))


@dataclass
class DeployedStack:
    artifact: StackArtifact
    stack_id: str
    outputs: dict[str, str]
    accounting: Accounting

    @property
    def environment(self) -> str:
        return self.artifact.environment or self.artifact.stack_name


def account_for(emulator: Any, artifact: StackArtifact) -> DeployedStack:
    """Compare the synthesized template with the stack's resources in the emulator and the shim's record."""
    cloudformation = emulator.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=artifact.stack_name)["Stacks"][0]
    stack_id = stack["StackId"]
    summaries: dict[str, dict[str, Any]] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=artifact.stack_name):
        for summary in page["StackResourceSummaries"]:
            summaries[summary["LogicalResourceId"]] = summary
    recorder: shims.SkipRecorder = emulator.skipped
    recorded = {s.logical_id: s for s in recorder.for_stack(stack_id)}
    provided = {s.logical_id for s in recorder.provided_for_stack(stack_id)}
    resources = artifact.template.get("Resources", {})
    accounting = Accounting(template_count=len(resources))
    for logical_id, resource in resources.items():
        resource_type = resource.get("Type", "")
        name = _display_name(resource, artifact.display_name) or logical_id
        summary = summaries.get(logical_id)
        physical = (summary or {}).get("PhysicalResourceId", "")
        if logical_id in provided:
            accounting.provided.append(
                {
                    "logical_id": logical_id,
                    "type": resource_type,
                    "name": name,
                    "reason": "moto has no CloudFormation provider for this type; the harness "
                    "created it through moto's own API (see the shims)",
                }
            )
        elif logical_id in recorded or physical.startswith(shims.NOT_EMULATED_PREFIX):
            record = recorded.get(logical_id)
            reason = f"moto {shims.MOTO_VERSION} has no CloudFormation support for {resource_type}: skipped at deploy"
            if record is not None and record.reason:
                reason = record.reason
            accounting.skipped.append({"logical_id": logical_id, "type": resource_type, "name": name, "reason": reason})
        elif summary is None:
            condition = resource.get("Condition")
            reason = (
                f"condition {condition} is false: not created (in AWS either)"
                if condition
                else "not in the emulator's stack resources"
            )
            accounting.not_created.append(
                {"logical_id": logical_id, "type": resource_type, "name": name, "reason": reason}
            )
        else:
            accounting.created.append(logical_id)
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return DeployedStack(artifact=artifact, stack_id=stack_id, outputs=outputs, accounting=accounting)


def write_not_emulated(path: Path, deployed: DeployedStack, runtime: StageRuntime) -> Path:
    """The file the smoke suite reads (SMOKE_NOT_EMULATED_FILE): what was not created, and why, and which
    outputs the rehearsal replaced by the local gateway that serves them (`served_outputs`)."""
    a = deployed.accounting
    api_url = runtime.api_url
    served = runtime.local_outputs(deployed.outputs)
    not_created = [item for item in a.not_created if not item["reason"].startswith("condition")]
    document = {
        "emulator": f"moto {shims.MOTO_VERSION} (in-process, local rehearsal)",
        "stack": deployed.artifact.stack_name,
        "stack_path": deployed.artifact.display_name,
        "skipped": a.skipped + not_created,
        "provided_by_harness": a.provided,
        "template_resources": a.template_count,
        "created": len(a.created),
        "served_outputs": {
            output_id: {"output": deployed.outputs[output_id], "served_at": local}
            for output_id, local in served.items()
        },
        "shims": [{"name": s.name, "target": s.target, "problem": s.problem, "remedy": s.remedy} for s in shims.SHIMS],
        "notes": [
            f"The API is served by the rehearsal's local gateway at {api_url}, in front of the real handlers "
            "(deployed package, each function's configuration); it routes the emulator's REST API and verifies "
            "SigV4 signatures. The request model and validator and the gateway responses are not emulated; the "
            "stage's settings and the WAF web ACL are held by the emulator (provided by the harness) but not "
            "enforced in front of the local gateway (no throttling, no WAF rules).",
            "Events: moto delivers EventBridge to SQS; the rehearsal's poller delivers SQS to the event processor "
            "with Lambda's batch semantics.",
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


class StageRuntime:
    """The stage's API served locally and its queues polled, until `stop()`."""

    def __init__(
        self,
        emulator: Any,
        deployed: DeployedStack,
        *,
        workdir: Path,
        log_dir: Path,
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.emulator = emulator
        self.deployed = deployed
        log_dir.mkdir(parents=True, exist_ok=True)
        self.functions = FunctionHost(emulator, workdir, log_dir / "functions.log", faults=faults)
        self._api_log = (log_dir / "api-access.log").open("a", encoding="utf-8")
        self._poll_log = (log_dir / "event-sources.log").open("a", encoding="utf-8")
        self.apis: list[LocalRestApi] = []
        self.pollers: list[SqsPoller] = []
        authorization = emulator.authorization
        self._iam_mark = authorization.mark() if authorization is not None else 0

    @property
    def api_url(self) -> str | None:
        return self.apis[0].url if self.apis else None

    def local_outputs(self, outputs: Mapping[str, str]) -> dict[str, str]:
        """Output id -> local URL, for each output that is the invoke URL of an API served here (as
        AWS_ENDPOINT_URL stands in for the AWS endpoints, the local gateway stands in for execute-api)."""
        served = {api.api_id: api.url for api in self.apis}
        local = {}
        for output_id, value in outputs.items():
            match = _EXECUTE_API.match(value)
            if match and match.group("api") in served:
                local[output_id] = served[match.group("api")] + value[match.end() :]
        return local

    def start(self) -> StageRuntime:
        template = self.deployed.artifact.template
        cloudformation = self.emulator.client("cloudformation")
        physical: dict[str, str] = {}
        for page in cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=self.deployed.artifact.stack_name
        ):
            for summary in page["StackResourceSummaries"]:
                physical[summary["LogicalResourceId"]] = summary.get("PhysicalResourceId", "")
        self.functions.log_groups.update(_function_log_groups(template, physical))
        apigateway = self.emulator.client("apigateway")
        caller = self.emulator.client("sts").get_caller_identity()["Arn"]
        (stack,) = cloudformation.describe_stacks(StackName=self.deployed.artifact.stack_name)["Stacks"]
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        values = TemplateValues(
            template,
            stack_name=self.deployed.artifact.stack_name,
            account=self.emulator.account,
            region=self.emulator.region,
            parameters=parameters,
        )
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::ApiGateway::RestApi" and logical_id in physical:
                api_id = physical[logical_id]
                api = LocalRestApi(
                    api_id=api_id,
                    stage=_stage_name(template, logical_id, self.deployed.outputs, values),
                    routes=routes_of(apigateway, api_id),
                    functions=self.functions,
                    region=self.emulator.region,
                    account=self.emulator.account,
                    callers=self._callers(caller),
                    invoke_policy=self._invoke_policy(),
                    log=self._api_log,
                )
                self.apis.append(api.start())
        lambda_client = self.emulator.client("lambda")
        sqs = self.emulator.client("sqs")
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") == "AWS::Lambda::EventSourceMapping" and logical_id in physical:
                mapping = lambda_client.get_event_source_mapping(UUID=physical[logical_id])
                if mapping.get("State", "Enabled") != "Enabled" or ":sqs:" not in mapping["EventSourceArn"]:
                    continue
                poller = SqsPoller(
                    QueueMapping.from_api(mapping),
                    sqs=sqs,
                    functions=self.functions,
                    region=self.emulator.region,
                    log=self._poll_log,
                )
                self.pollers.append(poller.start())
        return self

    def _callers(self, harness_arn: str) -> CallerLookup:
        """Who signed a request: with IAM enforced, any key the emulator issued; else the dummy key only."""
        if self.emulator.authorization is None:
            return fixed_callers({DUMMY_ACCESS_KEY_ID: DUMMY_SECRET_ACCESS_KEY}, harness_arn)
        account = self.emulator.account
        return lambda key, token: iam.caller_of(key, token, account=account)

    def _invoke_policy(self) -> InvokePolicy | None:
        """API Gateway's IAM authorization: the caller's policies must allow execute-api:Invoke (enforced IAM)."""
        if self.emulator.authorization is None:
            return None
        account = self.emulator.account
        return lambda caller, method_arn: iam.authorize_as_service(
            caller, "execute-api:Invoke", method_arn, account=account
        )

    def iam_report(self) -> IamReport:
        """What IAM decided for the calls made since this stage started serving (its functions, the suite)."""
        authorization = self.emulator.authorization
        if authorization is None:
            return IamReport(enforced=False)
        return authorization.report(self._iam_mark)

    def failures(self) -> list[str]:
        """Denied calls and failed log deliveries since the stage started serving: each fails the stage."""
        return self.iam_report().failure_lines() + self.functions.log_delivery_errors()

    def stop(self) -> None:
        for api in self.apis:
            api.stop()
        for poller in self.pollers:
            poller.stop()
        self.functions.close()
        self._api_log.close()
        self._poll_log.close()


class IamWatch:
    """What IAM decided during one pipeline action, and the log deliveries the served stages lost meanwhile:
    `failures()` non-empty fails the action (a function, its log delivery or the action's own calls denied)."""

    def __init__(self, emulator: Any, runtimes: Mapping[str, StageRuntime]) -> None:
        self._emulator = emulator
        self._runtimes = runtimes
        authorization = emulator.authorization
        self._mark = authorization.mark() if authorization is not None else 0
        self._delivery_errors = {name: len(r.functions.log_delivery_errors()) for name, r in runtimes.items()}

    def report(self) -> IamReport:
        authorization = self._emulator.authorization
        return authorization.report(self._mark) if authorization is not None else IamReport(enforced=False)

    def failures(self) -> list[str]:
        lines = self.report().failure_lines()
        for name, runtime in list(self._runtimes.items()):
            lines += runtime.functions.log_delivery_errors()[self._delivery_errors.get(name, 0) :]
        return lines


def _function_log_groups(template: dict[str, Any], physical: dict[str, str]) -> dict[str, str]:
    """Function name -> the log group its LoggingConfig names (a Ref to a group of the stack, or a name)."""
    groups = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function" or logical_id not in physical:
            continue
        group = (resource.get("Properties", {}).get("LoggingConfig") or {}).get("LogGroup")
        if isinstance(group, dict) and "Ref" in group:
            group = physical.get(group["Ref"])
        if isinstance(group, str) and group:
            groups[physical[logical_id]] = group
    return groups


def _stage_name(template: dict[str, Any], api_logical_id: str, outputs: dict[str, str], values: TemplateValues) -> str:
    """The stage name the template gives the API (the emulator skipped the stage itself); a catalog launch's
    comes from its profile mapping (`Fn::FindInMap` over the stack's parameters)."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        is_stage = resource.get("Type") == "AWS::ApiGateway::Stage"
        if is_stage and properties.get("RestApiId") == {"Ref": api_logical_id}:
            try:
                name = values.resolve(properties.get("StageName"))
            except PlanError:
                name = None
            if isinstance(name, str) and name:
                return name
    value = outputs.get(Output.API_STAGE_NAME, "")
    if value and not value.startswith(shims.NOT_EMULATED_PREFIX):
        return value
    raise RuntimeError(f"cannot tell the stage name of REST API {api_logical_id} from the template")
