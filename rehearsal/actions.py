"""What each CodePipeline action type does in the rehearsal (one function per type, `RUNNERS`).

- Source (CodeStarSourceConnection, CodeCommit): the local repository stands in for the configured one;
  the artifact is the commit's tracked files (`git archive`; with `OutputArtifactFormat:
  CODEBUILD_CLONE_REF`, a clone with `.git`).
- Build/Test (CodeBuild): the project's buildspec in a fresh workspace and build environment
  (rehearsal/codebuild.py, rehearsal/build_image.py); stacks a build deploys into the emulator are accounted.
- Deploy (CloudFormation): the template from the input artifact into the emulator with the action's
  stack name, parameters and capabilities: the real CDK CLI when the template is a stack of a cloud
  assembly (assets published, bootstrap checked), CloudFormation's API otherwise; then what the emulator
  did not create is accounted and the stack's API and queues are served locally.
- Approval (Manual): a prompt with the action's message and link (a CodeBuild console link of a build of
  this run is resolved to that build's local report).
Any other type is "not emulated" (the executor says whether the run can go on past it).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from product.contract import NOT_EMULATED_VARIABLE
from rehearsal import build_image, cdk_cli, codebuild, iam
from rehearsal.assembly import StackArtifact, stacks
from rehearsal.deployed_stage import DeployedStack, StageRuntime, account_for, write_not_emulated
from rehearsal.pipeline_plan import BuildProject, PipelinePlan, PlannedAction
from rehearsal.safety import check_caller_environment
from rehearsal.variables import Variables

CAPABILITY_IAM = "CAPABILITY_IAM"
CAPABILITY_NAMED_IAM = "CAPABILITY_NAMED_IAM"
CAPABILITY_AUTO_EXPAND = "CAPABILITY_AUTO_EXPAND"
_IAM_NAMES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
_CONSOLE = "console.aws.amazon.com"


class ActionFailedError(RuntimeError):
    """The action failed; the message says why (the executor stops the run)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class NotEmulatedError(RuntimeError):
    """The rehearsal cannot run this action; the message says why."""


class StoppedAtApprovalError(RuntimeError):
    """A manual approval could not be asked (no terminal, no --approve): the run stops there, exit 0."""


@dataclass
class Outcome:
    """What one action did: a one-line summary, variables it published, details for the reports."""

    summary: str
    variables: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunState:
    """Everything the actions of one execution share."""

    plan: PipelinePlan
    emulator: Any
    repository: Path
    commit: str
    branch: str
    workspace: Path  # scratch: build directories
    artifacts_dir: Path  # kept: one directory per artifact
    reports: Path  # reports/rehearsal
    console: Any
    approve: bool
    faults: dict[str, Any]
    variables: Variables
    artifacts: dict[str, Path] = field(default_factory=dict)
    deployed: dict[str, DeployedStack] = field(default_factory=dict)  # stack name -> accounting
    deployed_by: dict[str, str] = field(default_factory=dict)  # stack name -> action path
    runtimes: dict[str, StageRuntime] = field(default_factory=dict)
    # The run includes the pipeline's asset actions: a deploy then needs its assets already published, as a
    # CloudFormation action does (the CDK CLI's deploy would publish what is missing and hide a failed Assets).
    assets_published_by_pipeline: bool = False
    not_emulated_files: dict[str, Path] = field(default_factory=dict)
    local_pages: dict[str, Path] = field(default_factory=dict)  # build id -> its local report page
    build_numbers: dict[str, int] = field(default_factory=dict)
    reused: dict[str, Path] = field(default_factory=dict)  # action path -> assembly reused for its output

    def log_file(self, action: PlannedAction) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.@-]+", "_", action.name)
        return self.reports / "logs" / re.sub(r"[^A-Za-z0-9_.@-]+", "_", action.stage) / f"{safe}.log"

    def artifact(self, name: str, action: PlannedAction) -> Path:
        if name not in self.artifacts:
            raise ActionFailedError(f"action {action.path}: input artifact {name} was not produced in this run")
        return self.artifacts[name]

    def template_file(self, reference: str, action: PlannedAction) -> Path:
        """`Artifact::path/in/artifact` -> the file."""
        artifact, sep, inner = reference.partition("::")
        if not sep:
            raise ActionFailedError(f"action {action.path}: {reference!r} is not of the form ArtifactName::path")
        path = self.artifact(artifact, action) / inner
        if not path.is_file():
            raise ActionFailedError(f"action {action.path}: {inner} is not in artifact {artifact}")
        return path


