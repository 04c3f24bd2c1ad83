"""How pytest-xdist shares the suite between workers (scripts/check: `pytest -n 2 --dist loadscope`).

Work units (`work_unit`):
- the unit tests are one: they share the in-process synth of the whole app, which a second worker would redo;
- each rehearsal module is one. Most use the rehearsal's session fixtures (the synth, an emulator, its
  bootstrap): a worker builds its emulator with its first such module and keeps it to the end. The
  `STANDALONE_MODULES` use none of them (tests/rehearsal/test_work_units.py checks that they do not);
- every other test (tests/runtime) is one of its own.

The emulator is moto in the worker's process, and its IAM enforcement and backends are process-wide: a runtime
test's in-process mock on a worker that has started an emulator meets InvalidClientTokenId (tried: 149 runtime
tests failed). So `RehearsalAwareScheduling` gives a worker no runtime test once it has taken a module that may
start an emulator, and always keeps one worker free of emulators while runtime tests are left. Within that,
the unit tests go first, the rehearsal modules longest first (`REHEARSAL_MODULES_LONGEST_FIRST`), then the
rest: one worker starts the rehearsal at once and the other joins it when its unit and runtime tests are done.
(`--dist loadgroup` with `xdist_group` marks could not say this, and pytest-xdist 3.8 cannot rename node ids
under pytest 9, so its groups are silently ignored.)
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest

pytest_plugins = ["tests.collector"]  # the garbage collector's settings in each test process

UNIT_DIRECTORY = "tests/unit/"
REHEARSAL_DIRECTORY = "tests/rehearsal/"
RUNTIME_DIRECTORY = "tests/runtime/"
STANDALONE_MODULES = (
    "tests/rehearsal/test_build_image.py",
    "tests/rehearsal/test_executor_units.py",
    "tests/rehearsal/test_harness_units.py",
    "tests/rehearsal/test_work_units.py",
)
# Measured wall time on 2 cores, longest first; a module not listed goes after these.
REHEARSAL_MODULES_LONGEST_FIRST = (
    "tests/rehearsal/test_rehearsal.py",
    "tests/rehearsal/test_edited_pipelines.py",
    "tests/rehearsal/test_assets_and_serving.py",
    "tests/rehearsal/test_catalog_launch.py",
    "tests/rehearsal/test_resource_providers.py",
    "tests/rehearsal/test_iam.py",
    "tests/rehearsal/test_change_review.py",
)


class UnitKind(Enum):
    SHARED_SYNTH = "the unit tests"
    EMULATOR = "a rehearsal module that may start the worker's emulator"
    IN_PROCESS_MOCK = "a runtime test (moto's in-process mock)"
    STANDALONE = "a module that needs neither"


def work_unit(nodeid: str) -> str:
    """The scope a test is scheduled with: its directory's, its module's, or its own."""
    module = nodeid.split("::", 1)[0]
    if nodeid.startswith(UNIT_DIRECTORY):
        return UNIT_DIRECTORY
    if module in STANDALONE_MODULES or module.startswith(REHEARSAL_DIRECTORY):
        return module
    return nodeid


def unit_kind(unit: str) -> UnitKind:
    if unit == UNIT_DIRECTORY:
        return UnitKind.SHARED_SYNTH
    if unit in STANDALONE_MODULES:
        return UnitKind.STANDALONE
    if unit.startswith(REHEARSAL_DIRECTORY):
        return UnitKind.EMULATOR
    if unit.startswith(RUNTIME_DIRECTORY):
        return UnitKind.IN_PROCESS_MOCK
    return UnitKind.STANDALONE


def unit_priority(unit: str) -> tuple[int, int]:
    """Lower goes first: the unit tests, the rehearsal modules longest first, the standalone modules, the rest."""
    kind = unit_kind(unit)
    if kind is UnitKind.SHARED_SYNTH:
        return (0, 0)
    if kind is UnitKind.EMULATOR:
        listed = REHEARSAL_MODULES_LONGEST_FIRST
        return (1, listed.index(unit) if unit in listed else len(listed))
    return (2, 0) if kind is UnitKind.STANDALONE else (3, 0)


def may_take(unit: str, *, has_emulator: bool, queued: list[str], other_workers_without_emulator: int) -> bool:
    """Whether a worker may take `unit` now, given what is still queued."""
    kind = unit_kind(unit)
    if kind is UnitKind.IN_PROCESS_MOCK:
        return not has_emulator
    if kind is UnitKind.EMULATOR and not has_emulator:
        mocks_queued = any(unit_kind(u) is UnitKind.IN_PROCESS_MOCK for u in queued)
        return not mocks_queued or other_workers_without_emulator > 0
    return True


def next_unit(queued: list[str], *, has_emulator: bool, other_workers_without_emulator: int) -> str | None:
    allowed = [
        u
        for u in queued
        if may_take(
            u, has_emulator=has_emulator, queued=queued, other_workers_without_emulator=other_workers_without_emulator
        )
    ]
    return min(allowed, key=unit_priority, default=None)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist; absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 (only with pytest-xdist)

    class RehearsalAwareScheduling(LoadScopeScheduling):
        """loadscope over `work_unit`s, each worker's next unit chosen by `next_unit`."""

        def __init__(self, config: pytest.Config, log: Any = None) -> None:
            super().__init__(config, log)
            self.with_emulator: set[Any] = set()

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _next_for(self, node: Any) -> str | None:
            others = [n for n in self.nodes if n is not node and n not in self.with_emulator and not n.shutting_down]
            return next_unit(
                list(self.workqueue),
                has_emulator=node in self.with_emulator,
                other_workers_without_emulator=len(others),
            )

        def _assign_work_unit(self, node: Any) -> None:
            unit = self._next_for(node)
            if unit is None:
                return
            tests = self.workqueue.pop(unit)
            if unit_kind(unit) is UnitKind.EMULATOR:
                self.with_emulator.add(node)
            self.assigned_work.setdefault(node, {})[unit] = tests
            collection = self.registered_collections[node]
            node.send_runtest_some([collection.index(nodeid) for nodeid, done in tests.items() if not done])

        def _reschedule(self, node: Any) -> None:
            if node.shutting_down:
                return
            if self._next_for(node) is None:  # nothing left that this worker may take; the others finish
                node.shutdown()
                return
            if self._pending_of(self.assigned_work[node]) > 2:
                return
            self._assign_work_unit(node)

    return RehearsalAwareScheduling(config, log)
