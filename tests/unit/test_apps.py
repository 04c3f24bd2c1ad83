"""Every App of the unit tests is made by `new_app` (tests/unit/apps.py), as pipeline_app makes the real one."""

from __future__ import annotations

from tests.unit.apps import apps_made_directly, unit_test_files


def test_every_unit_test_app_is_made_by_new_app() -> None:
    found = {p.name: lines for p in unit_test_files() if (lines := apps_made_directly(p.read_text()))}
    assert not found, f"App(...) called directly (use tests.unit.apps.new_app), file: lines {found}"


def test_the_check_finds_an_app_made_directly() -> None:
    source = "from aws_cdk import App\nimport aws_cdk as cdk\napp = App()\nother = cdk.App(outdir='o')\nnew_app()\n"
    assert apps_made_directly(source) == [3, 4]
