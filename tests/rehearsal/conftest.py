"""Fixtures for the rehearsal tests: one synth, one emulator, one bootstrap for the whole session.

- The app is synthesized once, with the real CDK CLI, into a temporary directory (never cdk.out).
- One in-process moto emulator is shared by every test (bootstrapped once); tests deploy different
  stages into it, so none depends on another's stack.
- AWS credential, profile and endpoint variables of the caller are removed for the session: the
  rehearsal refuses to run next to real credentials, and these tests are the harness itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal import cdk_cli
from rehearsal.emulator import Emulator
from rehearsal.safety import CREDENTIAL_VARIABLES


def pytest_configure(config: pytest.Config) -> None:
    # moto warns for every resource type it skips (the rehearsal accounts for them), and the served
    # handlers' Powertools warnings belong to the function log; neither is a test problem.
    for text in (
        r"ignore:Tried to parse .* not supported by moto:UserWarning",
        r"ignore::aws_lambda_powertools.warnings.PowertoolsUserWarning",
        r"ignore:No application metrics to publish:UserWarning",
    ):
        config.addinivalue_line("filterwarnings", text)


@pytest.fixture(scope="session")
def no_aws_credentials() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name in CREDENTIAL_VARIABLES or name.startswith("AWS_ENDPOINT_URL"):
                patch.delenv(name)
        yield


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory, no_aws_credentials: None) -> Path:
    """The whole app, synthesized once by the CDK CLI (nag gate included)."""
    outdir = tmp_path_factory.mktemp("rehearsal-assembly")
    cdk_cli.synth(outdir=outdir, env=dict(os.environ), log_file=outdir.parent / "rehearsal-synth.log")
    return outdir


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rehearsal-reports")


@pytest.fixture(scope="session")
def emulator(no_aws_credentials: None, reports: Path) -> Iterator[Emulator]:
    with Emulator(log_file=reports / "emulator.log", enforce_iam=True) as started:
        yield started


_NOT_SOURCE = {".git", ".venv", ".venv-smoke", "node_modules", "cdk.out", "reports", "__pycache__", ".pytest_cache"}
_NOT_SOURCE |= {".ruff_cache", ".mypy_cache", ".hypothesis", ".import_linter_cache"}


def _source_files(root: Path) -> list[Path]:
    """The repository's files as a commit would hold them: git's list when it is a checkout (tracked and new
    files), else everything but build output (the synth action's workspace has no .git)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout.strip():
        return [root / line for line in listed.stdout.splitlines() if (root / line).is_file()]
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not _NOT_SOURCE.intersection(path.relative_to(root).parts)
        and not any(part.endswith(".egg-info") for part in path.relative_to(root).parts)
    ]


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this checkout's files in one commit: the rehearsal's source."""
    root = Path(__file__).resolve().parents[2]
    repo = tmp_path_factory.mktemp("rehearsal-source")
    for path in _source_files(root):
        target = repo / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    identity = ["-c", "user.name=rehearsal", "-c", "user.email=rehearsal@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-q", "-m", "rehearsed"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return repo
