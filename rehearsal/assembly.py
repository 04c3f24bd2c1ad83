"""What the rehearsal deploys, read from the cloud assembly (`cdk.out`) alone: no CDK import.

Stacks are found by walking every (nested) assembly manifest. A stage stack is one whose display path
is `.../<env>/<StackId>` and whose template has an `Environment` output equal to `<env>`, so the same
code finds `dev/PaymentStack` today and `PaymentPipeline/dev/PaymentStack` once the stages live inside
the pipeline stack. Paths are never hard-coded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from product.contract import Output

# The promotion order of the delivery spec; environments not listed here follow, by name.
PROMOTION_ORDER = ("dev", "staging", "prod")
CATALOG_RESOURCE_PREFIX = "AWS::ServiceCatalog::"


class AssemblyError(RuntimeError):
    """The directory is not a usable cloud assembly."""


@dataclass(frozen=True)
class StackArtifact:
    artifact_id: str
    display_name: str
    stack_name: str
    template_file: Path
    account: str
    region: str
    depth: int = field(default=0)

    @cached_property
    def template(self) -> dict[str, Any]:
        return json.loads(self.template_file.read_text())

    @property
    def environment(self) -> str | None:
        """The stage's environment: the `Environment` output when it names the stack's parent stage."""
        value = (self.template.get("Outputs", {}).get(Output.ENVIRONMENT) or {}).get("Value")
        parts = self.display_name.split("/")
        if isinstance(value, str) and len(parts) >= 2 and parts[-2] == value:
            return value
        return None

    @property
    def resource_types(self) -> set[str]:
        return {resource.get("Type", "") for resource in self.template.get("Resources", {}).values()}

    @property
    def is_catalog(self) -> bool:
        return any(t.startswith(CATALOG_RESOURCE_PREFIX) for t in self.resource_types)


def _environment_of(artifact: dict[str, Any]) -> tuple[str, str]:
    # "aws://111111111111/us-east-1"; unknown-account/unknown-region for environment-agnostic stacks.
    text = artifact.get("environment", "aws://unknown-account/unknown-region")
    account, _, region = text.removeprefix("aws://").partition("/")
    return account, region


def stacks(assembly_dir: Path) -> list[StackArtifact]:
    """Every CloudFormation stack artifact of the assembly and its nested assemblies."""
    root = assembly_dir / "manifest.json"
    if not root.is_file():
        raise AssemblyError(f"{assembly_dir} is not a cloud assembly (no manifest.json); synthesize first")
    found = []
    for manifest in sorted(assembly_dir.rglob("manifest.json")):
        depth = len(manifest.relative_to(assembly_dir).parts) - 1
        for artifact_id, artifact in json.loads(manifest.read_text()).get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            properties = artifact.get("properties", {})
            account, region = _environment_of(artifact)
            found.append(
                StackArtifact(
                    artifact_id=artifact_id,
                    display_name=artifact.get("displayName", artifact_id),
                    stack_name=properties.get("stackName", artifact_id),
                    template_file=manifest.parent / properties["templateFile"],
                    account=account,
                    region=region,
                    depth=depth,
                )
            )
    return found


def stage_stacks(assembly_dir: Path) -> dict[str, StackArtifact]:
    """Environment -> its stage stack, in promotion order. With several candidates for one environment
    (e.g. top-level stages next to the pipeline's), the most deeply nested one wins: it is the one the
    pipeline deploys."""
    by_environment: dict[str, StackArtifact] = {}
    for stack in stacks(assembly_dir):
        environment = stack.environment
        if environment is None:
            continue
        current = by_environment.get(environment)
        if current is None or stack.display_name.count("/") > current.display_name.count("/"):
            by_environment[environment] = stack
    order = [e for e in PROMOTION_ORDER if e in by_environment]
    order += sorted(set(by_environment) - set(order))
    return {environment: by_environment[environment] for environment in order}


def catalog_stacks(assembly_dir: Path) -> list[StackArtifact]:
    """Stacks that publish the Service Catalog product (portfolio, product), if the app has them."""
    return [stack for stack in stacks(assembly_dir) if stack.is_catalog]