# --- source ------------------------------------------------------------------------------------------


def run_source(state: RunState, action: PlannedAction, log: Path) -> Outcome:
    config = action.configuration
    repository = str(config.get("FullRepositoryId") or config.get("RepositoryName") or "?")
    branch = str(config.get("BranchName", ""))
    if len(action.output_artifacts) != 1:
        raise ActionFailedError(f"action {action.path}: a source action has exactly one output artifact")
    name = action.output_artifacts[0]
    target = state.workspace / "artifacts" / name  # the commit's files: scratch, never under reports/
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    clone_ref = config.get("OutputArtifactFormat") == "CODEBUILD_CLONE_REF"
    with log.open("a", encoding="utf-8") as out:
        out.write(f"{repository}@{branch} is stood in for by {state.repository} at {state.commit}\n")
        if clone_ref:
            _git(["clone", "--quiet", "--shared", "--no-checkout", str(state.repository), str(target)], out)
            _git(["-C", str(target), "checkout", "--quiet", state.commit], out)
        else:
            archive = subprocess.run(
                ["git", "-C", str(state.repository), "archive", "--format=tar", state.commit],
                capture_output=True,
                check=False,
            )
            if archive.returncode != 0:
                raise ActionFailedError(f"git archive {state.commit} failed: {archive.stderr.decode()[-500:]}")
            subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    state.artifacts[name] = target
    show = subprocess.run(
        ["git", "-C", str(state.repository), "show", "-s", "--format=%B%x00%aI", state.commit],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    message, _, author_date = show.partition("\0")
    variables = {
        "CommitId": state.commit,
        "CommitMessage": message.strip(),
        "AuthorDate": author_date.strip(),
        "BranchName": branch,
    }
    if "FullRepositoryId" in config:
        variables.update({"FullRepositoryName": repository, "ConnectionArn": str(config.get("ConnectionArn", ""))})
    else:
        variables["RepositoryName"] = repository
    files = sum(1 for p in target.rglob("*") if p.is_file())
    kind = "clone (.git kept, CODEBUILD_CLONE_REF)" if clone_ref else "tracked files (git archive, no .git)"
    return Outcome(
        f"{repository}@{branch} <- local commit {state.commit[:12]} ({state.branch}): {files} {kind} -> {name}",
        variables,
        {"artifact": name, "files": files, "commit": state.commit},
    )


def _git(args: list[str], out: Any) -> None:
    completed = subprocess.run(["git", *args], stdout=out, stderr=subprocess.STDOUT, check=False)
    if completed.returncode != 0:
        raise ActionFailedError(f"git {' '.join(args)} failed (exit {completed.returncode})")


# --- CodeBuild ------------------------------------------------------------------------------------------


def run_codebuild(state: RunState, action: PlannedAction, log: Path) -> Outcome:
    config = action.configuration
    project_name = str(config.get("ProjectName", ""))
    project = state.plan.projects.get(project_name)
    if project is None:
        raise NotEmulatedError(
            f"CodeBuild project {project_name!r} is not defined in the pipeline stack's template; the rehearsal "
            "runs projects it can read the buildspec of"
        )
    if not action.input_artifacts:
        raise ActionFailedError(f"action {action.path}: a CodeBuild action needs an input artifact")
    number = state.build_numbers.get(project.name, 0) + 1
    state.build_numbers[project.name] = number
    build_id = f"{project.name}:{uuid.uuid4()}"
    root = state.workspace / "builds" / f"{re.sub(r'[^A-Za-z0-9]+', '-', action.path)}-{number}"
    shutil.rmtree(root, ignore_errors=True)
    primary = str(config.get("PrimarySource") or action.input_artifacts[0])
    source_dir = root / "src"
    shutil.copytree(state.artifact(primary, action), source_dir, symlinks=True)
    secondary = {}
    for name in action.input_artifacts:
        if name != primary:
            secondary[name] = root / "src2" / name
            shutil.copytree(state.artifact(name, action), secondary[name], symlinks=True)
    text = project.buildspec
    if text and "\n" not in text and not text.lstrip().startswith("{") and (source_dir / text).is_file():
        text = (source_dir / text).read_text()
    buildspec = codebuild.Buildspec.parse(text, origin=f"project {project.name}")
    image = build_image.provision(root / "image", buildspec.runtime_versions)
    env = image.env
    env.update(state.emulator.environment(base={}))
    env.update(_secrets(state, buildspec.parameter_store, buildspec.secrets_manager, action))
    env.update(buildspec.variables)
    env.update(_typed(state, project.environment_variables, action))
    action_variables = json.loads(str(config.get("EnvironmentVariables") or "[]"))
    env.update(_typed(state, [_Variable(**_lower(v)) for v in action_variables], action))
    target = _target_stack(state, action)
    if target is not None and target in state.not_emulated_files:
        env[NOT_EMULATED_VARIABLE] = str(state.not_emulated_files[target])  # the emulator's honesty note
    region, account = state.emulator.region, state.emulator.account
    env.update(
        {
            "CODEBUILD_BUILD_ID": build_id,
            "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{region}:{account}:build/{build_id}",
            "CODEBUILD_BUILD_NUMBER": str(number),
            "CODEBUILD_BUILD_IMAGE": project.image,
            "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_INITIATOR": f"codepipeline/{state.plan.name}",
            "CODEBUILD_KMS_KEY_ID": project.kms_key,
            "CODEBUILD_LOG_PATH": build_id.split(":", 1)[1],
            "CODEBUILD_RESOLVED_SOURCE_VERSION": state.commit,
            "CODEBUILD_SOURCE_VERSION": state.commit,
            "CODEBUILD_SRC_DIR": str(source_dir),
            "CODEBUILD_START_TIME": str(int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
            **{f"CODEBUILD_SRC_DIR_{name}": str(path) for name, path in secondary.items()},
        }
    )
    session = _service_role_session(state, project, action, build_id)
    if session is not None:
        env.update(session.environment())
    # A build never reaches AWS: loopback endpoints, and dummy credentials or the emulator's own session.
    check_caller_environment(env, emulator_access_key_id=session.access_key_id if session else None)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"build {build_id} of project {project.name} ({project.image}, {project.compute_type})\n")
        out.write(
            f"service role {session.role_arn} (assumed by codebuild.amazonaws.com)\n"
            if session is not None
            else "service role: not assumed (IAM is not enforced in this emulator; dummy credentials)\n"
        )
        for runtime in image.runtimes:
            out.write(f"runtime {runtime.name}: requested {runtime.requested}, used {runtime.used} {runtime.note}\n")
    outputs = {name: state.workspace / "artifacts" / name for name in action.output_artifacts}
    stacks_before = _stack_versions(state)
    result = codebuild.run_build(
        buildspec,
        build_id=build_id,
        source_dir=source_dir,
        env=env,
        control_dir=root / "control",
        log_file=log,
        output_artifacts=outputs,
        reports_dir=state.reports / "builds" / re.sub(r"[^A-Za-z0-9]+", "-", action.path),
        timeout_s=project.timeout_minutes * 60,
    )
    deployed = _account_new_stacks(state, action, stacks_before)
    result.artifacts = {name: _keep(state, name, path) for name, path in result.artifacts.items()}
    state.artifacts.update(result.artifacts)
    page = _local_page(result)
    if page is not None:
        state.local_pages[build_id] = page
    details = {
        "build_id": build_id,
        "project": project.name,
        "image": project.image,
        "runtimes": [r.as_dict() for r in image.runtimes],
        "phases": [vars(p) for p in result.phases],
        "reports": [vars(r) for r in result.reports],
        "artifacts": {name: str(path) for name, path in result.artifacts.items()},
        "exported": result.exported,
        "service_role": session.role_arn if session is not None else None,
        "stacks_deployed": deployed,
        "local_page": str(page) if page else None,
        "notes": result.notes,
    }
    if result.status != "SUCCEEDED":
        raise ActionFailedError(f"build {result.message}", details)
    return Outcome(_build_summary(result, image, deployed), result.exported, details)


def _service_role_session(
    state: RunState, project: BuildProject, action: PlannedAction, build_id: str
) -> iam.RoleCredentials | None:
    """The build's credentials: a session of the project's service role, opened as CodeBuild opens it (None
    when the emulator does not enforce IAM: the build then has the dummy credentials)."""
    if state.emulator.authorization is None:
        return None
    role_arn = project.service_role_arn or _deployed_role_arn(state, project, action)
    try:
        return state.emulator.credentials_for_role(
            role_arn,
            service="codebuild.amazonaws.com",
            session_name=f"AWSCodeBuild-{build_id.split(':', 1)[1]}",
            caller=f"build {action.path}",
        )
    except iam.AccessDeniedError as error:
        raise ActionFailedError(f"action {action.path}: CodeBuild cannot start the build: {error}") from None


def _deployed_role_arn(state: RunState, project: BuildProject, action: PlannedAction) -> str:
    """The ARN of the project's role as the deployed pipeline stack created it."""
    if project.service_role_logical_id is None:
        raise ActionFailedError(f"action {action.path}: CodeBuild project {project.name} has no service role")
    stack_name, logical_id = state.plan.stack.stack_name, project.service_role_logical_id
    cloudformation = state.emulator.client("cloudformation")
    physical = None
    try:
        # Not DescribeStackResource: moto's fails with a 500 on a stack holding a resource it did not create.
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for summary in page["StackResourceSummaries"]:
                if summary["LogicalResourceId"] == logical_id:
                    physical = str(summary.get("PhysicalResourceId", ""))
    except cloudformation.exceptions.ClientError as error:
        physical, reason = None, str(error)
    else:
        reason = f"stack {stack_name} has no resource {logical_id}"
    if not physical:
        raise ActionFailedError(
            f"action {action.path}: the service role {logical_id} of project {project.name} is not in the emulator "
            f"(the pipeline stack {stack_name} is deployed before the first stage): {reason}"
        )
    if physical.startswith("arn:"):
        return physical
    return str(state.emulator.client("iam").get_role(RoleName=physical)["Role"]["Arn"])


def _keep(state: RunState, name: str, directory: Path) -> Path:
    """A build's output artifact, kept under reports/ for the run page; a cloud assembly (and its Lambda code)
    stays in the run's scratch space, so no source tree lands where linters and test runners look."""
    if (directory / "manifest.json").is_file():
        return directory
    kept = state.artifacts_dir / name
    shutil.rmtree(kept, ignore_errors=True)
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(directory), kept)
    return kept


