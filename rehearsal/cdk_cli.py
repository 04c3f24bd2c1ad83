"""The real CDK CLI (pinned in package.json, installed in node_modules), run as a child process.

Measured with CDK CLI 2.1148 and moto 5.2.5: bootstrap works as is; deploys must use `--method=direct`
(moto ignores DependsOn when executing a change set); `cdk destroy` fails on the VPC, so the
rehearsal never destroys: it throws the emulator away.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
LOCAL_CLI = REPOSITORY_ROOT / "node_modules" / ".bin" / "cdk"
COMPILE_CACHE_PRELOAD = Path(__file__).resolve().with_name("node_compile_cache.cjs")
# node_modules/.cache is where Node.js tools keep their caches: per checkout, and gone with `npm ci`.
COMPILE_CACHE_DIRECTORY = REPOSITORY_ROOT / "node_modules" / ".cache" / "rehearsal-node-compile-cache"


class CdkError(RuntimeError):
    """A CDK CLI command failed; the message ends with the tail of its output."""


@dataclass(frozen=True)
class CdkRun:
    command: list[str]
    seconds: float
    log_file: Path


def cdk_executable() -> str:
    if LOCAL_CLI.exists():
        return str(LOCAL_CLI)
    found = shutil.which("cdk")
    if found is None:
        raise CdkError("the CDK CLI is not installed: run `scripts/setup` (installs it into node_modules)")
    return found


def with_compile_cache(env: dict[str, str], directory: Path = COMPILE_CACHE_DIRECTORY) -> dict[str, str]:
    """`env` with V8's compile cache for the CLI (rehearsal/node_compile_cache.cjs says why and how): the CLI's
    16 MB script is then compiled once per checkout, not at every `cdk` start."""
    if '"' in str(COMPILE_CACHE_PRELOAD) or "\\" in str(COMPILE_CACHE_PRELOAD):
        return env  # NODE_OPTIONS could not quote this path; the CLI only starts slower without the cache
    preload = f'--require "{COMPILE_CACHE_PRELOAD}"'
    options = f"{env['NODE_OPTIONS']} {preload}" if env.get("NODE_OPTIONS") else preload
    return {**env, "NODE_OPTIONS": options, "REHEARSAL_NODE_COMPILE_CACHE": str(directory)}


def run(args: list[str], *, env: dict[str, str], log_file: Path, timeout: float = 900) -> CdkRun:
    """Run `cdk <args> --no-notices` from the repository root, its output appended to `log_file`."""
    command = [cdk_executable(), *args, "--no-notices"]
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_file.open("a", encoding="utf-8") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        try:
            result = subprocess.run(
                command,
                cwd=REPOSITORY_ROOT,
                env=with_compile_cache(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CdkError(f"`cdk {' '.join(args)}` did not finish within {timeout:.0f} s; log {log_file}") from None
    seconds = time.monotonic() - started
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(encoding="utf-8").splitlines()[-25:])
        raise CdkError(f"`cdk {' '.join(args)}` failed (exit {result.returncode}); log {log_file}:\n{tail}")
    return CdkRun(command, seconds, log_file)


def bootstrap(*, account: str, region: str, assembly: Path, env: dict[str, str], log_file: Path) -> CdkRun:
    return run(["bootstrap", f"aws://{account}/{region}", "--app", str(assembly)], env=env, log_file=log_file)


def deploy(
    stack_path: str,
    *,
    assembly: Path,
    env: dict[str, str],
    log_file: Path,
    timeout: float = 600,
    parameters: dict[str, str] | None = None,
) -> CdkRun:
    """`cdk deploy` of one stack of `assembly`, directly (no change set: moto cannot execute them)."""
    overrides = [f"--parameters={name}={value}" for name, value in (parameters or {}).items()]
    return run(
        [
            "deploy",
            stack_path,
            "--app",
            str(assembly),
            "--exclusively",
            "--require-approval",
            "never",
            "--method=direct",
            "--progress",
            "events",
            *overrides,
        ],
        env=env,
        log_file=log_file,
        timeout=timeout,
    )


def synth(*, outdir: Path, env: dict[str, str], log_file: Path) -> CdkRun:
    """`cdk synth` as scripts/check runs it, into `outdir`."""
    return run(["synth", "--quiet", "--output", str(outdir)], env=env, log_file=log_file)
