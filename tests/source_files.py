"""The repository's files as a commit holds them: what CodeBuild's source action hands a build."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# What setup, the checks and the builds add to a checkout (and git itself): never part of the source.
BUILD_OUTPUT = {".git", ".venv", ".venv-smoke", "node_modules", "cdk.out", "reports", "__pycache__", ".pytest_cache"}
BUILD_OUTPUT |= {".ruff_cache", ".mypy_cache", ".hypothesis", ".import_linter_cache"}


def source_files(root: Path) -> list[Path]:
    """git's list when `root` is a checkout (tracked and new files, not ignored; a tracked file deleted in the
    working tree is left out), so a test sees the working tree it runs against, committed or not; else every
    file but build output (the synth action's workspace is a zip of the tracked files, with no .git)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0 and listed.stdout.strip():
        return [root / name for name in listed.stdout.decode().split("\0") if name and (root / name).is_file()]
    return [
        path
        for path in root.rglob("*")
        if path.is_file()
        and not BUILD_OUTPUT.intersection(path.relative_to(root).parts)
        and not any(part.endswith(".egg-info") for part in path.relative_to(root).parts)
    ]


def copy_source(root: Path, target: Path) -> Path:
    """`root`'s source files copied under `target` (modes and times kept); returns `target`."""
    for path in source_files(root):
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    return target