@dataclass(frozen=True)
class _Variable:
    name: str
    value: str
    type: str = "PLAINTEXT"


def _lower(item: dict[str, Any]) -> dict[str, str]:
    return {k.lower(): str(v) for k, v in item.items() if k.lower() in ("name", "value", "type")}


def _typed(state: RunState, variables: Any, action: PlannedAction) -> dict[str, str]:
    values = {}
    for variable in variables:
        if variable.type == "PLAINTEXT":
            values[variable.name] = variable.value
        elif variable.type == "PARAMETER_STORE":
            values.update(_secrets(state, {variable.name: variable.value}, {}, action))
        elif variable.type == "SECRETS_MANAGER":
            values.update(_secrets(state, {}, {variable.name: variable.value}, action))
        else:
            raise ActionFailedError(
                f"action {action.path}: environment variable {variable.name} has type {variable.type}"
            )
    return values


def _secrets(
    state: RunState, parameters: dict[str, str], secrets: dict[str, str], action: PlannedAction
) -> dict[str, str]:
    """Parameter Store and Secrets Manager values, read from the emulator as the build would read them."""
    values = {}
    for name, parameter in parameters.items():
        try:
            found = state.emulator.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
        except Exception as error:
            raise ActionFailedError(f"action {action.path}: {name} from Parameter Store {parameter}: {error}") from None
        values[name] = found["Parameter"]["Value"]
    for name, reference in secrets.items():
        secret_id, _, json_key = reference.partition(":")
        try:
            secret = state.emulator.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        except Exception as error:
            raise ActionFailedError(f"action {action.path}: {name} from Secrets Manager {secret_id}: {error}") from None
        values[name] = str(json.loads(secret)[json_key.split(":")[0]]) if json_key else secret
    return values


