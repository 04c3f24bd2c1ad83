"""How pytest-xdist shares the suite between workers (scripts/check: `pytest -n 2 --dist loadscope`).

The unit tests are one work unit and the rehearsal tests another: each builds expensive session fixtures
(the unit tests' in-process synth of the whole app; the rehearsal's CLI synth, emulator and bootstrap)
that a second worker would build again. The rehearsal modules that use none of those fixtures
(`STANDALONE_MODULES`; tests/rehearsal/test_work_units.py checks that they do not) are a work unit each, so
the worker with the unit tests takes them while the other runs the rehearsal. A rehearsal module that uses
the emulator alone cannot move to that worker either: the emulator is moto in this process, and its IAM
enforcement and backends are process-wide, so the runtime tests' in-process mock there would meet
InvalidClientTokenId (tried: 149 runtime tests failed). Every other test
(tests/runtime) is a work unit of its own, handed to whichever worker is free. (`--dist loadgroup` with
`xdist_group` marks would say the same, but pytest-xdist 3.8 cannot rename node ids under pytest 9, so its
groups are silently ignored.)
"""

from __future__ import annotations

from typing import Any

import pytest

SHARED_FIXTURE_DIRECTORIES = ("tests/unit/", "tests/rehearsal/")
STANDALONE_MODULES = (
    "tests/rehearsal/test_build_image.py",
    "tests/rehearsal/test_executor_units.py",
    "tests/rehearsal/test_harness_units.py",
)


def work_unit(nodeid: str) -> str:
    """The scope a test is scheduled with: its directory's, its module's, or its own."""
    module = nodeid.split("::", 1)[0]
    if module in STANDALONE_MODULES:
        return module
    return next((d for d in SHARED_FIXTURE_DIRECTORIES if nodeid.startswith(d)), nodeid)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist; absent without it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 (only with pytest-xdist)

    class DirectoryScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return DirectoryScopes(config, log)
