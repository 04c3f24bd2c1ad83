"""The assembly scripts/check's own `cdk synth` writes beside the tests, which the unit and rehearsal sessions read
instead of synthesizing the app again: the check synthesizes it once, with the CLI, as the pipeline does."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

CHECK_SYNTH_STATUS = "CHECK_SYNTH_STATUS"  # scripts/check: the file its synth writes "<exit status> <assembly>" to
CHECK_SYNTH_LOG = "reports/synth-and-lint.log"
SYNTH_WAIT_S = 900.0


def wait_for_synth(
    status_file: Path,
    timeout_s: float = SYNTH_WAIT_S,
    *,
    who: str = "scripts/check's synth",
    log: str = CHECK_SYNTH_LOG,
) -> Path:
    """The assembly a `cdk synth` in another process wrote, once it has written its status; fails the session if
    that synth failed or never finished."""
    deadline = time.monotonic() + timeout_s
    while not status_file.is_file():
        if time.monotonic() > deadline:
            pytest.fail(f"{who} wrote no {status_file} in {timeout_s:.0f} s", pytrace=False)
        time.sleep(0.2)
    status, _, directory = status_file.read_text().strip().partition(" ")
    if status != "0":
        pytest.fail(f"{who} failed (exit {status}); its output is in {log}", pytrace=False)
    return Path(directory)


def write_synth_status(status_file: Path, status: int, assembly: Path) -> None:
    """What wait_for_synth waits for, written whole (scripts/check writes the same line)."""
    partial = status_file.with_name(status_file.name + ".partial")
    partial.write_text(f"{status} {assembly}\n")
    partial.rename(status_file)


def copy_of_checks_assembly(target: Path) -> Path | None:
    """Under scripts/check, a copy of its synth's assembly in `target` (tests may edit theirs; cfn-lint and the
    other session read the original), once that synth has finished; None outside scripts/check."""
    status_file = os.environ.get(CHECK_SYNTH_STATUS)
    if not status_file:
        return None
    shutil.copytree(wait_for_synth(Path(status_file)), target, dirs_exist_ok=True, symlinks=True)
    return target