def _target_stack(state: RunState, action: PlannedAction) -> str | None:
    """The stack this build talks to: the one whose outputs it reads, else the one its stage deployed."""
    by_namespace = {
        state.plan.action(path).namespace: stack for stack, path in state.deployed_by.items() if path in _paths(state)
    }
    planned = state.plan.action(action.path)  # `action` has its configuration resolved already
    read = {by_namespace[n] for n in planned.referenced_namespaces() if n in by_namespace}
    if len(read) == 1:
        return read.pop()
    same_stage = {stack for stack, path in state.deployed_by.items() if path.split("/", 1)[0] == action.stage}
    return same_stage.pop() if len(same_stage) == 1 else None


def _paths(state: RunState) -> set[str]:
    return {a.path for a in state.plan.actions()}


def _local_page(result: codebuild.BuildResult) -> Path | None:
    """The page a person would open for this build: an HTML file among its reports or artifacts."""
    for report in result.reports:
        for file in report.files:
            pages = sorted(Path(file).parent.glob("*.html"))
            if pages:
                return pages[0]
    for directory in result.artifacts.values():
        pages = sorted(directory.glob("*.html"))
        if pages:
            return pages[0]
    return None


def _build_summary(result: codebuild.BuildResult, image: build_image.BuildImage, deployed: list[dict[str, Any]]) -> str:
    parts = [" ".join(f"{p.name} {p.seconds:.1f}s" for p in result.phases if p.status != "NOT_RUN")]
    parts.append(", ".join(f"{r.name} {r.used}" for r in image.runtimes if r.requested != "(not requested)"))
    for report in result.reports:
        c = report.counts
        if c:
            parts.append(
                f"report {c.get('tests', 0)} tests, {c.get('failures', 0) + c.get('errors', 0)} failed, "
                f"{c.get('skipped', 0)} skipped"
            )
    if result.exported:
        parts.append("exported " + ", ".join(result.exported))
    parts.extend(f"deployed {d['stack']} into the emulator ({d['status']})" for d in deployed)
    return "; ".join(p for p in parts if p)


