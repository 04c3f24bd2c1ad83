"""How tests/conftest.py shares the suite between workers: the standalone modules use none of the rehearsal's
session fixtures, every rehearsal module has its place in the order, and the scheduling policy never runs a
runtime test on a worker that has an emulator, nor leaves runtime tests without a worker that may take them."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import (
    REHEARSAL_MODULES_LONGEST_FIRST,
    STANDALONE_MODULES,
    UnitKind,
    next_unit,
    unit_kind,
    work_unit,
)

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
    assert work_unit("tests/unit/test_pipeline.py::test_x[dev]") == "tests/unit/"
    assert work_unit("tests/rehearsal/test_rehearsal.py::test_x") == "tests/rehearsal/test_rehearsal.py"
    assert work_unit("tests/rehearsal/test_build_image.py::test_x") == "tests/rehearsal/test_build_image.py"
    assert work_unit("tests/runtime/test_payment_read.py::test_x") == "tests/runtime/test_payment_read.py::test_x"
    assert unit_kind("tests/rehearsal/test_rehearsal.py") is UnitKind.EMULATOR
    assert unit_kind("tests/rehearsal/test_build_image.py") is UnitKind.STANDALONE
    assert unit_kind("tests/runtime/test_payment_read.py::test_x") is UnitKind.IN_PROCESS_MOCK


def test_every_rehearsal_module_has_its_place_in_the_order() -> None:
    on_disk = {f"tests/rehearsal/{p.name}" for p in (ROOT / "tests" / "rehearsal").glob("test_*.py")} - set(
        STANDALONE_MODULES
    )
    listed = set(REHEARSAL_MODULES_LONGEST_FIRST)
    assert on_disk == listed, f"not listed: {sorted(on_disk - listed)}; gone: {sorted(listed - on_disk)}"


Policy = Callable[[list[str], bool, int], "str | None"]


def _the_policy(queued: list[str], has_emulator: bool, others_without: int) -> str | None:
    return next_unit(queued, has_emulator=has_emulator, other_workers_without_emulator=others_without)


def _in_queue_order(queued: list[str], has_emulator: bool, others_without: int) -> str | None:
    """The defect this file guards against: loadscope's order, blind to the emulator."""
    return queued[0] if queued else None


SUITE = {  # unit -> seconds, roughly as measured
    "tests/unit/": 30.0,
    **dict.fromkeys(REHEARSAL_MODULES_LONGEST_FIRST, 8.0),
    "tests/rehearsal/test_rehearsal.py": 27.0,
    **dict.fromkeys(STANDALONE_MODULES, 3.0),
    **{f"tests/runtime/test_payment_read.py::test_{i}": 0.03 for i in range(300)},
}


def _simulate(policy: Policy, order: list[str], workers: int = 2) -> dict[int, list[str]]:
    """Hands out `order` to `workers` as xdist does (the first free worker asks next), with `policy` choosing."""
    queued, clock, ran = list(order), [0.0] * workers, {w: [] for w in range(workers)}
    emulators: set[int] = set()
    active = set(range(workers))
    while queued and active:
        worker = min(active, key=lambda w: clock[w])
        others_without = len([w for w in active if w != worker and w not in emulators])
        unit = policy(queued, worker in emulators, others_without)
        if unit is None:
            active.discard(worker)
            continue
        queued.remove(unit)
        ran[worker].append(unit)
        clock[worker] += SUITE[unit]
        if unit_kind(unit) is UnitKind.EMULATOR:
            emulators.add(worker)
    assert not queued, f"left unscheduled: {queued[:3]}..."
    return ran


def _runtime_test_after_an_emulator(ran: dict[int, list[str]]) -> list[str]:
    found = []
    for units in ran.values():
        kinds = [unit_kind(u) for u in units]
        if UnitKind.EMULATOR in kinds:
            first = kinds.index(UnitKind.EMULATOR)
            found += [u for u, k in zip(units[first:], kinds[first:], strict=True) if k is UnitKind.IN_PROCESS_MOCK]
    return found


@pytest.mark.parametrize("order", ["as collected", "runtime first", "rehearsal first"])
def test_no_runtime_test_runs_where_an_emulator_has_started_and_every_unit_runs(order: str) -> None:
    units = list(SUITE)
    if order == "runtime first":
        units.sort(key=lambda u: unit_kind(u) is not UnitKind.IN_PROCESS_MOCK)
    elif order == "rehearsal first":
        units.sort(key=lambda u: unit_kind(u) is not UnitKind.EMULATOR)
    ran = _simulate(_the_policy, units)
    assert not _runtime_test_after_an_emulator(ran)
    assert sorted(u for us in ran.values() for u in us) == sorted(SUITE)
    assert all(ran.values()), "both workers have work"


def test_the_check_catches_a_policy_blind_to_the_emulator() -> None:
    rehearsal_first = sorted(SUITE, key=lambda u: unit_kind(u) is not UnitKind.EMULATOR)
    assert _runtime_test_after_an_emulator(_simulate(_in_queue_order, rehearsal_first))


def test_a_worker_with_an_emulator_takes_no_runtime_test_and_the_last_one_without_keeps_clear() -> None:
    runtime, module = "tests/runtime/test_payment_read.py::test_x", "tests/rehearsal/test_iam.py"
    assert next_unit([runtime], has_emulator=True, other_workers_without_emulator=1) is None
    assert next_unit([module, runtime], has_emulator=False, other_workers_without_emulator=0) == runtime
    assert next_unit([module, runtime], has_emulator=False, other_workers_without_emulator=1) == module
    assert next_unit([module], has_emulator=False, other_workers_without_emulator=0) == module
