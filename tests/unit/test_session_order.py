"""The unit session's order (tests/unit/conftest.py): under scripts/check the tests that need the session's
assembly wait for the check's synth, so the others go first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from tests.unit.conftest import pytest_collection_modifyitems


@dataclass
class _Item:
    nodeid: str
    fixturenames: tuple[str, ...] = ()


def test_unit_tests_needing_the_assembly_go_after_the_others_and_other_tests_keep_their_places() -> None:
    items = [
        _Item("tests/unit/test_a.py::test_reads_template", ("assembly_dir", "dev")),
        _Item("tests/runtime/test_r.py::test_handler", ("assembly_dir",)),
        _Item("tests/unit/test_a.py::test_profile"),
        _Item("tests/unit/test_b.py::test_pipeline", ("pipeline_template", "assembly_dir")),
        _Item("tests/rehearsal/test_x.py::test_run"),
        _Item("tests/unit/test_b.py::test_settings", ("cdk_context",)),
    ]
    pytest_collection_modifyitems(cast(list[pytest.Item], items))
    assert [item.nodeid for item in items] == [
        "tests/unit/test_a.py::test_profile",
        "tests/runtime/test_r.py::test_handler",
        "tests/unit/test_b.py::test_settings",
        "tests/unit/test_a.py::test_reads_template",
        "tests/rehearsal/test_x.py::test_run",
        "tests/unit/test_b.py::test_pipeline",
    ]
