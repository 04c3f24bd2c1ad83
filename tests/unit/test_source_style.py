"""The code is laid out by ruff format alone (the developers' guide): no formatter suppression comments."""

from __future__ import annotations

import re
from pathlib import Path

from tests.source_files import source_files

ROOT = Path(__file__).resolve().parents[2]
SUPPRESSION = re.compile(r"#\s*(fmt:\s*(off|on|skip)|yapf:\s*disable)\b")


def _is_python(path: Path) -> bool:
    if path.suffix in {".py", ".pyi"}:
        return True
    head = path.read_bytes()[:64] if not path.suffix else b""
    return head.startswith(b"#!") and b"python" in head  # an extensionless script such as scripts/smoke


def _python_sources(root: Path) -> list[Path]:
    return [path for path in source_files(root) if _is_python(path)]


def suppressions(root: Path) -> list[str]:
    return [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in _python_sources(root)
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1)
        if SUPPRESSION.search(line)
    ]


def test_no_source_file_turns_the_formatter_off() -> None:
    found = suppressions(ROOT)
    assert not found, "let ruff format lay these out (restructure the code instead):\n" + "\n".join(found)


def test_a_suppression_comment_is_found(tmp_path: Path) -> None:
    comment = "# fmt" + ":"  # spelled in two parts, or this file would hold one
    (tmp_path / "table.py").write_text(f"VALUES = (\n    1, 2,\n)  {comment} skip\n")
    (tmp_path / "tool").write_text(f"#!/usr/bin/env python3\n{comment} off\nX = 1\n")
    (tmp_path / "notes.md").write_text(f"{comment} off is documented here, not used\n")
    assert sorted(entry.split(":", 1)[0] for entry in suppressions(tmp_path)) == ["table.py", "tool"]
