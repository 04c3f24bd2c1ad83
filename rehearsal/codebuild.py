"""One CodeBuild build, run locally: a buildspec (version 0.2) in a fresh workspace and build environment.

What is executed as CodeBuild does it:
- phases `install`, `pre_build`, `build`, `post_build` in order, every command in ONE shell session
  (`env.shell`, default `sh`), so `cd`, exports and shell variables carry from command to command and
  phase to phase; a failing command fails its phase; `finally` runs after the phase's commands; a failed
  `install` or `pre_build` ends the build (unless `on-failure: CONTINUE`), a failed `build` still runs
  `post_build` (with `CODEBUILD_BUILD_SUCCEEDING=0`);
- `runtime-versions` (rehearsal/build_image.py records the host versions used);
- `env.variables`, `env.parameter-store` and `env.secrets-manager` (read from the emulator), under the
  project's and then the action's environment variables (the action's win, as in CodeBuild);
- `env.exported-variables`: their values when the build ends, published if it succeeded;
- `reports`: files collected per report group (JUnit counted);
- `artifacts` (and `secondary-artifacts`): the files kept as the action's output artifacts; a declared
  output with no matching file fails the build (CodeBuild: "no matching artifact paths found").
Not emulated: `run-as`, `proxy`, `batch`, `cache` (noted in the log when present), `git-credential-helper`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints and types-PyYAML is not pinned here

PHASES = ("install", "pre_build", "build", "post_build")
_ENDS_BUILD_ON_FAILURE = {"install", "pre_build"}
_NOT_EMULATED_KEYS = ("run-as", "proxy", "batch", "cache")
POLL_S = 0.05  # how often a long command's exit status is looked for
FIRST_POLL_S = 0.001


class BuildspecError(ValueError):
    """The buildspec is not one CodeBuild would run."""


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...]
    finally_commands: tuple[str, ...]
    on_failure: str  # ABORT | CONTINUE
    runtime_versions: dict[str, str]


@dataclass(frozen=True)
class Buildspec:
    document: dict[str, Any]
    phases: tuple[Phase, ...]
    shell: str
    variables: dict[str, str]
    parameter_store: dict[str, str]
    secrets_manager: dict[str, str]
    exported_variables: tuple[str, ...]
    reports: dict[str, dict[str, Any]]
    artifacts: dict[str, Any] | None

    @property
    def runtime_versions(self) -> dict[str, str]:
        return next((p.runtime_versions for p in self.phases if p.name == "install"), {})

    @classmethod
    def parse(cls, text: str, *, origin: str) -> Buildspec:
        try:
            document = json.loads(text)
        except ValueError:
            try:
                document = yaml.safe_load(text)
            except yaml.YAMLError as error:
                raise BuildspecError(f"{origin}: the buildspec is neither JSON nor YAML: {error}") from None
        if not isinstance(document, dict):
            raise BuildspecError(f"{origin}: the buildspec is not a mapping")
        if str(document.get("version")) != "0.2":
            raise BuildspecError(f"{origin}: buildspec version {document.get('version')!r}; the rehearsal runs 0.2")
        env = document.get("env") or {}
        phases = []
        for name in PHASES:
            spec = (document.get("phases") or {}).get(name)
            if spec is None:
                continue
            on_failure = str(spec.get("on-failure", "ABORT")).upper()
            if on_failure not in ("ABORT", "CONTINUE"):
                raise BuildspecError(f"{origin}: phase {name}: on-failure must be ABORT or CONTINUE, not {on_failure}")
            phases.append(
                Phase(
                    name=name,
                    commands=tuple(str(c) for c in spec.get("commands") or []),
                    finally_commands=tuple(str(c) for c in spec.get("finally") or []),
                    on_failure=on_failure,
                    runtime_versions={str(k): str(v) for k, v in (spec.get("runtime-versions") or {}).items()},
                )
            )
        return cls(
            document=document,
            phases=tuple(phases),
            shell=str(env.get("shell", "sh")),
            variables={str(k): str(v) for k, v in (env.get("variables") or {}).items()},
            parameter_store={str(k): str(v) for k, v in (env.get("parameter-store") or {}).items()},
            secrets_manager={str(k): str(v) for k, v in (env.get("secrets-manager") or {}).items()},
            exported_variables=tuple(str(v) for v in env.get("exported-variables") or []),
            reports={str(k): dict(v) for k, v in (document.get("reports") or {}).items()},
            artifacts=document.get("artifacts"),
        )


@dataclass
class PhaseResult:
    name: str
    status: str  # SUCCEEDED | FAILED | NOT_RUN
    seconds: float = 0.0
    message: str = ""


@dataclass
class ReportResult:
    group: str
    files: list[str]
    file_format: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class BuildResult:
    build_id: str
    status: str  # SUCCEEDED | FAILED
    phases: list[PhaseResult]
    exported: dict[str, str]
    reports: list[ReportResult]
    artifacts: dict[str, Path]
    log_file: Path
    message: str = ""
    notes: list[str] = field(default_factory=list)


class _Shell:
    """One shell session fed command by command; each command's exit status is appended to a file."""

    def __init__(self, shell: str, *, cwd: Path, env: dict[str, str], log: TextIO, control: Path) -> None:
        self.shell = shell
        self.cwd = cwd
        self.status = control / "status"
        self.status.write_text("")
        self.count = 0
        self.log = log
        self.process = subprocess.Popen(
            [shell],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            text=True,
            start_new_session=True,
        )

    def run(self, command: str, *, deadline: float) -> int:
        """The command's exit status; -1 when the shell itself ended (the command ran `exit`)."""
        syntax = subprocess.run([self.shell, "-n", "-c", command], capture_output=True, text=True, check=False)
        if syntax.returncode != 0:
            self.log.write(syntax.stderr)
            self.log.flush()
            return 2
        if self.process.poll() is not None or self.process.stdin is None:
            return -1
        self.count += 1
        self.process.stdin.write(f'{{\n{command}\n}} </dev/null\nprintf "%s\\n" "$?" >> "{self.status}"\n')
        self.process.stdin.flush()
        pause = FIRST_POLL_S  # most commands end within milliseconds: look again soon, then less often
        while True:
            lines = self.status.read_text().splitlines()
            if len(lines) >= self.count:
                return int(lines[self.count - 1])
            if self.process.poll() is not None:
                return -1
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError
            time.sleep(pause)
            pause = min(pause * 2, POLL_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self) -> None:
        if self.process.stdin is not None and self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def _log(log: TextIO, text: str) -> None:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
    log.write(f"[Container] {stamp} {text}\n")
    log.flush()


