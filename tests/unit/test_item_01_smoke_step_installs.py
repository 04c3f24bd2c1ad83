"""Issue 11, item 1: the smoke step must run in CodeBuild's checkout (no .venv, an image without pytest).

Here: what the synthesized buildspec asks for, the pins it installs, and what `scripts/smoke` says in a copy
of the repository's files with a `python3` that has nothing but the standard library. The buildspec itself
runs in the rehearsal's dev smoke build, in a fresh checkout on such an image (tests/rehearsal/test_rehearsal.py,
test_item_01_the_dev_smoke_build_installs_its_suite_in_the_install_phase_as_synthesized).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from product.profiles import ENVIRONMENT_NAMES
from tests.source_files import copy_source
from tests.unit.pipeline_actions import pipeline_actions

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SMOKE_REQUIREMENTS = REPOSITORY_ROOT / "requirements-smoke.txt"
PIP_CACHE = "/root/.cache/pip"  # pip's cache as root, the user CodeBuild's standard images build as
# Distributions that would drag the CDK app (and Node.js through jsii) into the smoke step.
APP_ONLY = {"aws-cdk-lib", "constructs", "cdk-nag", "jsii"}
LOCAL_PACKAGES = {"tests", "product", "pipeline", "rehearsal", "assets"}
# The repository's modules the suite may import: CDK-free by design (the product's contract with it).
CDK_FREE_MODULES = {"product", "product.contract", "product.cfn_template"}


def _smoke_project(pipeline_template: dict[str, Any], env: str) -> dict[str, Any]:
    (smoke,) = [a for a in pipeline_actions(pipeline_template) if a.label == f"{env} smoke"]
    return pipeline_template["Resources"][smoke.configuration["ProjectName"]["Ref"]]["Properties"]


def _buildspec(project: dict[str, Any]) -> dict[str, Any]:
    spec = project["Source"]["BuildSpec"]
    if isinstance(spec, str):
        return json.loads(spec)
    parts = spec["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else f"<{'.'.join(p['Fn::GetAtt'])}>" for p in parts))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What CodeBuild gets from the source action: the repository's files, and no .venv, node_modules, cdk.out.

    Copied from `git ls-files` (tests/source_files.py) rather than cloned.
    """
    return copy_source(REPOSITORY_ROOT, tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def plain_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bin directory whose `python3` has the standard library only (no pytest, no boto3), as on the image."""
    venv = tmp_path_factory.mktemp("plain") / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    probe = subprocess.run([venv / "bin" / "python3", "-c", "import pytest"], check=False, capture_output=True)
    assert probe.returncode != 0, "the stand-in for the build image's python3 must not have pytest"
    return venv / "bin"


def test_item_01_scripts_smoke_says_how_to_install_what_it_misses(checkout: Path, plain_python: Path) -> None:
    env = {"PATH": f"{plain_python}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    result = subprocess.run(
        ["scripts/smoke", "--stage", "dev"],
        check=False,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("smoke: pytest, boto3, botocore are not installed"), result.stderr
    assert "pip install -r requirements-smoke.txt" in result.stderr, result.stderr  # the fix for the suite alone
    assert ".venv-smoke/bin/python scripts/smoke --stage dev" in result.stderr


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line!r} is not pinned with =="
        pins[requirement.name.lower()] = specifier.version
    return pins


def _third_party_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__"}


def _local_imports(path: Path) -> set[str]:
    """Modules of this repository that `path` imports (`tests` for the suite's own, else the module's name)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" if node.module == "product" else node.module for alias in node.names]
        for name in names:
            if name.split(".")[0] in LOCAL_PACKAGES:
                found.add("tests" if name.startswith("tests.") else name)
    return found


def test_item_01_smoke_requirements_pin_everything_the_suite_imports() -> None:
    pins = _pins(SMOKE_REQUIREMENTS)
    assert {"pytest", "boto3", "botocore"} <= set(pins)
    sources = [*sorted((REPOSITORY_ROOT / "tests" / "smoke").glob("*.py")), REPOSITORY_ROOT / "scripts" / "smoke"]
    providers = metadata.packages_distributions()
    for source in sources:
        for module in _third_party_imports(source) - LOCAL_PACKAGES:
            distributions = {d.lower() for d in providers.get(module, [])}
            assert distributions & set(pins), f"{source.name} imports {module}, which requirements-smoke.txt lacks"
            assert not distributions & APP_ONLY, f"{source.name} imports the CDK app's {module}"
        local = _local_imports(source) - {"tests"}
        assert local <= CDK_FREE_MODULES, f"{source.name} imports {local - CDK_FREE_MODULES}, which need the CDK app"
    for module in CDK_FREE_MODULES:  # and those import nothing from outside the standard library
        base = REPOSITORY_ROOT / module.replace(".", "/")
        path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
        assert _third_party_imports(path) == set(), f"{module} imports {_third_party_imports(path)}"
        assert _local_imports(path) <= CDK_FREE_MODULES, f"{module} imports {_local_imports(path)}"
    # Every pin is what the tests ran with (requirements-dev.txt installs this file), and the pins are closed:
    # each pinned distribution's own requirements are pinned too, so the step installs the same set each time.
    dev = (REPOSITORY_ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^-r requirements-smoke\.txt\b", dev, re.MULTILINE), "requirements-dev.txt must include it"
    for name, version in pins.items():
        assert metadata.version(name) == version, f"{name}=={version} but the tests run {metadata.version(name)}"
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                assert requirement.name.lower() in pins, f"{name} needs {requirement.name}, not pinned"


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_item_01_smoke_step_installs_in_the_install_phase_and_caches_pip(
    env: str, pipeline_template: dict[str, Any]
) -> None:
    project = _smoke_project(pipeline_template, env)
    spec = _buildspec(project)
    install = spec["phases"]["install"]["commands"]
    assert any("requirements-smoke.txt" in command for command in install), install
    assert not any("pip" in command for command in spec["phases"]["build"]["commands"])
    assert not any("--no-cache-dir" in command or "PIP_CACHE_DIR" in command for command in install)
    # The three smoke projects share one S3 cache (CodeBuild's local cache lives on one build host for a
    # short while, and the stages run minutes to days apart); the key changes with the requirements file.
    cache = project["Cache"]
    assert cache["Type"] == "S3" and cache["CacheNamespace"] == "payment-smoke", cache
    assert spec["cache"]["paths"] == [f"{PIP_CACHE}/**/*"]
    assert "codebuild-hash-files requirements-smoke.txt" in spec["cache"]["key"]


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_item_01_smoke_venv_has_no_pip_and_the_images_pip_installs_into_it(
    env: str, pipeline_template: dict[str, Any]
) -> None:
    """No ensurepip in the build (it unpacks and byte-compiles pip each time): `pip --python` needs pip 22.3,
    and the Python the build asks for bundles a newer one (3.12.0 came with pip 23.2.1)."""
    spec = _buildspec(_smoke_project(pipeline_template, env))
    create, install = spec["phases"]["install"]["commands"]
    assert create == "python3 -m venv --without-pip .venv-smoke"
    assert install.startswith("python3 -m pip --python .venv-smoke/bin/python install "), install
    assert install.endswith(" -r requirements-smoke.txt"), install
    requested = tuple(int(part) for part in spec["phases"]["install"]["runtime-versions"]["python"].split("."))
    assert requested >= (3, 12), f"python {requested} may bundle a pip older than 22.3, which has no --python"


def test_item_01_smoke_cache_is_one_location_in_the_artifact_bucket(pipeline_template: dict[str, Any]) -> None:
    caches = [_smoke_project(pipeline_template, env)["Cache"] for env in ENVIRONMENT_NAMES]
    assert all(c == caches[0] for c in caches), caches
    location = json.dumps(caches[0]["Location"])
    bucket_id = next(
        lid
        for lid, r in pipeline_template["Resources"].items()
        if r["Type"] == "AWS::S3::Bucket" and "KMSMasterKeyID" in json.dumps(r["Properties"].get("BucketEncryption"))
    )
    assert bucket_id in location and "codebuild-cache/smoke" in location, location