def _stack_versions(state: RunState) -> dict[str, str]:
    cloudformation = state.emulator.client("cloudformation")
    versions = {}
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page["Stacks"]:
            versions[stack["StackName"]] = f"{stack['StackId']}:{stack.get('LastUpdatedTime', stack['CreationTime'])}"
    return versions


def _account_new_stacks(state: RunState, action: PlannedAction, before: dict[str, str]) -> list[dict[str, Any]]:
    """Stacks a build created or updated in the emulator (e.g. the pipeline's self-mutation), accounted."""
    after = _stack_versions(state)
    changed = [name for name, version in after.items() if before.get(name) != version]
    accounted = []
    for name in changed:
        artifact = _artifact_for_stack(state, action, name)
        status = state.emulator.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        entry: dict[str, Any] = {"stack": name, "status": status}
        if artifact is not None:
            deployed = account_for(state.emulator, artifact)
            state.deployed[name] = deployed
            state.deployed_by[name] = action.path
            entry.update(
                created=len(deployed.accounting.created), template_resources=deployed.accounting.template_count
            )
        accounted.append(entry)
    return accounted


def _artifact_for_stack(state: RunState, action: PlannedAction, stack_name: str) -> StackArtifact | None:
    for name in action.input_artifacts:
        directory = state.artifacts.get(name)
        if directory is not None and (directory / "manifest.json").is_file():
            for artifact in stacks(directory):
                if artifact.stack_name == stack_name:
                    return artifact
    return None


