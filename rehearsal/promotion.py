"""The rehearsal of a promotion: deploy each stage into the emulator, serve it, smoke it, promote.

dev -> smoke -> staging -> smoke -> approval -> prod -> smoke -> catalog publication (where the emulator
allows). A failed deploy or smoke suite stops the promotion. The smoke suite runs as the pipeline runs
it (`scripts/smoke --stage <env>`, outputs as environment variables), in a child process pointed at the
emulator, with API_URL set to the stage's local gateway.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from product.contract import (
    NOT_EMULATED_VARIABLE,
    RUN_ID_VARIABLE,
    STACK_NAME_VARIABLE,
    STAGE_VARIABLE,
    Output,
    env_var_name,
)
from rehearsal import assembly as assembly_module
from rehearsal import cdk_cli, shims
from rehearsal.deployed_stage import DeployedStack, StageRuntime, account_for, write_not_emulated
from rehearsal.emulator import Emulator
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, check_caller_environment

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
SMOKE_COMMAND = REPOSITORY_ROOT / "scripts" / "smoke"
API_URL_VARIABLE = env_var_name(Output.API_URL)  # the suite calls the stage's local gateway
APPROVAL_BEFORE = frozenset({"prod"})
SMOKE_TIMEOUT_S = 900
CATALOG_DEPLOY_TIMEOUT_S = 300


# --- faults (to prove that a broken stage stops the promotion) --------------------------------------------


def _http_500(_event: Any) -> dict[str, Any]:
    body = '{"error":{"code":"internal_error","message":"fault injected by the rehearsal","field":null}}'
    return {"statusCode": 500, "headers": {"Content-Type": "application/json"}, "body": body}


def _function_error(_event: Any) -> Any:
    raise RuntimeError("fault injected by the rehearsal")


FAULTS: dict[str, Callable[[Any], Any]] = {"http-500": _http_500, "error": _function_error}


def parse_faults(specs: list[str]) -> dict[str, Callable[[Any], Any]]:
    """["payment-api-staging=http-500", ...] -> {function name: fault}."""
    faults = {}
    for spec in specs:
        name, _, kind = spec.partition("=")
        if kind not in FAULTS or not name:
            raise ValueError(f"fault {spec!r}: use FUNCTION=KIND with KIND one of {', '.join(FAULTS)}")
        faults[name] = FAULTS[kind]
    return faults


# --- results ------------------------------------------------------------------------------------------


@dataclass
class StageResult:
    environment: str
    stack_path: str
    outcome: str = "not reached"  # passed | failed | deploy failed | not approved | not reached
    deploy_s: float = 0.0
    smoke_s: float = 0.0
    total_s: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    executed_percent: float = 0.0
    reports: dict[str, str] = field(default_factory=dict)
    not_emulated: list[dict[str, str]] = field(default_factory=list)
    provided_by_harness: list[dict[str, str]] = field(default_factory=list)
    template_resources: int = 0
    created_resources: int = 0
    failures: list[str] = field(default_factory=list)
    message: str = ""
    api_url: str | None = None


@dataclass
class RehearsalResult:
    stages: list[StageResult] = field(default_factory=list)
    catalog: list[dict[str, Any]] = field(default_factory=list)
    bootstrap_s: float = 0.0
    checks_s: float = 0.0
    total_s: float = 0.0
    exit_code: int = 0
    emulator: str = ""

    def stage(self, environment: str) -> StageResult:
        return next(s for s in self.stages if s.environment == environment)


class Console:
    """Progress lines with the elapsed time, on the stream the rehearsal was given."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.started = time.monotonic()

    def line(self, text: str = "") -> None:
        elapsed = time.monotonic() - self.started
        self.stream.write(f"[{elapsed:6.1f}s] {text}\n" if text else "\n")
        self.stream.flush()

    def raw(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


# --- the rehearsal ------------------------------------------------------------------------------------


class Rehearsal:
    """Deploys stages of a cloud assembly into an emulator (started here, or shared), serves and smokes them."""

    def __init__(
        self,
        assembly: Path,
        *,
        reports: Path,
        console: Console | None = None,
        emulator: Emulator | None = None,
        faults: dict[str, Callable[[Any], Any]] | None = None,
        processing_timeout_s: float = 60.0,
    ) -> None:
        check_caller_environment(os.environ)
        self.assembly = assembly.resolve()
        self.reports = reports.resolve()
        self.console = console or Console()
        self.faults = faults or {}
        self.processing_timeout_s = processing_timeout_s
        self.stage_stacks = assembly_module.stage_stacks(self.assembly)
        if not self.stage_stacks:
            raise assembly_module.AssemblyError(f"{self.assembly} holds no stage stacks (<env>/PaymentStack)")
        accounts = {(s.account, s.region) for s in self.stage_stacks.values()}
        if len({a for a, _ in accounts}) != 1:
            raise assembly_module.AssemblyError(
                f"the stages deploy to several accounts {sorted(accounts)}; the rehearsal emulates one account"
            )
        (self.account, self.region), *_ = sorted(accounts)
        self._own_emulator = emulator is None
        self.emulator = emulator or Emulator(
            account=self.account, region=self.region, log_file=self.reports / "rehearsal" / "emulator.log"
        )
        self._workdir = tempfile.TemporaryDirectory(prefix="rehearsal-functions-")
        self.runtimes: dict[str, StageRuntime] = {}
        self.cdk_log = self.reports / "rehearsal" / "cdk.log"

    def __enter__(self) -> Rehearsal:
        if self._own_emulator:
            self.emulator.start()
        self.console.line(
            f"emulator: moto {shims.MOTO_VERSION} in-process at {self.emulator.endpoint} (account "
            f"{self.emulator.account}, {self.emulator.region}); {len(shims.SHIMS)} emulator shims applied"
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        for runtime in self.runtimes.values():
            runtime.stop()
        self.runtimes.clear()
        if self._own_emulator:
            self.emulator.stop()
        self._workdir.cleanup()

    # --- steps ----------------------------------------------------------------------------------------

    def bootstrap(self) -> float:
        """`cdk bootstrap` once per emulator (a shared emulator remembers it was bootstrapped)."""
        done = self.emulator.bootstrapped
        key = (self.emulator.account, self.emulator.region)
        if key in done:
            return 0.0
        self.console.line(f"bootstrap aws://{key[0]}/{key[1]} with the real CDK CLI (log {self._rel(self.cdk_log)})")
        run = cdk_cli.bootstrap(
            account=key[0],
            region=key[1],
            assembly=self.assembly,
            env=self.emulator.environment(),
            log_file=self.cdk_log,
        )
        done.add(key)
        self.console.line(f"bootstrap: CDKToolkit ready in {run.seconds:.1f} s")
        return run.seconds

    def deploy(self, environment: str) -> tuple[DeployedStack, float]:
        artifact = self.stage_stacks[environment]
        self.console.line(f"{environment}: cdk deploy '{artifact.display_name}' --method=direct")
        run = cdk_cli.deploy(
            artifact.display_name, assembly=self.assembly, env=self.emulator.environment(), log_file=self.cdk_log
        )
        deployed = account_for(self.emulator, artifact)
        a = deployed.accounting
        self.console.line(
            f"{environment}: {artifact.stack_name} CREATE_COMPLETE in {run.seconds:.1f} s; {a.template_count} template "
            f"resources: {len(a.created)} created, {len(a.skipped)} not emulated, {len(a.provided)} provided by the "
            f"harness" + (f", {len(a.not_created)} not created" if a.not_created else "")
        )
        return deployed, run.seconds

    def serve(self, deployed: DeployedStack) -> StageRuntime:
        environment = deployed.environment
        runtime = StageRuntime(
            self.emulator,
            deployed,
            workdir=Path(self._workdir.name) / environment,
            log_dir=self.reports / "rehearsal" / environment,
            faults=self.faults,
        ).start()
        self.runtimes[environment] = runtime
        routes = ", ".join(f"{r.method} {r.resource}" for api in runtime.apis for r in api.routes)
        self.console.line(f"{environment}: API {runtime.api_url} ({routes}) -> real handlers, in-process")
        for poller in runtime.pollers:
            queue = poller.mapping.queue_arn.rsplit(":", 1)[-1]
            function = poller.mapping.function_arn.rsplit(":function:", 1)[-1]
            self.console.line(f"{environment}: SQS {queue} -> {function} (batch {poller.mapping.batch_size})")
        return runtime

    def stop_serving(self, environment: str) -> None:
        runtime = self.runtimes.pop(environment, None)
        if runtime is not None:
            runtime.stop()

    def smoke(self, deployed: DeployedStack, runtime: StageRuntime, result: StageResult) -> None:
        environment = deployed.environment
        report_dir = self.reports / "smoke" / environment
        report_dir.mkdir(parents=True, exist_ok=True)
        for stale in ("junit.xml", "report.html", "summary.json"):
            (report_dir / stale).unlink(missing_ok=True)
        not_emulated = write_not_emulated(report_dir / "not-emulated.json", deployed, api_url=runtime.api_url)
        env = self.emulator.environment()
        env.update({env_var_name(key): value for key, value in deployed.outputs.items()})
        env.update(
            {
                API_URL_VARIABLE: runtime.api_url or env.get(API_URL_VARIABLE, ""),
                STACK_NAME_VARIABLE: deployed.artifact.stack_name,
                STAGE_VARIABLE: environment,
                NOT_EMULATED_VARIABLE: str(not_emulated),
                RUN_ID_VARIABLE: dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + f"-{environment}",
            }
        )
        command = [
            str(SMOKE_COMMAND),
            "--stage",
            environment,
            "--report-dir",
            str(report_dir),
            "--",
            f"--processing-timeout={self.processing_timeout_s}",
        ]
        self.console.line(
            f"{environment}: smoke suite: scripts/smoke --stage {environment} (API_URL={runtime.api_url})"
        )
        started = time.monotonic()
        with (report_dir / "pytest.log").open("w", encoding="utf-8") as log:
            completed = subprocess.run(
                command,
                cwd=REPOSITORY_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=SMOKE_TIMEOUT_S,
                check=False,
            )
        result.smoke_s = time.monotonic() - started
        result.reports = {
            "html": self._rel(report_dir / "report.html"),
            "junit": self._rel(report_dir / "junit.xml"),
            "summary": self._rel(report_dir / "summary.json"),
            "log": self._rel(report_dir / "pytest.log"),
            "not_emulated": self._rel(not_emulated),
        }
        summary_file = report_dir / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
        result.counts = summary.get("counts", {})
        result.executed_percent = summary.get("executed_percent", 0.0)
        result.failures = [
            f"{c['title']}: {(c['message'].strip().splitlines() or [''])[0][:200]}"
            for c in summary.get("checks", [])
            if c["outcome"] in ("failed", "error")
        ]
        passed = completed.returncode == 0 and summary.get("result") == "passed"
        result.outcome = "passed" if passed else "failed"
        if not summary:
            result.message = (
                f"the smoke suite exited {completed.returncode} without a summary; see {result.reports['log']}"
            )
        counts = result.counts
        self.console.line(
            f"{environment}: smoke {'PASSED' if passed else 'FAILED'}: {counts.get('passed', 0)} passed, "
            f"{counts.get('failed', 0) + counts.get('error', 0)} failed, {counts.get('not emulated', 0)} not emulated "
            f"({result.executed_percent}% of checks executed) in {result.smoke_s:.1f} s"
        )
        for failure in result.failures[:10]:
            self.console.line(f"{environment}:   FAILED {failure}")
        self.console.line(f"{environment}: report {result.reports['html']} (JUnit {result.reports['junit']})")

    def rehearse_stage(self, environment: str) -> StageResult:
        """Deploy, serve, smoke one stage; the local API stops serving afterwards."""
        artifact = self.stage_stacks[environment]
        result = StageResult(environment=environment, stack_path=artifact.display_name)
        started = time.monotonic()
        try:
            deployed, result.deploy_s = self.deploy(environment)
        except cdk_cli.CdkError as error:
            result.outcome, result.message = "deploy failed", str(error)
            result.total_s = time.monotonic() - started
            self.console.line(f"{environment}: DEPLOY FAILED: {str(error).splitlines()[0]}")
            return result
        a = deployed.accounting
        result.not_emulated, result.provided_by_harness = a.skipped, a.provided
        result.template_resources, result.created_resources = a.template_count, len(a.created)
        runtime = self.serve(deployed)
        result.api_url = runtime.api_url
        try:
            self.smoke(deployed, runtime, result)
        finally:
            self.stop_serving(environment)
            result.total_s = time.monotonic() - started
        return result

    def approve(self, environment: str, approve: bool | None, previous: StageResult | None) -> bool:
        evidence = f" (staging smoke report: {previous.reports.get('html')})" if previous and previous.reports else ""
        if approve:
            self.console.line(f"approval before {environment}: granted by --approve{evidence}")
            return True
        if not sys.stdin or not sys.stdin.isatty():
            self.console.line(
                f"approval before {environment}: no terminal to ask and --approve not given: {environment} is NOT "
                "promoted (pass --approve for unattended runs)"
            )
            return False
        self.console.line(f"approval before {environment}{evidence}")
        try:
            answer = input(f"           Promote to {environment}? [y/N] ").strip().lower()
        except EOFError:
            answer = ""
        granted = answer in ("y", "yes")
        self.console.line(f"approval before {environment}: {'granted' if granted else 'refused'}")
        return granted

    def promote(
        self, environments: list[str] | None = None, *, approve: bool | None = None, publish_catalog: bool = True
    ) -> RehearsalResult:
        """dev -> smoke -> staging -> smoke -> approval -> prod -> smoke -> catalog; stops at the first failure."""
        environments = environments or list(self.stage_stacks)
        unknown = [e for e in environments if e not in self.stage_stacks]
        if unknown:
            raise ValueError(f"unknown stage(s) {unknown}: the assembly has {', '.join(self.stage_stacks)}")
        result = RehearsalResult(emulator=f"moto {shims.MOTO_VERSION} at {self.emulator.endpoint}")
        started = time.monotonic()
        result.bootstrap_s = self.bootstrap()
        previous: StageResult | None = None
        stopped = False
        for environment in environments:
            if stopped:
                result.stages.append(StageResult(environment, self.stage_stacks[environment].display_name))
                continue
            if environment in APPROVAL_BEFORE and len(environments) > 1:
                waited = time.monotonic()
                granted = self.approve(environment, approve, previous)
                started += time.monotonic() - waited  # time spent waiting for a person is not rehearsal time
                if not granted:
                    result.stages.append(
                        StageResult(environment, self.stage_stacks[environment].display_name, outcome="not approved")
                    )
                    stopped = True
                    continue
            stage_result = self.rehearse_stage(environment)
            result.stages.append(stage_result)
            previous = stage_result
            if stage_result.outcome != "passed":
                self.console.line(f"promotion STOPPED at {environment}: {stage_result.outcome}")
                result.exit_code = 1
                stopped = True
        if publish_catalog and not stopped:
            result.catalog = self.publish_catalog()
        result.total_s = time.monotonic() - started
        return result

    def publish_catalog(self) -> list[dict[str, Any]]:
        catalogs = assembly_module.catalog_stacks(self.assembly)
        if not catalogs:
            self.console.line("catalog: no Service Catalog stack in the assembly: nothing to publish")
            return [{"stack": None, "outcome": "not in the assembly"}]
        published: list[dict[str, Any]] = []
        for artifact in catalogs:
            self.console.line(f"catalog: cdk deploy '{artifact.display_name}' --method=direct")
            try:
                cdk_cli.deploy(
                    artifact.display_name,
                    assembly=self.assembly,
                    env=self.emulator.environment(),
                    log_file=self.cdk_log,
                    timeout=CATALOG_DEPLOY_TIMEOUT_S,
                )
            except cdk_cli.CdkError as error:
                reason = str(error).splitlines()[-1]
                self.console.line(f"catalog: {artifact.stack_name} NOT published on the emulator: {reason}")
                published.append({"stack": artifact.stack_name, "outcome": "not publishable here", "reason": reason})
                continue
            a = account_for(self.emulator, artifact).accounting
            by_type = {t: len(n) for t, n in a.by_type().items()}
            self.console.line(
                f"catalog: {artifact.stack_name} deployed: {len(a.created)} of {a.template_count} resources created; "
                f"not emulated: {', '.join(f'{t} x{n}' for t, n in by_type.items()) or 'none'}"
            )
            published.append(
                {
                    "stack": artifact.stack_name,
                    "outcome": "deployed",
                    "created": len(a.created),
                    "template_resources": a.template_count,
                    "not_emulated": a.skipped,
                }
            )
        return published

    def serve_until(self, environment: str, *, out: TextIO, stop: threading.Event) -> dict[str, Any]:
        """Deploy one stage, write ONE JSON line to `out` (API URL, emulator endpoint, outputs), serve until
        `stop` is set. Progress goes to the console, so `out` carries nothing but that line."""
        self.bootstrap()
        deployed, _ = self.deploy(environment)
        runtime = self.serve(deployed)
        not_emulated = write_not_emulated(
            self.reports / "rehearsal" / environment / "not-emulated.json", deployed, api_url=runtime.api_url
        )
        line = {
            "stage": environment,
            "api_url": runtime.api_url,
            "emulator_endpoint": self.emulator.endpoint,
            "region": self.emulator.region,
            "account": self.emulator.account,
            "stack_name": deployed.artifact.stack_name,
            "outputs": deployed.outputs,
            "credentials": {"aws_access_key_id": DUMMY_ACCESS_KEY_ID, "aws_secret_access_key": DUMMY_SECRET_ACCESS_KEY},
            "not_emulated_file": str(not_emulated),
        }
        out.write(json.dumps(line) + "\n")
        out.flush()
        self.console.line(
            f"serving {environment} until interrupted (Ctrl-C); function and API logs in "
            f"{self._rel(self.reports / 'rehearsal' / environment)}/"
        )
        stop.wait()
        self.stop_serving(environment)
        self.console.line("stopped; the emulator and everything in it is thrown away")
        return line

    # --- output ---------------------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    def write_summary(self, result: RehearsalResult) -> Path:
        path = self.reports / "rehearsal" / "summary.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(result), indent=2) + "\n")
        return path

    def print_summary(self, result: RehearsalResult) -> None:
        out = self.console.raw
        out("")
        out("== rehearsal summary " + "=" * 78)
        out(
            f"{'stage':<9}{'result':<15}{'passed':>7}{'failed':>7}{'not emul.':>10}{'executed':>10}"
            f"{'deploy':>9}{'smoke':>8}{'total':>8}  report"
        )
        for s in result.stages:
            c = s.counts
            failed = c.get("failed", 0) + c.get("error", 0)
            out(
                f"{s.environment:<9}{s.outcome:<15}{c.get('passed', 0) if c else '-':>7}{failed if c else '-':>7}"
                f"{c.get('not emulated', 0) if c else '-':>10}{(str(s.executed_percent) + '%') if c else '-':>10}"
                f"{s.deploy_s:>8.1f}s{s.smoke_s:>7.1f}s{s.total_s:>7.1f}s  {s.reports.get('html', '')}"
            )
        totals = [s for s in result.stages if s.counts]
        if totals:
            executed = sum(
                s.counts.get("passed", 0) + s.counts.get("failed", 0) + s.counts.get("error", 0) for s in totals
            )
            skipped = sum(s.counts.get("not emulated", 0) + s.counts.get("skipped", 0) for s in totals)
            share = 100 * executed / max(1, executed + skipped)
            out(
                f"checks executed against the emulator: {executed} of {executed + skipped} ({share:.1f}%); "
                "the rest are 'not emulated', never passed"
            )
        for s in result.stages:
            if s.not_emulated:
                out(
                    f"\n{s.environment}: {len(s.not_emulated)} of {s.template_resources} resources not emulated (moto "
                    f"{shims.MOTO_VERSION} skipped them; checks on them are reported 'not emulated'):"
                )
                _print_grouped(out, s.not_emulated)
                for provided in s.provided_by_harness:
                    out(
                        f"  provided by the harness (moto API, no CloudFormation provider): {provided['type']} "
                        f"{provided['name']}"
                    )
            for failure in s.failures:
                out(f"{s.environment}: FAILED {failure}")
            if s.message and s.outcome != "passed":
                out(f"{s.environment}: {s.message.splitlines()[0]}")
        for item in result.catalog:
            detail = f" ({item['reason']})" if item.get("reason") else ""
            if item.get("not_emulated") is not None:
                detail = (
                    f": {item['created']} of {item['template_resources']} resources created, "
                    f"{len(item['not_emulated'])} not emulated:"
                )
            out(f"\ncatalog: {item.get('stack') or '-'}: {item['outcome']}{detail}")
            _print_grouped(out, item.get("not_emulated") or [])
        out("")
        out(
            f"reports: {self._rel(self.reports / 'smoke')}/<stage>/report.html, junit.xml; rehearsal logs and "
            f"summary in {self._rel(self.reports / 'rehearsal')}/"
        )
        verdict = "PROMOTION REHEARSED" if result.exit_code == 0 else "PROMOTION FAILED"
        if result.exit_code == 0 and any(s.outcome == "not approved" for s in result.stages):
            verdict = "PROMOTION STOPPED AT APPROVAL"
        out(
            f"{verdict}: checks {result.checks_s:.0f} s, bootstrap {result.bootstrap_s:.1f} s, stages "
            f"{result.total_s - result.bootstrap_s:.1f} s; exit {result.exit_code}"
        )


def _print_grouped(out: Callable[[str], None], resources: list[dict[str, str]]) -> None:
    """One line per resource type: 'AWS::CloudWatch::Alarm x11: payment-dev-api-5xx, ...'."""
    grouped: dict[str, list[str]] = {}
    for item in resources:
        grouped.setdefault(item["type"], []).append(item.get("name") or item["logical_id"])
    for resource_type, names in sorted(grouped.items()):
        out(f"  {resource_type} x{len(names)}: {', '.join(names)}")
