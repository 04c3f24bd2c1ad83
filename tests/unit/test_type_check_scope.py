"""mypy follows only the aws_cdk modules the checked code imports (pyproject.toml, [tool.mypy]); every other one
is skipped. The followed list must stay equal to what the code imports: a module missing from it would be typed
Any, so mypy would pass any argument to its constructs."""

from __future__ import annotations

import ast
import tomllib
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CDK = "aws_cdk"
INTERFACES = f"{CDK}.interfaces"


def mypy_config(root: Path = ROOT) -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mypy"]
    return config


def _modules_with(config: dict[str, Any], follow_imports: str) -> set[str]:
    found: set[str] = set()
    for override in config.get("overrides", []):
        if override.get("follow_imports") == follow_imports:
            modules = override["module"]
            found.update([modules] if isinstance(modules, str) else modules)
    return found


def cdk_package() -> Path:
    spec = find_spec(CDK)  # finds the installed package without importing it
    assert spec is not None and spec.origin is not None, f"{CDK} is not installed: run scripts/setup"
    return Path(spec.origin).parent


def _is_cdk_module(package: Path, dotted: str) -> bool:
    relative = Path(*dotted.split(".")[1:])
    return (package / relative / "__init__.py").is_file() or (package / relative).with_suffix(".py").is_file()


def _python_files(root: Path, entries: list[str]) -> list[Path]:
    files: list[Path] = []
    for entry in entries:
        path = root / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def cdk_modules_imported(root: Path, entries: list[str], package: Path) -> set[str]:
    """Every aws_cdk module (not class) the files import, by `import aws_cdk.x` or `from aws_cdk import x`."""
    imported: set[str] = set()
    for path in _python_files(root, entries):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            imported.update(n for n in names if n.split(".")[0] == CDK and _is_cdk_module(package, n))
    return imported


def modules_to_follow(imported: set[str], package: Path) -> set[str]:
    """What the code imports, aws_cdk itself, and the `interfaces` module of each service it imports."""
    services = {name.split(".")[1] for name in imported if name.count(".") == 1 and name != INTERFACES}
    interfaces = {f"{INTERFACES}.{service}" for service in services}
    interfaces = {name for name in interfaces if _is_cdk_module(package, name)}
    return imported | interfaces | {CDK} | ({INTERFACES} if interfaces else set())


def test_mypy_follows_exactly_the_cdk_modules_the_checked_code_imports() -> None:
    config, package = mypy_config(), cdk_package()
    expected = modules_to_follow(cdk_modules_imported(ROOT, config["files"], package), package)
    followed = {name for name in _modules_with(config, "normal") if name.split(".")[0] == CDK}
    missing, stale = sorted(expected - followed), sorted(followed - expected)
    assert not missing and not stale, (
        "pyproject.toml [tool.mypy]: the aws_cdk modules followed (follow_imports = normal) must be what the "
        f"checked code imports.\n  add: {missing}\n  remove (nothing imports them): {stale}"
    )


def test_every_other_cdk_module_is_skipped() -> None:
    assert f"{CDK}.*" in _modules_with(mypy_config(), "skip")


def test_a_new_cdk_import_is_found_with_its_interfaces_and_classes_are_not(tmp_path: Path) -> None:
    (tmp_path / "stack.py").write_text(
        "from aws_cdk import Duration, aws_route53 as route53\n"
        "import aws_cdk.aws_sqs\n"
        "from aws_cdk.aws_s3 import Bucket\n"
    )
    package = cdk_package()
    imported = cdk_modules_imported(tmp_path, ["stack.py"], package)
    assert imported == {CDK, "aws_cdk.aws_route53", "aws_cdk.aws_sqs", "aws_cdk.aws_s3"}
    assert modules_to_follow(imported, package) == imported | {
        INTERFACES,
        "aws_cdk.interfaces.aws_route53",
        "aws_cdk.interfaces.aws_sqs",
        "aws_cdk.interfaces.aws_s3",
    }
