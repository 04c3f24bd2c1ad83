"""The rehearsal: one execution of the synthesized pipeline, in this process, on the embedded emulator.

Stages run in order, actions by run order (actions sharing a run order, which CodePipeline runs in
parallel, run one after the other here). Before the first stage the emulator's account is bootstrapped
with the real CDK CLI, as an operator does once per account. A failed action stops the run (exit 1);
an approval that cannot be asked stops it with exit 0; an action type the rehearsal cannot run is
reported "not emulated", and the run goes on past it only if no later action reads its artifacts or
variables. After the action that produces the cloud assembly, the pipeline is planned again from that
assembly (the definition of record for this commit); if the stages already run changed, the execution
restarts once with the new definition, as self-mutation restarts it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rehearsal import actions, cdk_cli, shims
from rehearsal.assembly import catalog_stacks
from rehearsal.catalog_launch import rehearse_catalog_launch
from rehearsal.deployed_stage import IamWatch
from rehearsal.emulator import Emulator
from rehearsal.pipeline_plan import PipelinePlan, PlannedAction, load_plan
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, check_caller_environment
from rehearsal.variables import UnresolvedVariableError, Variables

LAST_LOG_LINES = 25
ASSETS_STAGE = "Assets"  # CDK Pipelines' stage of the asset-publishing actions
SUCCEEDED, FAILED, NOT_EMULATED = "Succeeded", "Failed", "Not emulated"
REUSED, SKIPPED, NOT_RUN, STOPPED = "Reused", "Skipped", "Not run", "Stopped at approval"


class Console:
    """Progress lines with the elapsed time, on the stream the rehearsal was given."""

    def __init__(self, stream: TextIO | None = None) -> None:
        import sys  # noqa: PLC0415 - the default stream only

        self.stream = stream or sys.stdout
        self.started = time.monotonic()

    def line(self, text: str = "") -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{elapsed:6.1f}s] {text}\n" if text else "\n")
        self.stream.flush()

    def raw(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


@dataclass
class ActionResult:
    stage: str
    name: str
    action_type: str
    run_order: int
    status: str = NOT_RUN
    seconds: float = 0.0
    summary: str = ""
    log: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"{self.stage}/{self.name}"


@dataclass
class RunResult:
    pipeline: str
    template: str
    commit: str
    source_note: str
    emulator: str
    actions: list[ActionResult] = field(default_factory=list)
    not_emulated: list[dict[str, str]] = field(default_factory=list)
    provided_by_harness: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)
    exit_code: int = 0
    verdict: str = ""
    bootstrap_s: float = 0.0
    total_s: float = 0.0
    catalog_launch: dict[str, Any] = field(default_factory=dict)

    def action(self, path: str) -> ActionResult:
        return next(a for a in self.actions if a.path == path)

    def stage_status(self, stage: str) -> str:
        """The stage as the console shows it: the first of Failed, Stopped, Not emulated, Not run, Skipped."""
        statuses = [a.status for a in self.actions if a.stage == stage]
        if all(s == SKIPPED for s in statuses):
            return SKIPPED
        for status in (FAILED, STOPPED, NOT_EMULATED, NOT_RUN):
            if status in statuses:
                return status
        return SUCCEEDED


class _Restart(Exception):  # noqa: N818 - control flow, not an error
    def __init__(self, plan: PipelinePlan) -> None:
        self.plan = plan


class PipelineRehearsal:
    """Executes the pipeline planned from `assembly` on an emulator (started here, or shared)."""

    def __init__(
        self,
        assembly: Path,
        *,
        repository: Path,
        reports: Path,
        console: Console | None = None,
        emulator: Emulator | None = None,
        reuse_synth: bool = False,
        approve: bool = False,
        only_stage: str | None = None,
        pipeline: str | None = None,
        include_uncommitted: bool = False,
        faults: dict[str, Any] | None = None,
    ) -> None:
        check_caller_environment(os.environ)
        self.assembly = assembly.resolve()
        self.repository = repository.resolve()
        self.reports = reports.resolve() / "rehearsal"
        self.console = console or Console()
        self.reuse_synth = reuse_synth
        self.approve = approve
        self.only_stage = only_stage
        self.pipeline_name = pipeline
        self.include_uncommitted = include_uncommitted
        self.faults = faults or {}
        self.plan = load_plan(self.assembly, pipeline=pipeline)
        if only_stage is not None:
            self.plan.stage(only_stage)  # a clear error for an unknown stage, before anything starts
        self._own_emulator = emulator is None
        self.emulator = emulator or Emulator(
            account=self.plan.account, region=self.plan.region, log_file=self.reports / "emulator.log", enforce_iam=True
        )
        self._workspace = tempfile.TemporaryDirectory(prefix="rehearsal-run-")
        self.state: actions.RunState | None = None

    def __enter__(self) -> PipelineRehearsal:
        if self._own_emulator:
            self.emulator.start()
        self.console.line(
            f"emulator: moto {shims.MOTO_VERSION} in-process at {self.emulator.endpoint} (account "
            f"{self.emulator.account}, {self.emulator.region}); {len(shims.SHIMS)} emulator shims applied"
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.state is not None:
            for runtime in self.state.runtimes.values():
                runtime.stop()
            self.state.runtimes.clear()
        if self._own_emulator:
            self.emulator.stop()
        self._workspace.cleanup()

    # --- the run ------------------------------------------------------------------------------------

    def run(self, *, deploy_only: bool = False) -> RunResult:
        """One execution (with `only_stage`: that stage and what it reads from). `deploy_only`: of that stage,
        its CloudFormation deploy actions only (the serve mode)."""
        started = time.monotonic()
        for stale in ("logs", "builds", "artifacts", "emulator"):
            shutil.rmtree(self.reports / stale, ignore_errors=True)
        commit, branch, note = self._source_commit()
        result = self._new_result(commit, note)
        self.console.line(
            f"pipeline {self.plan.name} from {self._rel(self.plan.stack.template_file)}: {self.plan.summary()}"
        )
        self.console.line(note)
        result.bootstrap_s = self._bootstrap() + self._deploy_pipeline_stack()
        plan, restarted = self.plan, False
        while True:
            self.state = self._new_state(plan, commit, branch)
            result.actions = [ActionResult(a.stage, a.name, str(a.action_type), a.run_order) for a in plan.actions()]
            result.stages = [s.name for s in plan.stages]
            try:
                self._execute(plan, result, deploy_only=deploy_only)
                break
            except _Restart as restart:
                if restarted:
                    result.exit_code, result.verdict = 1, "PIPELINE DEFINITION CHANGED TWICE"
                    break
                restarted = True
                for runtime in self.state.runtimes.values():
                    runtime.stop()
                plan = self.plan = restart.plan
                result.notes.append("the execution restarted once with the pipeline definition of this commit")
        if result.exit_code == 0 and not deploy_only and self.only_stage is None and self._catalog_published(result):
            self._launch_from_catalog(result)
        self._collect_accounting(result)
        result.total_s = time.monotonic() - started
        if not result.verdict:
            result.verdict = "PIPELINE REHEARSED" if result.exit_code == 0 else "PIPELINE FAILED"
        return result

    def _catalog_published(self, result: RunResult) -> bool:
        """Whether this run deployed a stack that publishes the Service Catalog product into the emulator."""
        if any(a.status not in (SUCCEEDED, REUSED) for a in result.actions):
            return False
        cloudformation = self.emulator.client("cloudformation")
        for stack in catalog_stacks(self.assembly):
            try:
                status = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackStatus"]
            except cloudformation.exceptions.ClientError:
                continue
            if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                return True
        return False

    def _launch_from_catalog(self, result: RunResult) -> None:
        """After the pipeline: a team launches the product, smoke-tests and terminates it (catalog_launch.py)."""
        self.console.line("Catalog launch (after the pipeline: a team launches the product it published)")
        launch = rehearse_catalog_launch(self.emulator, self.assembly, self.reports, self.console)
        result.catalog_launch = asdict(launch)
        self.console.line(f"  {launch.status.capitalize()}  catalog launch  {launch.seconds:.1f} s  log {launch.log}")
        if launch.message:
            self.console.line(f"    {launch.message}")
        if launch.status == "failed":
            result.exit_code, result.verdict = 1, "CATALOG LAUNCH FAILED"

    def _execute(self, plan: PipelinePlan, result: RunResult, *, deploy_only: bool) -> None:
        selected = self._selection(plan, deploy_only)
        assert self.state is not None
        self.state.assets_published_by_pipeline = any(
            a.path in selected for stage in plan.stages if stage.name == ASSETS_STAGE for a in stage.actions
        )
        stopped = False
        for stage in plan.stages:
            if stopped:
                break
            if not any(a.path in selected for a in stage.actions):
                for action in stage.actions:
                    result.action(action.path).status = SKIPPED
                self.console.line(f"Stage {stage.name}: skipped (--stage {self.only_stage} does not read from it)")
                continue
            self.console.line(f"Stage {stage.name}")
            for run_order, group in stage.run_orders():
                if stopped:
                    break
                if len(group) > 1:
                    self.console.line(
                        f"  run order {run_order}: {len(group)} actions (parallel in CodePipeline; in turn here)"
                    )
                for action in group:
                    outcome = result.action(action.path)
                    if action.path not in selected:
                        outcome.status = SKIPPED
                        continue
                    stopped = not self._run_action(plan, action, outcome, result)
                    if stopped:
                        break
                    self._replan_if_assembly(plan, action, result)

    def _run_action(self, plan: PipelinePlan, action: PlannedAction, outcome: ActionResult, result: RunResult) -> bool:
        """Run one action; False stops the run."""
        assert self.state is not None
        state = self.state
        log = state.log_file(action)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("")
        outcome.log = self._rel(log)
        started = time.monotonic()
        self.console.line(f"  {action.name} ({action.action_type}) ...")
        watch: IamWatch | None = None
        try:
            if action.path in state.reused:
                outcome.status, outcome.summary = REUSED, self._reuse(action)
                return True
            runner = actions.RUNNERS.get(action.action_type.key)
            if runner is None:
                raise actions.NotEmulatedError(
                    f"no local executor for action type {action.action_type} (the rehearsal runs "
                    + ", ".join("/".join(k) for k in actions.RUNNERS)
                    + ")"
                )
            resolved = state.variables.resolve(action.configuration, action=action.path, field="configuration")
            action_watch = watch = IamWatch(state.emulator, state.runtimes)
            done = runner(state, _with_configuration(action, resolved), log)
            if denied := action_watch.failures():  # a denied call (a function's, a log delivery's, the action's)
                watch = None  # named in this message already
                iam_report = action_watch.report().as_dict()
                raise actions.ActionFailedError("; ".join(denied), {**done.details, "iam": iam_report})
            state.variables.publish(action.namespace, done.variables)
            outcome.status, outcome.summary, outcome.details = SUCCEEDED, done.summary, done.details
            outcome.details["iam"] = action_watch.report().as_dict()
            if done.variables and action.namespace:
                outcome.details["variables"] = done.variables
            return True
        except UnresolvedVariableError as error:
            return self._failed(outcome, str(error), result)
        except actions.ActionFailedError as error:
            outcome.details, message = error.details, str(error)
            if watch is not None and (denied := watch.failures()):  # the denial is what failed it, most likely
                outcome.details = {**error.details, "iam": watch.report().as_dict()}
                message = f"{message}; IAM denied during the action: {'; '.join(denied)}"
            return self._failed(outcome, message, result)
        except actions.NotEmulatedError as error:
            readers = plan.readers_after(action)
            outcome.status = NOT_EMULATED
            go_on = not readers
            verdict = (
                "the run goes on: no later action reads its artifacts or variables"
                if go_on
                else f"the run cannot go on: {', '.join(r.path for r in readers)} read(s) its outputs"
            )
            outcome.summary = f"{error}; {verdict}"
            if not go_on:
                result.exit_code, result.verdict = 1, f"PIPELINE STOPPED: {action.path} is not emulated"
            return go_on
        except actions.StoppedAtApprovalError as error:
            outcome.status, outcome.summary = STOPPED, str(error)
            result.verdict = f"PIPELINE STOPPED AT APPROVAL {action.path}"
            return False
        finally:
            outcome.seconds = time.monotonic() - started
            self._print_action(outcome)

    def _failed(self, outcome: ActionResult, message: str, result: RunResult) -> bool:
        outcome.status, outcome.summary = FAILED, message
        result.exit_code = 1
        result.verdict = f"PIPELINE FAILED at {outcome.path}"
        return False

    def _print_action(self, outcome: ActionResult) -> None:
        self.console.line(f"  {outcome.status:<12} {outcome.name}  {outcome.seconds:.1f} s  log {outcome.log}")
        if outcome.summary:
            self.console.line(f"    {outcome.summary.splitlines()[0][:400]}")
        if outcome.status == FAILED:
            log = Path(outcome.log)
            path = log if log.is_absolute() else Path.cwd() / log
            lines = path.read_text(errors="replace").splitlines()[-LAST_LOG_LINES:] if path.is_file() else []
            self.console.line(f"  {outcome.path} FAILED: {outcome.summary.splitlines()[0][:400]}")
            if lines:
                self.console.raw(f"  --- last {len(lines)} lines of {outcome.log} ---")
                for text in lines:
                    self.console.raw(f"  | {text}")

    # --- selection, source, assembly -----------------------------------------------------------------

    def _selection(self, plan: PipelinePlan, deploy_only: bool) -> set[str]:
        if self.only_stage is None:
            return {a.path for a in plan.actions()}
        wanted = {
            a.path
            for a in plan.stage(self.only_stage).actions
            if a.action_type.category != "Approval"
            and (not deploy_only or a.action_type.key == ("Deploy", "AWS", "CloudFormation"))
        }
        return plan.closure(wanted)

    def _source_commit(self) -> tuple[str, str, str]:
        def git(*args: str) -> str:
            # Only the final newline goes: a porcelain line starts with a space (" M README.md").
            return subprocess.run(
                ["git", "-C", str(self.repository), *args], capture_output=True, text=True, check=True
            ).stdout.rstrip("\n")

        try:
            head = git("rev-parse", "HEAD")
        except subprocess.CalledProcessError:
            raise actions.ActionFailedError(
                f"{self.repository} is not a git repository with a commit: the rehearsal rehearses a commit"
            ) from None
        branch = git("rev-parse", "--abbrev-ref", "HEAD")
        changes = git("status", "--porcelain", "--untracked-files=normal").splitlines()
        tracked = [c for c in changes if not c.startswith("??")]
        untracked = [c for c in changes if c.startswith("??")]
        commit, note = head, f"source: commit {head[:12]} ({branch})"
        if self.include_uncommitted and tracked:
            commit = git("stash", "create") or head
            note += (
                f" plus {len(tracked)} uncommitted change(s) (--include-uncommitted: git stash create {commit[:12]})"
            )
        elif tracked:
            note += (
                f"; {len(tracked)} uncommitted change(s) are NOT rehearsed ({', '.join(c[3:] for c in tracked[:5])}"
                + (", ..." if len(tracked) > 5 else "")
                + "): commit them, or pass --include-uncommitted"
            )
        if untracked:
            note += f"; {len(untracked)} untracked file(s) are never included (git add them, then as above)"
        return commit, branch, note

    def _assembly_action(self, plan: PipelinePlan) -> PlannedAction | None:
        """The action that produces the cloud assembly: the one whose artifact the deploy actions read."""
        for action in plan.actions():
            if action.action_type.key == ("Deploy", "AWS", "CloudFormation"):
                artifact = str(action.configuration.get("TemplatePath", "")).partition("::")[0]
                producer = plan.producer_of_artifact(artifact)
                if producer is not None:
                    return producer
        return None

    def _reuse(self, action: PlannedAction) -> str:
        assert self.state is not None
        for name in action.output_artifacts:
            self.state.artifacts[name] = self.assembly
        return (
            f"--reuse-synth: its commands were NOT run; output {', '.join(action.output_artifacts)} is the existing "
            f"assembly {self._rel(self.assembly)}, which may not match commit {self.state.commit[:12]}"
        )

    def _replan_if_assembly(self, plan: PipelinePlan, action: PlannedAction, result: RunResult) -> None:
        assert self.state is not None
        if self.reuse_synth or action.path in self.state.reused:
            return
        for name in action.output_artifacts:
            directory = self.state.artifacts.get(name)
            if directory is None or not (directory / "manifest.json").is_file():
                continue
            new = load_plan(directory, pipeline=plan.name)
            done = [s.name for s in plan.stages[: [s.name for s in plan.stages].index(action.stage) + 1]]
            if new.fingerprint(done) != plan.fingerprint(done):
                self.console.line(
                    f"  the pipeline synthesized by this commit differs in stages {', '.join(done)}: restarting with it"
                )
                raise _Restart(new)
            if new.fingerprint([s.name for s in new.stages]) != plan.fingerprint([s.name for s in plan.stages]):
                result.notes.append(f"later stages planned again from {name} (this commit's synthesized pipeline)")
            self.state.plan = new

    def _bootstrap(self) -> float:
        done = self.emulator.bootstrapped
        key = (self.emulator.account, self.emulator.region)
        if key in done:
            return 0.0
        log = self.reports / "logs" / "bootstrap.log"
        self.console.line(
            f"bootstrap aws://{key[0]}/{key[1]} with the real CDK CLI (as an operator does once per account)"
        )
        run = cdk_cli.bootstrap(
            account=key[0], region=key[1], assembly=self.assembly, env=self.emulator.environment(), log_file=log
        )
        done.add(key)
        return run.seconds

    def _deploy_pipeline_stack(self) -> float:
        """The pipeline stack of the definition rehearsed, deployed before the first stage (`cdk deploy`): in AWS
        a pipeline runs because its stack exists (an operator deploys it once; self-mutation deploys each new
        definition before the run goes on), and its CodeBuild actions run as that stack's roles."""
        stack = self.plan.stack
        cloudformation = self.emulator.client("cloudformation")
        try:
            status = cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]["StackStatus"]
            deployed = cloudformation.get_template(StackName=stack.stack_name)["TemplateBody"]
        except cloudformation.exceptions.ClientError:
            status, deployed = "", None
        if isinstance(deployed, str):
            deployed = json.loads(deployed)
        if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE") and deployed == stack.template:
            return 0.0
        log = self.reports / "logs" / "pipeline-stack.log"
        self.console.line(
            f"deploy {stack.display_name} with the real CDK CLI (the pipeline's stack exists before it runs: "
            "an operator deploys it once, self-mutation each new definition; its build roles are what the "
            "CodeBuild actions run as)"
        )
        try:
            run = cdk_cli.deploy(
                stack.display_name, assembly=self.assembly, env=self.emulator.environment(), log_file=log
            )
        except cdk_cli.CdkError as error:
            raise actions.ActionFailedError(
                f"the pipeline stack {stack.stack_name} could not be deployed: {error}"
            ) from None
        return run.seconds

    def _new_state(self, plan: PipelinePlan, commit: str, branch: str) -> actions.RunState:
        state = actions.RunState(
            plan=plan,
            emulator=self.emulator,
            repository=self.repository,
            commit=commit,
            branch=branch,
            workspace=Path(self._workspace.name),
            artifacts_dir=self.reports / "artifacts",
            reports=self.reports,
            console=self.console,
            approve=self.approve or self.only_stage is not None,
            faults=self.faults,
            variables=Variables(execution_id=str(uuid.uuid4()), pipeline_variables=plan.variables),
        )
        if self.reuse_synth:
            producer = self._assembly_action(plan)
            if producer is None:
                raise actions.ActionFailedError(
                    "--reuse-synth: no action of the pipeline produces the deployed templates"
                )
            state.reused[producer.path] = self.assembly
        return state

    def _new_result(self, commit: str, note: str) -> RunResult:
        return RunResult(
            pipeline=self.plan.name,
            template=self._rel(self.plan.stack.template_file),
            commit=commit,
            source_note=note,
            emulator=f"moto {shims.MOTO_VERSION} at {self.emulator.endpoint}",
        )

    def _collect_accounting(self, result: RunResult) -> None:
        assert self.state is not None
        for stack, deployed in self.state.deployed.items():
            path = self.state.deployed_by.get(stack, "")
            stage = path.split("/", 1)[0]
            for item in deployed.accounting.skipped:
                result.not_emulated.append({"stage": stage, "stack": stack, **item})
            for item in deployed.accounting.provided:
                result.provided_by_harness.append({"stage": stage, "stack": stack, **item})

    # --- serving ------------------------------------------------------------------------------------

    def serve_until(self, *, out: TextIO, stop: threading.Event) -> dict[str, Any]:
        """Run `only_stage`'s deploy actions (and what they read), write ONE JSON line to `out`, serve until
        `stop` is set. Progress goes to the console, so `out` carries nothing but that line."""
        result = self.run(deploy_only=True)
        if result.exit_code != 0:
            raise actions.ActionFailedError(f"{result.verdict}: nothing to serve")
        assert self.state is not None
        stage_stacks = [s for s, p in self.state.deployed_by.items() if p.split("/", 1)[0] == self.only_stage]
        if not stage_stacks:
            raise actions.ActionFailedError(f"stage {self.only_stage} deploys no stack: nothing to serve")
        served = [s for s in stage_stacks if self.state.runtimes.get(s) and self.state.runtimes[s].api_url]
        stack = (served or stage_stacks)[0]
        deployed, runtime = self.state.deployed[stack], self.state.runtimes.get(stack)
        line = {
            "stage": self.only_stage,
            "api_url": runtime.api_url if runtime else None,
            "emulator_endpoint": self.emulator.endpoint,
            "region": self.emulator.region,
            "account": self.emulator.account,
            "stack_name": stack,
            "outputs": deployed.outputs,
            "credentials": {"aws_access_key_id": DUMMY_ACCESS_KEY_ID, "aws_secret_access_key": DUMMY_SECRET_ACCESS_KEY},
            "not_emulated_file": str(self.state.not_emulated_files.get(stack, "")),
        }
        out.write(json.dumps(line) + "\n")
        out.flush()
        self.console.line(f"serving {stack} until interrupted (Ctrl-C); logs in {self._rel(self.reports)}/")
        stop.wait()
        self.console.line("stopped; the emulator and everything in it is thrown away")
        return line

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def _with_configuration(action: PlannedAction, configuration: dict[str, Any]) -> PlannedAction:
    from dataclasses import replace  # noqa: PLC0415

    return replace(action, configuration=configuration)