def run_build(
    buildspec: Buildspec,
    *,
    build_id: str,
    source_dir: Path,
    env: dict[str, str],
    control_dir: Path,
    log_file: Path,
    output_artifacts: dict[str, Path],
    reports_dir: Path,
    timeout_s: float,
) -> BuildResult:
    """Run `buildspec` in `source_dir` with `env`; collect reports into `reports_dir`, artifacts into the
    directories of `output_artifacts` (name -> directory, the primary first)."""
    control_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    phases: list[PhaseResult] = []
    result = BuildResult(build_id, "SUCCEEDED", phases, {}, [], {}, log_file)
    with log_file.open("a", encoding="utf-8") as log:
        for key in _NOT_EMULATED_KEYS:
            if key in buildspec.document or any(
                key in (p or {}) for p in (buildspec.document.get("phases") or {}).values()
            ):
                note = f"buildspec key {key!r} is not emulated by the rehearsal (ignored)"
                result.notes.append(note)
                _log(log, note)
        checkpoint = control_dir / "env"
        try:
            _run_phases(buildspec, result, _Session(source_dir, env, log, checkpoint, deadline))
        except TimeoutError:
            result.status, result.message = "FAILED", f"build timed out after {timeout_s / 60:.0f} minutes"
            _log(log, result.message)
        final_env = _restore(checkpoint, env)
        if result.status == "SUCCEEDED":
            for name in buildspec.exported_variables:
                if name not in final_env:
                    _log(log, f"exported variable {name} was never set: exported as an empty string")
                result.exported[name] = final_env.get(name, "")
        result.reports = _collect_reports(buildspec, source_dir, reports_dir, log)
        uploaded = _upload_artifacts(buildspec, source_dir, output_artifacts, log)
        if isinstance(uploaded, str):
            if result.status == "SUCCEEDED":
                result.status, result.message = "FAILED", f"UPLOAD_ARTIFACTS: {uploaded}"
        else:
            result.artifacts = uploaded
        _log(log, f"Phase complete: UPLOAD_ARTIFACTS; build {result.status}")
    return result


@dataclass
class _Session:
    """The build's shell, replaced by a new one (from the last phase's environment) if a command ran `exit`."""

    source_dir: Path
    env: dict[str, str]
    log: TextIO
    checkpoint: Path
    deadline: float
    shell: _Shell | None = None

    def current(self, buildspec: Buildspec) -> _Shell:
        if self.shell is None:
            self.shell = _Shell(
                buildspec.shell,
                cwd=self.source_dir,
                env=_restore(self.checkpoint, self.env),
                log=self.log,
                control=self.checkpoint.parent,
            )
        return self.shell

    def bookkeeping(self, buildspec: Buildspec, command: str) -> None:
        if self.current(buildspec).run(command, deadline=self.deadline) == -1:
            self.close()
            _log(self.log, "the shell ended; a new shell continues from the last phase's environment")
            self.current(buildspec).run(command, deadline=self.deadline)

    def close(self) -> None:
        if self.shell is not None:
            self.shell.close()
            self.shell = None