# --- CloudFormation ---------------------------------------------------------------------------------------


def run_cloudformation(state: RunState, action: PlannedAction, log: Path) -> Outcome:
    config = action.configuration
    mode = str(config.get("ActionMode", ""))
    if mode not in ("CREATE_UPDATE", "REPLACE_ON_FAILURE", "CHANGE_SET_REPLACE", "CHANGE_SET_EXECUTE"):
        raise NotEmulatedError(f"CloudFormation ActionMode {mode}: the rehearsal creates and updates stacks only")
    stack_name = str(config.get("StackName", ""))
    if mode == "CHANGE_SET_EXECUTE":
        prepared = state.artifacts.get(f"changeset:{stack_name}")
        if prepared is None:
            raise ActionFailedError(f"action {action.path}: no change set of {stack_name} was prepared in this run")
        template = prepared
    else:
        template = state.template_file(str(config.get("TemplatePath", "")), action)
    body = json.loads(template.read_text())
    _check_capabilities(body, str(config.get("Capabilities", "")), action)
    parameters = _parameters(state, config, action)
    if mode == "CHANGE_SET_REPLACE":
        state.artifacts[f"changeset:{stack_name}"] = template
        return Outcome(
            f"change set {config.get('ChangeSetName', '')} of {stack_name} prepared; the emulator cannot execute "
            "change sets, so the execute action deploys the template directly",
            details={"stack": stack_name, "template": str(template)},
        )
    artifact = _assembly_stack(template, stack_name)
    env = state.emulator.environment()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"deploy {template} as {stack_name} ({mode}); parameters {parameters}\n")
        out.write(f"role {config.get('RoleArn', '(none)')}: the CDK CLI assumes the bootstrap roles instead\n")
    if artifact is not None:
        if state.assets_published_by_pipeline:
            _require_published_assets(state, artifact, action)
        try:
            run = cdk_cli.deploy(
                artifact.display_name, assembly=_assembly_root(template), env=env, log_file=log, parameters=parameters
            )
        except cdk_cli.CdkError as error:
            raise ActionFailedError(str(error)) from None
        how, seconds = f"cdk deploy '{artifact.display_name}' --method=direct", run.seconds
    else:
        artifact, seconds = (
            _deploy_with_api(state, template, stack_name, parameters, str(config.get("Capabilities", ""))),
            0.0,
        )
        how = "CloudFormation CreateStack/UpdateStack"
    deployed = account_for(state.emulator, artifact)
    state.deployed[stack_name] = deployed
    state.deployed_by[stack_name] = action.path
    runtime = _serve(state, deployed, action)
    not_emulated = write_not_emulated(state.reports / "emulator" / f"{stack_name}.not-emulated.json", deployed, runtime)
    state.not_emulated_files[stack_name] = not_emulated
    variables, rewrites = _output_variables(deployed.outputs, runtime)
    if config.get("OutputFileName") and action.output_artifacts:
        directory = state.artifacts_dir / action.output_artifacts[0]
        directory.mkdir(parents=True, exist_ok=True)
        (directory / str(config["OutputFileName"])).write_text(json.dumps(deployed.outputs, indent=2))
        state.artifacts[action.output_artifacts[0]] = directory
    a = deployed.accounting
    summary = (
        f"{how}: {stack_name} CREATE_COMPLETE in {seconds:.1f} s; {a.template_count} template resources: "
        f"{len(a.created)} created, {len(a.skipped)} not emulated, {len(a.provided)} provided by the harness"
    )
    if runtime.api_url:
        summary += f"; API served at {runtime.api_url}"
    return Outcome(
        summary,
        variables,
        {
            "stack": stack_name,
            "template": str(template),
            "parameters": parameters,
            "capabilities": str(config.get("Capabilities", "")),
            "outputs": deployed.outputs,
            "rewritten_outputs": rewrites,
            "not_emulated_file": str(not_emulated),
            "api_url": runtime.api_url,
        },
    )


