"""The Assets action's cdk-assets shim: what it runs for CDK Pipelines' commands, and its refusals.

The shim is run as the asset project runs it, from the synthesized buildspec's own text, in a copy of the
assembly's manifests, with a recording `cdk` on PATH (the real publishing is rehearsed on the emulator:
`make run` executes the Assets action).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline.asset_publishing import SHIM
from tests.unit.pipeline_actions import pipeline_actions


def _asset_buildspec(pipeline_template: dict[str, Any], assembly_dir: Path) -> dict[str, Any]:
    (action,) = [a for a in pipeline_actions(pipeline_template) if a.stage == "Assets"]
    project = pipeline_template["Resources"][action.configuration["ProjectName"]["Ref"]]["Properties"]
    spec: dict[str, Any] = json.loads((assembly_dir / project["Source"]["BuildSpec"]).read_text())
    return spec


@pytest.fixture
def workspace(tmp_path: Path, assembly_dir: Path, pipeline_template: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """The assembly's manifests, the shim from the buildspec, and a `cdk` that records its arguments."""
    for manifest in assembly_dir.rglob("*.json"):
        if manifest.name == "manifest.json" or manifest.name.endswith(".assets.json"):
            target = tmp_path / "assembly" / manifest.relative_to(assembly_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(manifest, target)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    install = _asset_buildspec(pipeline_template, assembly_dir)["phases"]["install"]["commands"]
    (heredoc,) = [c for c in install if "CDK_ASSETS_SHIM" in c]
    shim = heredoc.split("<<'CDK_ASSETS_SHIM'\n", 1)[1].rsplit("CDK_ASSETS_SHIM", 1)[0]
    assert shim == SHIM
    (bin_dir / "cdk-assets").write_text(shim)
    (bin_dir / "cdk").write_text('#!/bin/sh\necho "$@" >> "$CDK_CALLS"\n')
    for tool in bin_dir.iterdir():
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "CDK_CALLS": str(tmp_path / "calls.txt"),
        "TMPDIR": str(tmp_path),
    }
    return tmp_path / "assembly", env


def test_each_stack_is_published_once_with_the_pinned_cli(
    workspace: tuple[Path, dict[str, str]], pipeline_template: dict[str, Any], assembly_dir: Path
) -> None:
    directory, env = workspace
    commands = _asset_buildspec(pipeline_template, assembly_dir)["phases"]["build"]["commands"]
    assert commands and all(c.startswith("cdk-assets --path ") for c in commands)
    for command in commands:
        subprocess.run(["bash", "-c", command], cwd=directory, env=env, check=True, capture_output=True)
    calls = Path(env["CDK_CALLS"]).read_text().splitlines()
    manifests = {match.group(1) for c in commands if (match := re.search(r'--path "([^"]+)"', c))}
    assert len(calls) == len(manifests)  # one publish per stack, however many of its assets are listed
    stacks = {call.split("--app . ")[1].split(" ")[0] for call in calls}
    assert len(stacks) == len(calls)
    assert stacks <= {f"PaymentPipeline/{env}/PaymentStack" for env in ("dev", "staging", "prod")} | {
        "PaymentPipeline/catalog/PaymentCatalog"
    }
    assert "PaymentPipeline/catalog/PaymentCatalog" in stacks
    assert all(call.startswith("publish-assets --unstable=publish-assets --app . ") for call in calls)


def test_a_manifest_no_stack_owns_is_refused(workspace: tuple[Path, dict[str, str]]) -> None:
    directory, env = workspace
    completed = subprocess.run(
        ["cdk-assets", "--path", "assembly-PaymentPipeline-dev/nobody.assets.json", "--verbose", "publish", "x:y"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "expected one stack owning assembly-PaymentPipeline-dev/nobody.assets.json, found []" in completed.stderr


def test_other_cdk_assets_commands_are_refused(workspace: tuple[Path, dict[str, str]]) -> None:
    directory, env = workspace
    completed = subprocess.run(
        ["cdk-assets", "ls"], cwd=directory, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode != 0
    assert "supports only `--path <manifest> publish <selector>`" in completed.stderr


def test_a_failed_publish_fails_the_action_and_is_retried(
    workspace: tuple[Path, dict[str, str]], pipeline_template: dict[str, Any], assembly_dir: Path
) -> None:
    directory, env = workspace
    failing = Path(env["PATH"].split(os.pathsep)[0]) / "cdk"
    failing.write_text('#!/bin/sh\necho "$@" >> "$CDK_CALLS"\nexit 7\n')
    command = _asset_buildspec(pipeline_template, assembly_dir)["phases"]["build"]["commands"][0]
    for _ in range(2):
        completed = subprocess.run(["bash", "-c", command], cwd=directory, env=env, capture_output=True, check=False)
        assert completed.returncode == 7
    assert len(Path(env["CDK_CALLS"]).read_text().splitlines()) == 2  # no "already published" after a failure


def test_the_cli_reads_the_bootstrap_version_with_the_owning_stacks_lookup_role(
    workspace: tuple[Path, dict[str, str]], pipeline_template: dict[str, Any], assembly_dir: Path
) -> None:
    """`cdk publish-assets` confirms the bootstrap version with the stack's deploy role, which the asset role may
    not assume: in the build's copy, the owning stack's role for that is its lookup role (read-only)."""
    directory, env = workspace
    command = _asset_buildspec(pipeline_template, assembly_dir)["phases"]["build"]["commands"][0]
    manifest_path = directory / re.search(r'--path "([^"/]+)/', command).group(1) / "manifest.json"
    before = json.loads(manifest_path.read_text())["artifacts"]
    completed = subprocess.run(
        ["bash", "-c", command], cwd=directory, env=env, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    after = json.loads(manifest_path.read_text())["artifacts"]
    stacks = [name for name, artifact in before.items() if artifact["type"] == "aws:cloudformation:stack"]
    (owner,) = stacks
    lookup_role = before[owner]["properties"]["lookupRole"]["arn"]
    assert "-deploy-role-" in before[owner]["properties"]["assumeRoleArn"] and "-lookup-role-" in lookup_role
    assert after[owner]["properties"]["assumeRoleArn"] == lookup_role
    assert f"the CLI reads the bootstrap version with the lookup role {lookup_role}" in completed.stdout
    assert {n: a for n, a in after.items() if n != owner} == {n: a for n, a in before.items() if n != owner}


def test_the_asset_role_may_assume_the_stages_lookup_roles_and_no_deploy_role(
    pipeline_template: dict[str, Any],
) -> None:
    resources = pipeline_template["Resources"]
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and r["Properties"]["Roles"] == [{"Ref": _asset_role(resources)}]
    ]
    assumed = [
        statement["Resource"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Action"] == "sts:AssumeRole"
    ]
    arns = {json.dumps(resource) for resources_ in assumed for resource in _listed(resources_)}
    assert not [arn for arn in arns if "-deploy-role-" in arn]
    lookup = {arn for arn in arns if "-lookup-role-" in arn}
    # dev, staging, prod and the catalog all live in 111111111111/us-east-1 here: one lookup role
    assert lookup == {
        json.dumps(
            {"Fn::Sub": "arn:${AWS::Partition}:iam::111111111111:role/cdk-hnb659fds-lookup-role-111111111111-us-east-1"}
        )
    }


def _asset_role(resources: dict[str, Any]) -> str:
    (role,) = [name for name, r in resources.items() if r["Type"] == "AWS::IAM::Role" and "AssetsFileRole" in name]
    return role


def _listed(resource: Any) -> list[Any]:
    return resource if isinstance(resource, list) else [resource]
