"""The App the unit tests build their stacks in."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from aws_cdk import App


def new_app(**kwargs: Any) -> App:
    """An App as pipeline_app makes one: CDK's built-in CloudFormation validation off, since cfn-lint is the
    template gate. With it on, a session's first synth loads CloudFormation's schema into the jsii kernel
    (1.9 s), and a test's template would be checked by rules the app's never are."""
    return App(builtin_cloud_formation_validation=False, **kwargs)


def apps_made_directly(source: str) -> list[int]:
    """Lines of `source` that call `App(...)` (or `cdk.App(...)`) rather than `new_app`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == "App")
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "App")
        )
    ]


def unit_test_files() -> list[Path]:
    here = Path(__file__).resolve().parent
    return sorted(p for p in here.glob("*.py") if p.name != "apps.py")