def _require_published_assets(state: RunState, artifact: StackArtifact, action: PlannedAction) -> None:
    """Every file asset of the stack is in its bucket: CloudFormation publishes nothing, the Assets stage did."""
    s3 = state.emulator.client("s3")
    missing = []
    for asset in artifact.file_assets(state.emulator.account, state.emulator.region):
        try:
            s3.head_object(Bucket=asset.bucket, Key=asset.key)
        except s3.exceptions.ClientError:
            missing.append(f"{asset.source_path} (s3://{asset.bucket}/{asset.key})")
    if missing:
        raise ActionFailedError(
            f"action {action.path}: {artifact.display_name} needs assets the pipeline's Assets stage did not publish: "
            f"{', '.join(missing)}; a CloudFormation deploy action publishes nothing"
        )


def _check_capabilities(template: dict[str, Any], capabilities: str, action: PlannedAction) -> None:
    """CloudFormation's InsufficientCapabilities check (moto does not make it)."""
    granted = {c.strip() for c in capabilities.split(",") if c.strip()}
    resources = template.get("Resources", {}).values()
    needed = set()
    if any(r.get("Type") in _IAM_NAMES for r in resources):
        needed.add(CAPABILITY_IAM)
    if any(_IAM_NAMES.get(r.get("Type", "")) in (r.get("Properties") or {}) for r in resources):
        needed.add(CAPABILITY_NAMED_IAM)
    if template.get("Transform") or any(r.get("Type") == "AWS::CloudFormation::Stack" for r in resources):
        needed.add(CAPABILITY_AUTO_EXPAND)
    if CAPABILITY_NAMED_IAM in granted:
        granted.add(CAPABILITY_IAM)
    missing = sorted(needed - granted)
    if missing:
        raise ActionFailedError(
            f"action {action.path}: InsufficientCapabilities: the template requires {', '.join(missing)} "
            f"(the action grants {capabilities or 'none'})"
        )


def _parameters(state: RunState, config: dict[str, Any], action: PlannedAction) -> dict[str, str]:
    parameters: dict[str, str] = {}
    if config.get("TemplateConfiguration"):
        document = json.loads(state.template_file(str(config["TemplateConfiguration"]), action).read_text())
        parameters.update({str(k): str(v) for k, v in (document.get("Parameters") or {}).items()})
    if config.get("ParameterOverrides"):
        overrides = json.loads(str(config["ParameterOverrides"]))
        for name, value in overrides.items():
            if isinstance(value, dict):
                raise NotEmulatedError(f"parameter override {name}: {json.dumps(value)} (Fn::GetParam is not emulated)")
            parameters[str(name)] = str(value)
    return parameters


def _assembly_root(template: Path) -> Path:
    for parent in template.parents:
        if (parent / "manifest.json").is_file() and not (parent.parent / "manifest.json").is_file():
            return parent
    return template.parent


def _assembly_stack(template: Path, stack_name: str) -> StackArtifact | None:
    """The cloud assembly's stack artifact of this template file, if the template belongs to one."""
    root = _assembly_root(template)
    if not (root / "manifest.json").is_file():
        return None
    for artifact in stacks(root):
        if artifact.template_file.resolve() == template.resolve():
            if artifact.stack_name != stack_name:
                raise NotEmulatedError(
                    f"the action deploys {template.name} as {stack_name}, but the assembly names that stack "
                    f"{artifact.stack_name}; the CDK CLI deploys under the assembly's name"
                )
            return artifact
    return None


def _deploy_with_api(
    state: RunState, template: Path, stack_name: str, parameters: dict[str, str], capabilities: str
) -> StackArtifact:
    cloudformation = state.emulator.client("cloudformation")
    arguments = {
        "StackName": stack_name,
        "TemplateBody": template.read_text(),
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Capabilities": [c.strip() for c in capabilities.split(",") if c.strip()],
    }
    try:
        cloudformation.describe_stacks(StackName=stack_name)
        cloudformation.update_stack(**arguments)
        cloudformation.get_waiter("stack_update_complete").wait(StackName=stack_name)
    except cloudformation.exceptions.ClientError as error:
        if "does not exist" not in str(error):
            raise ActionFailedError(f"CloudFormation: {error}") from None
        cloudformation.create_stack(**arguments)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=stack_name)
    return StackArtifact(
        artifact_id=stack_name,
        display_name=stack_name,
        stack_name=stack_name,
        template_file=template,
        account=state.emulator.account,
        region=state.emulator.region,
    )


