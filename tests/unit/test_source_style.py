"""Rules on the source itself: ruff format alone lays it out (no suppression comments), and the code `cdk synth`
imports checks with exceptions, because the app runs under `python -O`."""

from __future__ import annotations

import ast
import json
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


# `cdk synth` runs the app as `python -O` (cdk.json): code it imports must check with exceptions, not asserts.
APP_SOURCES = ("pipeline_app.py", "product", "pipeline")


def asserts_in_app_code(root: Path) -> list[str]:
    found = []
    for path in _python_sources(root):
        relative = path.relative_to(root)
        if relative.parts[0] not in APP_SOURCES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
        found += [f"{relative}:{node.lineno}" for node in ast.walk(tree) if isinstance(node, ast.Assert)]
    return found


def test_the_app_runs_optimized_so_jsii_skips_its_runtime_type_checks() -> None:
    cdk_json = json.loads((ROOT / "cdk.json").read_text())
    assert cdk_json["app"] == ".venv/bin/python -O pipeline_app.py"


def test_code_the_app_imports_has_no_assert_statement() -> None:
    found = asserts_in_app_code(ROOT)
    assert not found, "python -O strips these; raise instead (product/checked.py):\n" + "\n".join(found)


def test_an_assert_in_app_code_is_found(tmp_path: Path) -> None:
    (tmp_path / "product").mkdir()
    (tmp_path / "product" / "stack.py").write_text("def f(x):\n    assert x is not None\n    return x\n")
    (tmp_path / "rehearsal").mkdir()
    (tmp_path / "rehearsal" / "harness.py").write_text("assert True\n")  # not imported by the app
    assert asserts_in_app_code(tmp_path) == ["product/stack.py:2"]
