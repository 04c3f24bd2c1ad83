"""The modules scheduled apart from the rehearsal's work unit (tests/conftest.py) use none of its session
fixtures: a worker that ran one of them with such a fixture would start a second emulator and synth."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import STANDALONE_MODULES, work_unit

ROOT = Path(__file__).resolve().parents[2]


def _session_fixtures(conftest: Path) -> set[str]:
    names = set()
    for node in ast.parse(conftest.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and any(
                    k.arg == "scope" and isinstance(k.value, ast.Constant) and k.value.value == "session"
                    for k in decorator.keywords
                ):
                    names.add(node.name)
    return names


def _requested(module: Path) -> set[str]:
    """Every parameter name of a function in `module` (how a test or fixture asks for a fixture), and
    every name given to `usefixtures`."""
    names = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names |= {a.arg for a in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "usefixtures":
            names |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return names


def test_the_rehearsal_conftest_has_the_session_fixtures_this_check_looks_for() -> None:
    assert {"assembly", "emulator", "source_repo", "reports"} <= _session_fixtures(
        ROOT / "tests" / "rehearsal" / "conftest.py"
    )


@pytest.mark.parametrize("module", STANDALONE_MODULES)
def test_a_standalone_module_uses_no_session_fixture_of_its_directory(module: str) -> None:
    path = ROOT / module
    shared = _session_fixtures(path.parent / "conftest.py")
    used = _requested(path) & shared
    assert not used, f"{module} uses the session fixture(s) {sorted(used)}: drop it from STANDALONE_MODULES"


def test_work_units_keep_shared_fixture_users_together() -> None:
    assert work_unit("tests/rehearsal/test_rehearsal.py::test_x") == "tests/rehearsal/"
    assert work_unit("tests/rehearsal/test_build_image.py::test_x") == "tests/rehearsal/test_build_image.py"
    assert work_unit("tests/unit/test_pipeline.py::test_x[dev]") == "tests/unit/"
    assert work_unit("tests/runtime/test_payment_read.py::test_x") == "tests/runtime/test_payment_read.py::test_x"