def _serve(state: RunState, deployed: DeployedStack, action: PlannedAction) -> StageRuntime:
    name = deployed.artifact.stack_name
    previous = state.runtimes.pop(name, None)
    if previous is not None:
        previous.stop()
    runtime = StageRuntime(
        state.emulator,
        deployed,
        workdir=state.workspace / "functions" / name,
        log_dir=state.reports / "stacks" / name,
        faults=state.faults,
    ).start()
    state.runtimes[name] = runtime
    for api in runtime.apis:
        routes = ", ".join(f"{r.method} {r.resource}" for r in api.routes)
        state.console.line(f"    {action.path}: API {api.url} ({routes}) -> real handlers, in-process")
    for poller in runtime.pollers:
        queue = poller.mapping.queue_arn.rsplit(":", 1)[-1]
        function = poller.mapping.function_arn.rsplit(":function:", 1)[-1]
        state.console.line(f"    {action.path}: SQS {queue} -> {function} (batch {poller.mapping.batch_size})")
    return runtime


def _output_variables(outputs: dict[str, str], runtime: StageRuntime) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's outputs as the action's variables; an execute-api URL of an API served locally becomes the
    local gateway's URL (as AWS_ENDPOINT_URL stands in for the AWS endpoints)."""
    local = runtime.local_outputs(outputs)
    rewrites = {key: f"{outputs[key]} -> {url}" for key, url in local.items()}
    return {**outputs, **local}, rewrites


# --- manual approval ------------------------------------------------------------------------------------


def run_approval(state: RunState, action: PlannedAction, log: Path) -> Outcome:
    config = action.configuration
    message = str(config.get("CustomData", ""))
    link = str(config.get("ExternalEntityLink", ""))
    local_message, local_link = _localize(state, message), _localize(state, link)
    with log.open("a", encoding="utf-8") as out:
        out.write(f"message: {message}\nlink: {link}\nlocal link: {local_link}\n")
        out.write(f"notification topic {config.get('NotificationArn', '(none)')}: not sent (no one to notify)\n")
    details = {"message": message, "link": link, "local_link": local_link}
    state.console.line(f"    {action.path}: {local_message}")
    if local_link:
        state.console.line(f"    {action.path}: review {local_link}")
    if state.approve:
        return Outcome("approved by --approve", details=details)
    if not sys.stdin or not sys.stdin.isatty():
        raise StoppedAtApprovalError(
            f"approval {action.path} is waiting: no terminal to ask and --approve not given; the run stops here "
            "(pass --approve for unattended runs)"
        )
    try:
        answer = input(f"           Approve {action.path}? [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise ActionFailedError(f"approval {action.path} rejected at the prompt", details)
    return Outcome("approved at the prompt", details=details)


def _localize(state: RunState, text: str) -> str:
    """CodeBuild console links of this run's builds -> their local report pages."""
    if _CONSOLE not in text:
        return text
    for build_id, page in state.local_pages.items():
        for form in (build_id, quote(build_id, safe=""), build_id.replace(":", "%3A")):
            pattern = re.compile(r"https://[^\s]*" + re.escape(_CONSOLE) + r"[^\s]*" + re.escape(form) + r"[^\s]*")
            text = pattern.sub(page.resolve().as_uri(), text)
    return text


Runner = Callable[[RunState, PlannedAction, Path], Outcome]
RUNNERS: dict[tuple[str, str, str], Runner] = {
    ("Source", "AWS", "CodeStarSourceConnection"): run_source,
    ("Source", "AWS", "CodeCommit"): run_source,
    ("Build", "AWS", "CodeBuild"): run_codebuild,
    ("Test", "AWS", "CodeBuild"): run_codebuild,
    ("Deploy", "AWS", "CloudFormation"): run_cloudformation,
    ("Approval", "AWS", "Manual"): run_approval,
}
