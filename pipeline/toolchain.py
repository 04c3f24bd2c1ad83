"""What the pipeline's CodeBuild projects run on: the build image, its runtimes, and the pinned Node.js CLIs.

The CLIs the pipeline installs (`aws-cdk` for self-mutation, `cdk-assets` for asset publishing) are pinned
exactly in package.json, locked in package-lock.json, and installed by `npm ci` for local use, so the
pipeline runs the versions the repository was tested with rather than "latest".
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import aws_codebuild as codebuild

from product.profiles import ConfigurationError

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")

# Ubuntu 22.04 image; its runtimes.yml offers nodejs 18/20/22/24 and python 3.9-3.14
# (github.com/aws/aws-codebuild-docker-images, ubuntu/standard/7.0, April 2026).
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
# Node.js 20 left support at the end of April 2026; 22 is the maintained LTS both CLIs and jsii support.
# Python stays the one the synth step's tests are pinned and run on (see README, Toolchain).
RUNTIME_VERSIONS = {"python": "3.12", "nodejs": "22"}


def pinned_version(package: str, package_json: Mapping[str, Any], package_lock: Mapping[str, Any]) -> str:
    """The exact version package.json pins for `package`, checked against what package-lock.json locks."""
    declared = package_json.get("devDependencies", {}).get(package)
    if declared is None:
        raise ConfigurationError(
            f"package.json does not pin {package}: run npm install --save-dev --save-exact {package}@<version>"
        )
    if not _EXACT_VERSION.match(str(declared)):
        raise ConfigurationError(
            f"package.json pins {package} as {declared!r}, a range: the pipeline installs exactly this version; "
            f"run npm install --save-dev --save-exact {package}@<version>"
        )
    locked = package_lock.get("packages", {}).get(f"node_modules/{package}", {}).get("version")
    if locked != declared:
        raise ConfigurationError(
            f"package.json pins {package} {declared} but package-lock.json has {package} {locked}: run npm install "
            "and commit both files"
        )
    return str(declared)


def _read(name: str) -> Mapping[str, Any]:
    document: Mapping[str, Any] = json.loads((REPOSITORY_ROOT / name).read_text())
    return document


_PACKAGE_JSON, _PACKAGE_LOCK = _read("package.json"), _read("package-lock.json")
CDK_CLI_VERSION = pinned_version("aws-cdk", _PACKAGE_JSON, _PACKAGE_LOCK)
CDK_ASSETS_VERSION = pinned_version("cdk-assets", _PACKAGE_JSON, _PACKAGE_LOCK)
