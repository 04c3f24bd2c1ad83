"""What the catalog's launch role may do: the IAM actions CloudFormation needs for the product's resource types.

`launch_permissions.json` (committed, reviewed like code) maps each resource type of the product template
to the actions its CloudFormation resource handlers declare (create, read, update, delete), taken from the
resource schemas that cfn-lint ships. Regenerate it when the product gains or loses a resource type:

    python -m product.catalog.launch_permissions          # rewrite the file
    python -m product.catalog.launch_permissions --check  # exit 1 if it is stale

Generation narrows the schemas' lists:
- names IAM does not know are dropped (the schemas carry a few, e.g. `s3:REST.PUT.OBJECT`, `kms:ReEncrypt`);
- actions of services the product does not use are dropped (e.g. the WAF association handler lists the
  permissions for every resource type a web ACL can protect: AppSync, Cognito, App Runner, ...);
- read-only wildcards (`ec2:Describe*`) are expanded to the concrete actions of IAM's action catalogue
  (shipped with cfn-lint), so the policy holds no wildcard action; `ssm:Get*` becomes the two reads the
  AMI parameter needs, scoped to AWS's public parameters by the launch role.
Synth reads only the JSON; cfn-lint is needed to regenerate it, not to build the app.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource
from constructs import Construct

from product.errors import ConfigurationError

PERMISSIONS_FILE = Path(__file__).with_name("launch_permissions.json")
HANDLERS = ("create", "read", "update", "delete")
# Services the product's resources need beyond their own namespaces (CloudFormation resolves the AMI
# parameter with the launch role's credentials).
EXTRA_SERVICES = ("ssm",)
# Wildcards that must not be expanded from the catalogue but replaced by the specific actions needed.
WILDCARD_REPLACEMENTS = {"ssm:Get*": ["ssm:GetParameter", "ssm:GetParameters"]}
SCHEMA_REGION = "us-east-1"
_IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


def product_resource_types(scope: Construct) -> set[str]:
    """Every CloudFormation resource type under `scope` (the product stack)."""
    return {c.cfn_resource_type for c in scope.node.find_all() if isinstance(c, CfnResource)}


def service_of(resource_type: str) -> str:
    """IAM namespace of a resource type: 'AWS::Lambda::Function' -> 'lambda'."""
    return resource_type.split("::")[1].lower()


def load() -> dict[str, list[str]]:
    """Resource type -> actions, as committed."""
    return dict(json.loads(PERMISSIONS_FILE.read_text())["resourceTypes"])


def actions_for(resource_types: Iterable[str], permissions: Mapping[str, list[str]] | None = None) -> list[str]:
    """The union of the actions of `resource_types`; a type missing from the file fails with the fix."""
    permissions = load() if permissions is None else permissions
    missing = sorted(set(resource_types) - set(permissions))
    if missing:
        raise ConfigurationError(
            f"the product contains resource types with no launch permissions: {', '.join(missing)}; run "
            "`python -m product.catalog.launch_permissions` and review the diff of launch_permissions.json"
        )
    return sorted({action for resource_type in resource_types for action in permissions[resource_type]})


# -- generation (needs cfn-lint) ---------------------------------------------------------------------
def _schema_handler_actions(resource_type: str) -> list[str]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER  # noqa: PLC0415 - dev dependency, generation only

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region=SCHEMA_REGION, resource_type=resource_type)
    handlers = schema.schema.get("handlers", {})
    if not handlers:
        raise ConfigurationError(f"{resource_type} has no handler permissions in the cfn-lint schemas")
    return sorted({p for name in HANDLERS for p in handlers.get(name, {}).get("permissions", [])})


def _iam_catalogue() -> dict[str, list[str]]:
    import cfnlint  # noqa: PLC0415 - dev dependency, generation only

    path = Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json"
    return {service: sorted(spec.get("Actions", {})) for service, spec in json.loads(path.read_text()).items()}


def _expand(action: str, catalogue: Mapping[str, list[str]]) -> list[str]:
    if action in WILDCARD_REPLACEMENTS:
        return WILDCARD_REPLACEMENTS[action]
    if "*" not in action:
        return [action]
    service, pattern = action.split(":", 1)
    prefix = pattern.rstrip("*").lower()
    if "*" in prefix or not prefix:
        raise ConfigurationError(f"cannot expand {action!r}: only 'service:Prefix*' wildcards are supported")
    matches = [f"{service}:{name}" for name in catalogue.get(service, []) if name.startswith(prefix)]
    if not matches:
        raise ConfigurationError(f"{action!r} matches no action in IAM's catalogue")
    return matches


def generate(resource_types: Iterable[str]) -> dict[str, Any]:
    """The file's content for `resource_types`, from the cfn-lint schemas and IAM catalogue."""
    import cfnlint.version  # noqa: PLC0415 - dev dependency, generation only

    types = sorted(set(resource_types))
    services = {service_of(t) for t in types} | set(EXTRA_SERVICES)
    catalogue = _iam_catalogue()
    known = {service: set(actions) for service, actions in catalogue.items()}
    per_type: dict[str, list[str]] = {}
    dropped: set[str] = set()
    invalid: set[str] = set()
    expanded: dict[str, list[str]] = {}
    for resource_type in types:
        actions: set[str] = set()
        for action in _schema_handler_actions(resource_type):
            service, name = action.split(":", 1) if _IAM_ACTION.match(action) else ("", "")
            if not service or ("*" not in name and name.lower() not in known.get(service, set())):
                invalid.add(action)  # not an action IAM knows (the schemas carry a few stale or made-up names)
                continue
            if service not in services:
                dropped.add(action)
                continue
            concrete = _expand(action, catalogue)
            if concrete != [action]:
                expanded[action] = concrete
            actions.update(concrete)
        per_type[resource_type] = sorted(actions)
    return {
        "generatedBy": "python -m product.catalog.launch_permissions",
        "source": f"cfn-lint {cfnlint.version.__version__} resource schemas ({SCHEMA_REGION}), handlers "
        f"{'/'.join(HANDLERS)}",
        "droppedServicesNotInProduct": sorted(dropped),
        "droppedUnknownToIam": sorted(invalid),
        "expandedWildcards": dict(sorted(expanded.items())),
        "resourceTypes": per_type,
    }


def _product_types_from_a_fresh_build() -> set[str]:
    from aws_cdk import App, Environment, Stack  # noqa: PLC0415
    from aws_cdk import aws_s3 as s3  # noqa: PLC0415

    from product.catalog.product_stack import PaymentProductStack  # noqa: PLC0415

    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"  # feature flags shape the template
    app = App(context=json.loads(cdk_json.read_text()).get("context", {}))
    parent = Stack(app, "Generator", env=Environment(account="111111111111", region=SCHEMA_REGION))
    bucket = s3.Bucket(parent, "Assets", bucket_name="launch-permissions-generator")
    return product_resource_types(PaymentProductStack(parent, "Product", asset_bucket=bucket))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if launch_permissions.json is stale")
    args = parser.parse_args(argv)
    content = json.dumps(generate(_product_types_from_a_fresh_build()), indent=2) + "\n"
    if args.check:
        if not PERMISSIONS_FILE.is_file() or PERMISSIONS_FILE.read_text() != content:
            print(f"{PERMISSIONS_FILE} is stale: run python -m product.catalog.launch_permissions", file=sys.stderr)
            return 1
        print(f"{PERMISSIONS_FILE.name} is up to date")
        return 0
    PERMISSIONS_FILE.write_text(content)
    print(f"wrote {PERMISSIONS_FILE} ({len(json.loads(content)['resourceTypes'])} resource types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
