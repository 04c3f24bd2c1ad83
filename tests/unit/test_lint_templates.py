"""scripts/lint_templates.py: cfn-lint over the assembly's templates, a pass remembered per unchanged template.

cfn-lint itself is replaced by a script that logs the templates it was given and fails on one whose text says
so: what is under test is which templates reach it and what is remembered (scripts/check runs the real one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import lint_templates

FAKE_CFN_LINT = """#!/bin/sh
shift 3  # --ignore-checks W3005 --
echo "$*" >> "$LINT_LOG"
for template in "$@"; do grep -q finding "$template" && { echo "E0000 $template"; exit 2; }; done
exit 0
"""


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str], Path]:
    fake = tmp_path / "cfn-lint"
    fake.write_text(FAKE_CFN_LINT)
    fake.chmod(0o755)
    log = tmp_path / "lint.log"
    monkeypatch.setenv("LINT_LOG", str(log))
    assembly = tmp_path / "cdk.out"
    (assembly / "assembly-Pipeline-dev").mkdir(parents=True)
    (assembly / "Pipeline.template.json").write_text('{"Resources": {}}')
    (assembly / "assembly-Pipeline-dev" / "Stack.template.json").write_text('{"Resources": {"A": {}}}')
    (assembly / "assembly-Pipeline-dev" / "Product.product.template.json").write_text('{"Resources": {"B": {}}}')
    (assembly / "manifest.json").write_text("{}")
    return assembly, [str(fake), "--ignore-checks", "W3005", "--"], log


def _linted(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def test_every_template_is_linted_once_and_an_unchanged_one_not_again(
    setup: tuple[Path, list[str], Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly, command, log = setup
    cache = tmp_path / "cache"
    assert lint_templates.lint(assembly, cache, command) == 0
    (first,) = _linted(log)
    assert sorted(Path(p).name for p in first) == [
        "Pipeline.template.json",
        "Product.product.template.json",
        "Stack.template.json",
    ]
    assert "3 templates, no findings (3 linted, 0 unchanged" in capsys.readouterr().out
    assert lint_templates.lint(assembly, cache, command) == 0
    assert len(_linted(log)) == 1, "an unchanged template was linted again"
    stack = assembly / "assembly-Pipeline-dev" / "Stack.template.json"
    stack.write_text('{"Resources": {"A": {"Type": "AWS::SQS::Queue"}}}')
    assert lint_templates.lint(assembly, cache, command) == 0
    assert _linted(log)[-1] == [str(stack)]
    assert "(1 linted, 2 unchanged since this cfn-lint passed them)" in capsys.readouterr().out.splitlines()[-1]


def test_a_template_with_findings_fails_and_is_linted_again_next_time(
    setup: tuple[Path, list[str], Path], tmp_path: Path
) -> None:
    assembly, command, log = setup
    stack = assembly / "assembly-Pipeline-dev" / "Stack.template.json"
    stack.write_text('{"Resources": {"finding": {}}}')
    cache = tmp_path / "cache"
    assert lint_templates.lint(assembly, cache, command) == 2
    assert lint_templates.lint(assembly, cache, command) == 2
    assert len(_linted(log)) == 2 and all(str(stack) in run for run in _linted(log))


def test_another_cfn_lint_version_lints_everything_again(setup: tuple[Path, list[str], Path], tmp_path: Path) -> None:
    assembly, command, log = setup
    cache = tmp_path / "cache"
    assert lint_templates.lint(assembly, cache, command, version="1.0.0") == 0
    assert lint_templates.lint(assembly, cache, command, version="1.0.1") == 0
    assert [len(run) for run in _linted(log)] == [3, 3]


def test_other_arguments_lint_everything_again(setup: tuple[Path, list[str], Path], tmp_path: Path) -> None:
    assembly, command, log = setup
    cache = tmp_path / "cache"
    assert lint_templates.lint(assembly, cache, command) == 0
    assert lint_templates.lint(assembly, cache, [command[0], "--ignore-checks", "W3005,W2001", "--"]) == 0
    assert [len(run) for run in _linted(log)] == [3, 3]


def test_an_assembly_without_templates_fails_saying_to_synthesize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert lint_templates.lint(tmp_path / "empty", tmp_path / "cache", ["/bin/true", "--"]) == 1
    assert "no *.template.json in" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lint_templates.main([str(tmp_path / "missing")])
    assert "is not a directory: synthesize first" in capsys.readouterr().err


def test_the_check_lints_with_the_one_allowed_exception() -> None:
    assert lint_templates.cfn_lint_command()[1:] == ["--ignore-checks", "W3005", "--"]
    assert Path(lint_templates.cfn_lint_command()[0]).name == "cfn-lint"
    assert lint_templates.installed_cfn_lint_version()[0].isdigit()
