"""The import contracts (pyproject.toml, `lint-imports` in scripts/check) hold, and fail on a bad import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.lambda_import_contract import import_cycle, imports_of

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
COPIED = ("product", "pipeline", "rehearsal", "tests", "assets", "scripts", "pyproject.toml")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


@pytest.fixture
def repository_copy(tmp_path: Path) -> Path:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_the_repository_keeps_every_contract() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "expected"),
    [
        ("assets/lambda/payments/telemetry.py", "import aws_cdk", "telemetry -> aws_cdk"),
        ("assets/lambda/payments/audit_log.py", "import api", "import cycle api -> audit_log -> api"),
        ("product/profiles.py", "import pipeline.smoke", "product is not allowed to import pipeline"),
        ("pipeline/settings.py", "import rehearsal.safety", "pipeline is not allowed to import rehearsal"),
        ("rehearsal/cdk_cli.py", "import product.compliance", "rehearsal is not allowed to import aws_cdk"),
        ("rehearsal/shims.py", "from rehearsal import moto_patches", "No cycles are allowed in rehearsal"),
        ("product/contract.py", "from aws_cdk import Token", "product.contract is not allowed to import aws_cdk"),
    ],
)
def test_a_bad_import_breaks_its_contract(repository_copy: Path, module: str, bad_import: str, expected: str) -> None:
    with (repository_copy / module).open("a") as file:
        file.write(f"\n{bad_import}\n")
    result = _lint_imports(repository_copy)
    assert result.returncode == 1, result.stdout
    assert expected in result.stdout, result.stdout


def test_lambda_imports_are_read_by_top_level_name(tmp_path: Path) -> None:
    (tmp_path / "handler.py").write_text("import json\nfrom aws_cdk.aws_s3 import Bucket\nfrom . import x\n")
    found = [(item.importer, item.imported, item.line_number) for item in imports_of(tmp_path)]
    assert found == [("handler", "json", 1), ("handler", "aws_cdk", 2)]


def test_lambda_import_cycle_names_its_modules(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("import c\n")
    (tmp_path / "c.py").write_text("import a\nimport json\n")
    local = {"a", "b", "c"}
    cycle = import_cycle(imports_of(tmp_path), local)
    assert set(cycle) == local and cycle[0] == cycle[-1]
    (tmp_path / "c.py").write_text("import json\n")
    assert import_cycle(imports_of(tmp_path), local) == []
