"""The one reader of a synthesized cloud assembly (`cdk.out`), CDK-free: the rehearsal, the diagrams
(`scripts/diagram_model.py`), the synth summary and the unit tests all read stacks through it.

Stacks are found by walking every (nested) assembly manifest, so a stage stack inside the pipeline
(`PaymentPipeline/dev/PaymentStack`) is found like a top-level one; paths are never hard-coded. A stage
stack is one whose display path is `.../<env>/<StackId>` and whose `Environment` output equals `<env>`.
Service Catalog product templates are assets of their catalog stack, not stacks: `product_template_files`.
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
PRODUCT_TEMPLATE_SUFFIX = ".product.template.json"


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
    environment_uri: str = "aws://unknown-account/unknown-region"
    manifest_entry: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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

    @property
    def metadata(self) -> dict[str, list[dict[str, Any]]]:
        """Construct path -> metadata entries, from the manifest and the stack's metadata file."""
        entries = dict(self.manifest_entry.get("metadata", {}))
        metadata_file = self.manifest_entry.get("additionalMetadataFile")
        if metadata_file:
            entries.update(json.loads((self.template_file.parent / metadata_file).read_text()))
        return entries

    @property
    def logical_id_paths(self) -> dict[str, str]:
        """Logical id -> construct path inside the app, from `aws:cdk:logicalId` metadata. Unlike `aws:cdk:path`
        in templates (only the CLI turns that on), every synth writes it, in-process or `cdk synth`."""
        return {
            entry["data"]: path.lstrip("/")
            for path, entries in self.metadata.items()
            for entry in entries
            if entry.get("type") == "aws:cdk:logicalId" and isinstance(entry.get("data"), str)
        }

    def file_assets(self, account: str, region: str) -> list[FileAsset]:
        """The file assets a deploy of this stack needs in place (its asset manifests' files but the template,
        which CloudFormation gets from the pipeline's artifact), with their destinations in `account`/`region`."""
        manifest = json.loads((self.template_file.parent / "manifest.json").read_text()).get("artifacts", {})
        found = []
        for dependency in self.manifest_entry.get("dependencies", []):
            artifact = manifest.get(dependency, {})
            if artifact.get("type") != "cdk:asset-manifest":
                continue
            assets = json.loads((self.template_file.parent / artifact["properties"]["file"]).read_text())
            for asset_id, entry in assets.get("files", {}).items():
                if entry["source"]["path"] == self.template_file.name:
                    continue
                for destination in entry["destinations"].values():
                    bucket, key = (
                        destination[name].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
                        for name in ("bucketName", "objectKey")
                    )
                    found.append(FileAsset(asset_id, entry["source"]["path"], bucket, key))
        return found


@dataclass(frozen=True)
class FileAsset:
    asset_id: str
    source_path: str
    bucket: str
    key: str


_AGNOSTIC = "aws://unknown-account/unknown-region"  # what the CDK writes for environment-agnostic stacks


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
            environment = artifact.get("environment", _AGNOSTIC)
            account, _, region = environment.removeprefix("aws://").partition("/")
            found.append(
                StackArtifact(
                    artifact_id=artifact_id,
                    display_name=artifact.get("displayName", artifact_id),
                    stack_name=properties.get("stackName", artifact_id),
                    template_file=manifest.parent / properties["templateFile"],
                    account=account,
                    region=region,
                    depth=depth,
                    environment_uri=environment,
                    manifest_entry=artifact,
                )
            )
    return found


def stack_templates(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """Every stack template, keyed by display path (e.g. 'PaymentPipeline/dev/PaymentStack')."""
    return {stack.display_name: stack.template for stack in stacks(assembly_dir)}


def logical_id_paths(assembly_dir: Path) -> dict[str, dict[str, str]]:
    """Construct path of every resource, by stack display path and logical id."""
    return {stack.display_name: stack.logical_id_paths for stack in stacks(assembly_dir)}


def product_template_files(assembly_dir: Path) -> list[Path]:
    """The Service Catalog product templates (`<id>.product.template.json`), assets of their catalog stack."""
    return sorted(assembly_dir.rglob(f"*{PRODUCT_TEMPLATE_SUFFIX}"))


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
