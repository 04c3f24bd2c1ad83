"""Asset publishing with the pinned CDK CLI, because no cdk-assets on npm reads the assembly we synthesize.

CDK Pipelines' Assets action installs `cdk-assets` and runs `cdk-assets --path <stack>.assets.json publish
<asset>` once per asset. cdk-assets 4.7.3 (npm's newest) reads cloud assembly schema 54 at most, and
aws-cdk-lib 2.275 writes 55, so that action fails in AWS ("Cloud assembly schema version mismatch"). The
pinned CDK CLI reads 55 and publishes a stack's assets with `cdk publish-assets` (an unstable command, opted
into with `--unstable=publish-assets`). So the asset project installs the pinned CLI too and replaces the
`cdk-assets` command with a small shim that publishes the stack owning the named asset manifest, once per
stack (assets already in their bucket or repository are skipped, as cdk-assets skips them). When a
cdk-assets that reads this schema is released, pin it and drop this module (tests/unit/test_item_13_*).

Unlike cdk-assets, `cdk publish-assets` first confirms the environment's bootstrap version (SSM parameter
`/cdk-bootstrap/<qualifier>/version`) with the stack's deploy role, and without that role it falls back to the
build's own credentials: the asset role can read neither, so the action failed (found on the emulator with
IAM enforced). The shim has the CLI read with the stack's lookup role instead (read-only, trusted like the
deploy role by `cdk bootstrap --trust`): in its copy of the assembly the owning stack's role for reading
becomes its lookup role, and the asset role may assume the lookup roles of the pipeline's stages
(`lookup_role_statement`), never their deploy roles. The upload itself still uses each destination's
file-publishing role, as cdk-assets does.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Fn, Stage
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam

from pipeline.toolchain import CDK_CLI_VERSION

SHIM_NAME = "cdk-assets"
# `cdk-assets --path DIR/X.assets.json [--verbose] publish SELECTOR...`, run in the cloud assembly's root.
SHIM = r'''#!/usr/bin/env python3
"""cdk-assets stand-in: publish the stack that owns --path with the pinned CDK CLI (pipeline/asset_publishing.py)."""
import json, os, subprocess, sys

arguments = sys.argv[1:]
if "--path" not in arguments or "publish" not in arguments:
    sys.exit(f"cdk-assets (CDK CLI shim) supports only `--path <manifest> publish <selector>`, got: {arguments}")
path = arguments[arguments.index("--path") + 1]
directory, file_name = os.path.split(path)
manifest = json.load(open(os.path.join(directory or ".", "manifest.json")))
artifacts = manifest.get("artifacts", {})
owners = [
    artifact.get("displayName", artifact_id)
    for artifact_id, artifact in artifacts.items()
    if artifact.get("type") == "aws:cloudformation:stack"
    and any(
        artifacts.get(dependency, {}).get("properties", {}).get("file") == file_name
        for dependency in artifact.get("dependencies", [])
    )
]
if len(owners) != 1:
    sys.exit(f"cdk-assets (CDK CLI shim): expected one stack owning {path}, found {owners}")
# The CLI reads the bootstrap version with the stack's role: its lookup role, read-only (module docstring).
(owner,) = [
    artifact
    for artifact_id, artifact in artifacts.items()
    if artifact.get("type") == "aws:cloudformation:stack" and artifact.get("displayName", artifact_id) == owners[0]
]
properties = owner.setdefault("properties", {})
lookup = properties.get("lookupRole") or {}
if lookup.get("arn") and properties.get("assumeRoleArn") != lookup["arn"]:
    for name, value in (
        ("assumeRoleArn", lookup["arn"]),
        ("assumeRoleExternalId", lookup.get("assumeRoleExternalId")),
        ("assumeRoleAdditionalOptions", lookup.get("assumeRoleAdditionalOptions")),
    ):
        if value is None:
            properties.pop(name, None)
        else:
            properties[name] = value
    with open(os.path.join(directory or ".", "manifest.json"), "w") as written:
        json.dump(manifest, written, indent=1)
    print(f"{owners[0]}: the CLI reads the bootstrap version with the lookup role {lookup['arn']}", flush=True)
marker = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cdk-assets-published-" + owners[0].replace("/", "_"))
if os.path.exists(marker):
    print(f"{owners[0]}: assets already published by this build")
    sys.exit(0)
command = ["cdk", "publish-assets", "--unstable=publish-assets", "--app", ".", owners[0], "--no-notices"]
print("$ " + " ".join(command), flush=True)
completed = subprocess.run(command, check=False)
if completed.returncode == 0:
    open(marker, "w").close()
sys.exit(completed.returncode)
'''


def install_commands() -> list[str]:
    """Install the pinned CLI and the shim; CDK Pipelines' own `npm install -g cdk-assets` runs after these."""
    return [
        f"npm install -g aws-cdk@{CDK_CLI_VERSION}",
        f"cat > \"$(npm prefix -g)/bin/{SHIM_NAME}\" <<'CDK_ASSETS_SHIM'\n{SHIM}CDK_ASSETS_SHIM",
        f'chmod +x "$(npm prefix -g)/bin/{SHIM_NAME}"',
        # CDK Pipelines appends `npm install -g cdk-assets@<version>` to these commands; sent to a scratch
        # prefix (off PATH), it can neither replace the shim nor fail on it.
        'export NPM_CONFIG_PREFIX="$(mktemp -d)"',
    ]


def asset_publishing_defaults() -> codebuild.BuildSpec:
    """The partial buildspec of the Assets action's project(s)."""
    return codebuild.BuildSpec.from_object({"phases": {"install": {"commands": install_commands()}}})


def lookup_role_statement() -> iam.PolicyStatement:
    """The asset role's permission to assume the lookup roles of the pipeline's stages; `grant_lookup_roles`
    names them once the stages are added (a statement left without them fails synth)."""
    return iam.PolicyStatement(sid="ReadTheBootstrapVersionWithTheLookupRoles", actions=["sts:AssumeRole"])


def grant_lookup_roles(statement: iam.PolicyStatement, stages: Iterable[Stage]) -> None:
    """Add the lookup role of every stack in `stages` (CDK Pipelines synthesized them when they were added)."""
    arns = {stack.lookup_role.arn for stage in stages for stack in stage.synth().stacks if stack.lookup_role}
    statement.add_resources(*(Fn.sub(arn) for arn in sorted(arns)))
