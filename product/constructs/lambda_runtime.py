"""The functions' runtime libraries (Powertools and its tracer dependencies) as a layer built at synth.

The versions come from one file, `assets/lambda/runtime/requirements.txt`, which requirements-dev.txt
includes: the tests run exactly what is deployed. AWS's published Powertools layers carry whatever release
a layer version was cut from, so pinning one of them would let the deployed library drift from the tested
one; instead synth installs the pinned wheels for the Lambda platform (manylinux x86_64, CPython of the
functions' runtime) with pip, without Docker, into a cache keyed by the file's content, and copies them
into the layer. Synth therefore needs PyPI once per change of the pins (CI and CodeBuild reach it).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

RUNTIME_REQUIREMENTS = Path(__file__).resolve().parents[2] / "assets" / "lambda" / "runtime" / "requirements.txt"
LAYER_PYTHON_DIR = "python"  # where Lambda looks for a Python layer's packages
CACHE_ROOT = Path(tempfile.gettempdir()) / "payment-lambda-runtime"


def runtime_pins(requirements: Path = RUNTIME_REQUIREMENTS) -> dict[str, str]:
    """Distribution name -> pinned version; every line must be an exact `name==version` pin."""
    pins: dict[str, str] = {}
    for number, line in enumerate(requirements.read_text().splitlines(), start=1):
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name, separator, version = requirement.partition("==")
        if not separator or not name.strip() or not version.strip() or "[" in name:
            raise ValueError(
                f"{requirements}:{number}: {requirement!r} must be an exact pin 'name==version' (list each "
                "dependency on its own line; extras are not installed because the layer is built with --no-deps)"
            )
        pins[name.strip().lower()] = version.strip()
    if not pins:
        raise ValueError(f"{requirements} pins nothing: the functions need aws-lambda-powertools")
    return pins


def _pip_arguments(runtime: lambda_.Runtime) -> list[str]:
    version = runtime.name.removeprefix("python")  # 'python3.14' -> '3.14'
    return [
        "--platform=manylinux2014_x86_64",
        "--implementation=cp",
        f"--python-version={version}",
        "--only-binary=:all:",
        "--no-deps",  # every dependency is pinned in the file; botocore comes with the Lambda runtime
        "--no-compile",
    ]


def _fingerprint(requirements: Path, runtime: lambda_.Runtime) -> str:
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(" ".join(_pip_arguments(runtime)).encode())
    return digest.hexdigest()


@jsii.implements(ILocalBundling)
class _PipInstall:
    """Local bundling: pip installs the pinned wheels once per fingerprint, then each synth copies them."""

    def __init__(self, requirements: Path, runtime: lambda_.Runtime) -> None:
        self._requirements = requirements
        self._runtime = runtime

    def try_bundle(self, output_dir: str, *_: object, **__: object) -> bool:
        cached = CACHE_ROOT / _fingerprint(self._requirements, self._runtime)
        if not cached.is_dir():
            CACHE_ROOT.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=CACHE_ROOT))
            command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            command += [*_pip_arguments(self._runtime), "--target", str(staging / LAYER_PYTHON_DIR)]
            result = subprocess.run(
                [*command, "-r", str(self._requirements)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                raise RuntimeError(
                    f"could not install {self._requirements} for the Lambda layer (pip exit {result.returncode}): "
                    f"{result.stderr.strip()[-2000:]}\nsynth needs PyPI once per change of these pins; check the "
                    "network or the pinned versions (each must have a manylinux x86_64 or pure-Python wheel)"
                )
            try:
                staging.rename(cached)
            except OSError:  # another synth finished the same install first
                shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(cached, output_dir, dirs_exist_ok=True)
        return True


class RuntimeLibrariesLayer(Construct):
    """One layer per deployment with the pinned runtime libraries, shared by its functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layer_name: str,
        runtime: lambda_.Runtime,
        requirements: Path = RUNTIME_REQUIREMENTS,
    ) -> None:
        super().__init__(scope, construct_id)
        pins = runtime_pins(requirements)
        code = lambda_.Code.from_asset(
            str(requirements.parent),
            # The content is a function of the pins alone, so the hash is too: synth stays deterministic
            # (the catalog's version snapshots) whatever pip writes into the files it installs.
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=_fingerprint(requirements, runtime),
            bundling=BundlingOptions(
                # Never used: local bundling always succeeds or raises, so Docker is not needed.
                image=DockerImage.from_registry("local-bundling-only"),
                local=_PipInstall(requirements, runtime),
            ),
        )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            layer_version_name=layer_name,
            code=code,
            compatible_runtimes=[runtime],
            compatible_architectures=[lambda_.Architecture.X86_64],
            description=f"aws-lambda-powertools {pins['aws-lambda-powertools']} and its pinned dependencies",
        )
