"""Operator docs: every CloudWatch alarm the app synthesizes has a runbook entry, and the docs' links resolve.

Alarms are named `payment-<suffix>-<what>`; the alarm runbook (docs/runbooks/alarms.md) has one heading per
`<what>`, written `payment-<env>-<what>`, each with what it means, first checks and remediation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from product.profiles import ENVIRONMENT_NAMES
from rehearsal.assembly import product_template_files
from scripts.diagram_assembly import render

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPOSITORY_ROOT / "docs"
ALARM_RUNBOOK = DOCS / "runbooks" / "alarms.md"
README = REPOSITORY_ROOT / "README.md"
RUNBOOK_ALARM = re.compile(r"payment-<env>-([a-z0-9][a-z0-9-]*[a-z0-9])")
SECTION_PARTS = ("What it means", "First checks", "Remediation")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _name_suffixes(stack_path: str) -> set[str]:
    """Suffixes a stack's alarms may carry: the environments, and what the stack path names (`dev`, ...)."""
    suffixes = set(ENVIRONMENT_NAMES)
    for segment in stack_path.split("/"):
        suffixes.add(segment)
        if segment.startswith("PaymentStack-"):
            suffixes.add(segment.removeprefix("PaymentStack-"))
    return suffixes


def alarm_what(name: str, suffixes: set[str]) -> str | None:
    """`payment-<suffix>-<what>` -> `<what>` (the longest known suffix first; a launch parameter reads `<...>`)."""
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.startswith(f"payment-{suffix}-"):
            return name.removeprefix(f"payment-{suffix}-")
    match = re.match(r"^payment-(<[^>]+>|[a-z0-9]+)-(.+)$", name)
    return match.group(2) if match else None


def synthesized_alarms(templates: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, str | None]]:
    """(stack path, logical id, alarm name or None) of every `AWS::CloudWatch::Alarm` in the assembly."""
    for stack_path in sorted(templates):
        resources = templates[stack_path].get("Resources", {})
        for logical_id in sorted(resources):
            resource = resources[logical_id]
            if resource.get("Type") == "AWS::CloudWatch::Alarm":
                name = resource.get("Properties", {}).get("AlarmName")
                yield stack_path, logical_id, None if name is None else render(name)


def runbook_sections() -> dict[str, str]:
    """`<what>` -> the text of the runbook section whose heading names `payment-<env>-<what>`."""
    sections: dict[str, str] = {}
    current: list[str] = []
    body: list[str] = []
    fenced = False
    for line in [*ALARM_RUNBOOK.read_text().splitlines(), "## end"]:
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("#") and not fenced:  # a shell comment in a code block is not a heading
            for what in current:
                sections[what] = "\n".join(body)
            current, body = RUNBOOK_ALARM.findall(line), []
        else:
            body.append(line)
    return sections


@pytest.fixture(scope="module")
def every_template(all_templates: dict[str, dict[str, Any]], assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """The stacks' templates plus the Service Catalog product templates (assets of the catalog stack)."""
    products = {path.name: json.loads(path.read_text()) for path in product_template_files(assembly_dir)}
    return {**all_templates, **products}


def test_the_assembly_has_alarms(every_template: dict[str, dict[str, Any]]) -> None:
    assert sum(1 for _ in synthesized_alarms(every_template)) >= 9


def test_every_alarm_has_a_runbook_entry(every_template: dict[str, dict[str, Any]]) -> None:
    documented = set(runbook_sections())
    missing: dict[str, list[str]] = {}
    unnamed: list[str] = []
    for stack_path, logical_id, name in synthesized_alarms(every_template):
        if name is None:
            unnamed.append(f"{stack_path} {logical_id}")
            continue
        what = alarm_what(name, _name_suffixes(stack_path)) or name
        if what not in documented:
            missing.setdefault(what, []).append(f"{name} ({stack_path})")
    assert not unnamed, (
        "alarms without an AlarmName cannot be matched to a runbook entry; name them payment-<suffix>-<what>: "
        + ", ".join(unnamed)
    )
    assert not missing, (
        f"alarms without a runbook entry in {ALARM_RUNBOOK.relative_to(REPOSITORY_ROOT)} (add a heading containing "
        "`payment-<env>-<what>` with What it means / First checks / Remediation):\n"
        + "\n".join(f"  payment-<env>-{what}: {', '.join(sorted(names))}" for what, names in sorted(missing.items()))
    )


@pytest.mark.parametrize("what", sorted(runbook_sections()))
def test_alarm_entry_says_what_it_means_how_to_check_and_fix(what: str) -> None:
    section = runbook_sections()[what]
    absent = [part for part in SECTION_PARTS if part not in section]
    assert not absent, f"runbook entry payment-<env>-{what} lacks: {', '.join(absent)}"


@pytest.mark.parametrize(
    ("name", "suffixes", "what"),
    [
        ("payment-dev-api-5xx", {"dev"}, "api-5xx"),
        ("payment-team-a-release-errors", {"team-a", "team"}, "release-errors"),
        ("payment-<NameSuffix>-fleet-cpu", set(), "fleet-cpu"),
        ("orders-dev-errors", {"dev"}, None),
    ],
)
def test_alarm_what(name: str, suffixes: set[str], what: str | None) -> None:
    assert alarm_what(name, suffixes) == what


def _markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


@pytest.mark.parametrize("document", _markdown_files(), ids=lambda p: str(p.relative_to(REPOSITORY_ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    broken = []
    for target in _LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (document.parent / target.split("#", 1)[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f"{document.name} links to missing files: {broken}"


def test_readme_shows_the_pictures_and_links_every_runbook() -> None:
    readme = README.read_text()
    linked = {(README.parent / t.split("#", 1)[0]).resolve() for t in _LINK.findall(readme)}
    assert (DOCS / "architecture" / "payment-product.png").resolve() in linked, "README does not show the picture"
    unlinked = [p.name for p in sorted((DOCS / "runbooks").glob("*.md")) if p.resolve() not in linked]
    assert not unlinked, f"README's Documentation section does not link: {unlinked}"