def _run_phases(buildspec: Buildspec, result: BuildResult, session: _Session) -> None:
    """CodeBuild's phase transitions: a failed install or pre_build ends the build, a failed build still runs
    post_build; `on-failure: CONTINUE` goes on as if the phase had succeeded."""
    stop_all = only_post_build = False
    try:
        for phase in buildspec.phases:
            if stop_all or (only_post_build and phase.name != "post_build"):
                result.phases.append(PhaseResult(phase.name, "NOT_RUN"))
                continue
            outcome = _run_phase(session.current(buildspec), phase, log=session.log, deadline=session.deadline)
            result.phases.append(outcome)
            if outcome.status == "FAILED":
                if result.status == "SUCCEEDED":
                    result.status, result.message = "FAILED", f"phase {phase.name.upper()}: {outcome.message}"
                if phase.on_failure == "ABORT":
                    stop_all = phase.name in _ENDS_BUILD_ON_FAILURE
                    only_post_build = True
                session.bookkeeping(buildspec, "export CODEBUILD_BUILD_SUCCEEDING=0")
            session.bookkeeping(buildspec, f"env -0 > '{session.checkpoint}'")
    finally:
        session.close()


def _run_phase(shell: _Shell, phase: Phase, *, log: TextIO, deadline: float) -> PhaseResult:
    _log(log, f"Entering phase {phase.name.upper()}")
    started = time.monotonic()
    outcome = PhaseResult(phase.name, "SUCCEEDED")
    for command in phase.commands:
        _log(log, f"Running command {command}")
        status = shell.run(command, deadline=deadline)
        if status != 0:
            reason = "the shell exited" if status == -1 else f"exit status {status}"
            outcome.status = "FAILED"
            outcome.message = f"Error while executing command: {command}. Reason: {reason}"
            _log(log, f"Phase context status code: COMMAND_EXECUTION_ERROR Message: {outcome.message}")
            break
    for command in phase.finally_commands:
        _log(log, f"Running command {command} (finally)")
        status = shell.run(command, deadline=deadline)
        if status != 0 and outcome.status == "SUCCEEDED":
            outcome.status = "FAILED"
            outcome.message = f"Error while executing finally command: {command}. Reason: exit status {status}"
    outcome.seconds = time.monotonic() - started
    _log(log, f"Phase complete: {phase.name.upper()} State: {outcome.status}")
    return outcome


def _restore(checkpoint: Path, fallback: dict[str, str]) -> dict[str, str]:
    if not checkpoint.is_file():
        return dict(fallback)
    pairs = [item.split("=", 1) for item in checkpoint.read_text(errors="replace").split("\0") if "=" in item]
    return dict(pairs)


def matched_files(base: Path, patterns: list[str], exclude: list[str] | None = None) -> list[Path]:
    """Files under `base` matching CodeBuild's artifact patterns (`**/*` = everything below)."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                found[path] = None
    excluded = {p for pattern in exclude or [] for p in base.glob(pattern)}
    return [p for p in found if p not in excluded]


def _collect_reports(buildspec: Buildspec, source: Path, reports_dir: Path, log: TextIO) -> list[ReportResult]:
    collected = []
    for group, spec in buildspec.reports.items():
        base = source / str(spec.get("base-directory", ""))
        files = matched_files(base, [str(f) for f in spec.get("files", [])]) if base.is_dir() else []
        fmt = str(spec.get("file-format", "JUNITXML"))
        target = reports_dir / group.rsplit("/", 1)[-1].replace(":", "_")
        report = ReportResult(group=group, files=[], file_format=fmt)
        for path in files:
            destination = target / path.relative_to(base)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
            report.files.append(str(destination))
            if fmt.startswith("JUNITXML"):
                for key, value in _junit_counts(path).items():
                    report.counts[key] = report.counts.get(key, 0) + value
        _log(log, f"report group {group}: {len(files)} file(s) collected" + (f" {report.counts}" if files else ""))
        collected.append(report)
    return collected


def _junit_counts(path: Path) -> dict[str, int]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return {"unparsable": 1}
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0) or 0)
    return counts


def _upload_artifacts(
    buildspec: Buildspec, source: Path, outputs: dict[str, Path], log: TextIO
) -> dict[str, Path] | str:
    """name -> directory of each output artifact, or what went wrong."""
    if not outputs:
        return {}
    spec = buildspec.artifacts
    if not spec:
        return f"the action declares output artifact(s) {list(outputs)} but the buildspec has no artifacts section"
    specs: dict[str, dict[str, Any]] = {}
    names = list(outputs)
    specs[names[0]] = spec
    for identifier, secondary in (spec.get("secondary-artifacts") or {}).items():
        specs[str(identifier)] = secondary
    uploaded = {}
    for name, directory in outputs.items():
        artifact = specs.get(name)
        if artifact is None:
            return f"output artifact {name} has no secondary-artifacts entry of that name in the buildspec"
        base = source / str(artifact.get("base-directory", ""))
        files = matched_files(base, [str(f) for f in artifact.get("files", [])], artifact.get("exclude-paths"))
        if not files:
            return f"no matching artifact paths found for {name} (base-directory {artifact.get('base-directory', '.')})"
        discard = str(artifact.get("discard-paths", "no")).lower() in ("yes", "true")
        shutil.rmtree(directory, ignore_errors=True)
        for path in files:
            destination = directory / (path.name if discard else path.relative_to(base))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
        _log(log, f"artifact {name}: {len(files)} file(s) from {artifact.get('base-directory', '.')}")
        uploaded[name] = directory
    return uploaded
