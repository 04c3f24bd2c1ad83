"""Fixtures for the rehearsal tests: one synth per session, and one emulator and bootstrap per worker.

- The app is synthesized once, with the real CDK CLI, into a temporary directory (never cdk.out). Under
  scripts/check, whose own synth runs beside the tests, that synth is the one: each worker waits for it and
  copies its assembly (`CHECK_SYNTH_STATUS`), so the check synthesizes the app once, not twice. Without it, the
  first worker that needs the assembly synthesizes it and the other waits for that synth the same way.
- Each worker that runs a rehearsal module has one in-process moto emulator, shared by its tests and
  bootstrapped once (tests/conftest.py keeps it off the worker's runtime tests); tests deploy different stages
  into it, so none depends on another's stack.
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
from tests.check_synth import copy_of_checks_assembly, wait_for_synth, write_synth_status
from tests.source_files import copy_source


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


def synthesized_once(shared_root: Path) -> Path:
    """The app synthesized by the first of the session's workers to ask; the others wait for its status file."""
    status_file, log_file = shared_root / "rehearsal-synth.status", shared_root / "rehearsal-synth.log"
    try:
        os.close(os.open(shared_root / "rehearsal-synth.lock", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return wait_for_synth(status_file, who="another worker's synth", log=str(log_file))
    outdir, status = shared_root / "rehearsal-synth", 1
    try:
        cdk_cli.synth(outdir=outdir, env=dict(os.environ), log_file=log_file)
        status = 0
    finally:
        write_synth_status(status_file, status, outdir)
    return outdir


@pytest.fixture(scope="session")
def assembly(tmp_path_factory: pytest.TempPathFactory, no_aws_credentials: None) -> Path:
    """The whole app, synthesized once by the CDK CLI (nag gate included): the check's synth, or the session's.
    Each worker tests its own copy."""
    outdir = tmp_path_factory.mktemp("rehearsal-assembly")
    if copy_of_checks_assembly(outdir):
        return outdir
    # pytest-xdist gives each worker a directory of its own under the session's
    workers_share = tmp_path_factory.getbasetemp()
    synthesized = synthesized_once(workers_share.parent if "PYTEST_XDIST_WORKER" in os.environ else workers_share)
    shutil.copytree(synthesized, outdir, dirs_exist_ok=True, symlinks=True)
    return outdir


@pytest.fixture(scope="session")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rehearsal-reports")


@pytest.fixture(scope="session")
def emulator(no_aws_credentials: None, reports: Path) -> Iterator[Emulator]:
    with Emulator(log_file=reports / "emulator.log", enforce_iam=True) as started:
        yield started


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding this checkout's files in one commit: the rehearsal's source."""
    root = Path(__file__).resolve().parents[2]
    repo = copy_source(root, tmp_path_factory.mktemp("rehearsal-source"))
    identity = ["-c", "user.name=rehearsal", "-c", "user.email=rehearsal@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-q", "-m", "rehearsed"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)
    return repo
