"""The catalog stack: portfolio, versioned product, TagOptions, principals, launch role, asset bucket, gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from product.catalog.assets import CLOUDFORMATION, asset_bucket_name
from product.catalog.catalog_stack import CATALOG_STACK_ID, launch_role_name
from product.catalog.launch_permissions import PERMISSIONS_FILE, generate, service_of
from product.catalog.launch_role import (
    ROLE_POLICY_QUOTA,
    SERVICE_CATALOG,
    SERVICE_LINKED_ROLES,
    SERVICE_LINKED_ROLES_NOT_NEEDED,
    deployed,
)
from product.catalog.settings import REQUIRED_TAG_OPTIONS, CatalogSettings
from product.catalog.versions import VERSIONS

MANAGED_POLICY_LIMIT = 6_144


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _one(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    (resource,) = _resources(template, resource_type).values()
    return resource["Properties"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def catalog_settings(cdk_context: dict[str, Any]) -> CatalogSettings:
    return CatalogSettings.from_context(cdk_context, default_account="111111111111", default_region="us-east-1")


@pytest.fixture(scope="session")
def launch_role_statements(catalog_template: dict[str, Any]) -> list[dict[str, Any]]:
    (role_id,) = (
        k
        for k, v in _resources(catalog_template, "AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == launch_role_name("us-east-1")
    )
    policies = [
        p
        for p in _resources(catalog_template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
    ]
    assert len(policies) >= 2
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_portfolio_product_and_named_versions(
    catalog_template: dict[str, Any], catalog_settings: CatalogSettings
) -> None:
    portfolio = _one(catalog_template, "AWS::ServiceCatalog::Portfolio")
    assert portfolio["DisplayName"] == catalog_settings.portfolio_name
    assert portfolio["ProviderName"] == catalog_settings.provider_name
    product = _one(catalog_template, "AWS::ServiceCatalog::CloudFormationProduct")
    assert product["Name"] == catalog_settings.product_name
    assert [v["Name"] for v in product["ProvisioningArtifactParameters"]] == [v.name for v in VERSIONS]
    _one(catalog_template, "AWS::ServiceCatalog::PortfolioProductAssociation")


def test_tag_options_cover_cost_center_owner_and_classification(
    catalog_template: dict[str, Any], catalog_settings: CatalogSettings
) -> None:
    options = [r["Properties"] for r in _resources(catalog_template, "AWS::ServiceCatalog::TagOption").values()]
    keys = {o["Key"] for o in options}
    assert set(REQUIRED_TAG_OPTIONS) <= keys
    assert {(o["Key"], o["Value"]) for o in options} == {
        (key, value) for key, values in catalog_settings.tag_options.items() for value in values
    }
    associations = _resources(catalog_template, "AWS::ServiceCatalog::TagOptionAssociation")
    assert len(associations) == len(options)


def test_principals_from_context_and_a_local_launch_role(
    catalog_template: dict[str, Any], catalog_settings: CatalogSettings
) -> None:
    principals = [
        r["Properties"]
        for r in _resources(catalog_template, "AWS::ServiceCatalog::PortfolioPrincipalAssociation").values()
    ]
    assert sorted(p["PrincipalARN"] for p in principals) == sorted(catalog_settings.principals)
    constraint = _one(catalog_template, "AWS::ServiceCatalog::LaunchRoleConstraint")
    role = catalog_template["Resources"][constraint["LocalRoleName"]["Ref"]]  # the role's name, once it exists
    assert role["Properties"]["RoleName"] == launch_role_name("us-east-1")
    assert "RoleArn" not in constraint


def test_asset_bucket_fixed_unique_name_encrypted_versioned_logged(catalog_template: dict[str, Any]) -> None:
    buckets = _resources(catalog_template, "AWS::S3::Bucket")
    (assets,) = (b for b in buckets.values() if "BucketName" in b["Properties"])
    props = assets["Properties"]
    assert props["BucketName"] == asset_bucket_name("111111111111", "us-east-1")
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    assert "LoggingConfiguration" in props
    assert assets["DeletionPolicy"] == "RetainExceptOnCreate"


def test_launch_role_reads_assets_only_via_cloudformation(catalog_template: dict[str, Any]) -> None:
    policies = _resources(catalog_template, "AWS::S3::BucketPolicy").values()
    (policy,) = (p["Properties"]["PolicyDocument"] for p in policies if "ReadViaCloudFormation" in json.dumps(p))
    statements = {s.get("Sid"): s for s in policy["Statement"]}
    allow = statements["ReadViaCloudFormationLaunchRole"]
    assert allow["Effect"] == "Allow"
    assert set(_as_list(allow["Action"])) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert allow["Condition"]["ForAnyValue:StringEquals"] == {"aws:CalledVia": [CLOUDFORMATION]}
    deny = statements["LaunchRolesReadOnlyViaCloudFormation"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"]["ForAllValues:StringNotEquals"] == {"aws:CalledVia": [CLOUDFORMATION]}
    assert "aws:PrincipalArn" in deny["Condition"]["ArnLike"]


def test_launch_role_itself_may_read_objects_only_under_a_condition(
    launch_role_statements: list[dict[str, Any]],
) -> None:
    """Its own policies grant no plain s3:GetObject: asset reads come from the bucket policy (via CloudFormation)."""
    for statement in launch_role_statements:
        if statement["Effect"] == "Allow" and {"s3:GetObject", "s3:GetObjectVersion"} & set(
            _as_list(statement["Action"])
        ):
            assert statement.get("Condition"), statement.get("Sid")


def test_launch_role_trusts_service_catalog_only(catalog_template: dict[str, Any]) -> None:
    role = next(
        r
        for r in _resources(catalog_template, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == launch_role_name("us-east-1")
    )["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": SERVICE_CATALOG}
    assert "Policies" not in role and "ManagedPolicyArns" not in role  # only its own customer-managed policies


def test_launch_role_has_no_wildcard_action_on_every_resource(launch_role_statements: list[dict[str, Any]]) -> None:
    for statement in launch_role_statements:
        actions = _as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement.get("Sid")
        if statement["Effect"] == "Allow":
            assert not any("*" in a for a in actions), (statement.get("Sid"), [a for a in actions if "*" in a])
            if "*" in _as_list(statement["Resource"]):
                assert not any("*" in a for a in actions), statement.get("Sid")


def test_launch_role_manages_only_the_products_resource_types(
    launch_role_statements: list[dict[str, Any]], product_template: dict[str, Any]
) -> None:
    product_services = {service_of(r["Type"]) for r in product_template["Resources"].values()}
    allowed = {a.split(":")[0] for s in launch_role_statements if s["Effect"] == "Allow" for a in _as_list(s["Action"])}
    assert product_services <= allowed
    assert allowed - product_services == {"cloudformation", "ssm"}  # its own stacks; the public AMI parameter
    permissions = json.loads(PERMISSIONS_FILE.read_text())["resourceTypes"]
    assert set(permissions) == {r["Type"] for r in product_template["Resources"].values()}


def test_launch_role_passes_roles_only_to_the_services_that_trust_them(
    launch_role_statements: list[dict[str, Any]], product_template: dict[str, Any]
) -> None:
    (pass_role,) = (s for s in launch_role_statements if _as_list(s["Action"]) == ["iam:PassRole"])
    trusted = {
        service
        for r in product_template["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        for service in _as_list(s["Principal"].get("Service", []))
    }
    assert set(_as_list(pass_role["Condition"]["StringEquals"]["iam:PassedToService"])) == trusted


def test_service_linked_roles_are_considered_for_every_type_that_may_create_one() -> None:
    permissions = json.loads(PERMISSIONS_FILE.read_text())["resourceTypes"]
    creating = {service_of(t) for t, actions in permissions.items() if "iam:CreateServiceLinkedRole" in actions}
    assert creating == set(SERVICE_LINKED_ROLES) | set(SERVICE_LINKED_ROLES_NOT_NEEDED)


def test_launch_policies_fit_iams_managed_policy_limit(catalog_template: dict[str, Any]) -> None:
    """IAM counts the deployed document (tokens resolved, no whitespace): sized with the longest pseudo values."""
    for logical_id, policy in _resources(catalog_template, "AWS::IAM::ManagedPolicy").items():
        size = len(json.dumps(deployed(policy["Properties"]["PolicyDocument"]), separators=(",", ":")))
        assert size <= MANAGED_POLICY_LIMIT, (logical_id, size)


def test_launch_role_stays_within_iams_managed_policies_per_role(catalog_template: dict[str, Any]) -> None:
    (role_id,) = (
        k
        for k, v in _resources(catalog_template, "AWS::IAM::Role").items()
        if v["Properties"].get("RoleName") == launch_role_name("us-east-1")
    )
    attached = [
        p
        for p in _resources(catalog_template, "AWS::IAM::ManagedPolicy").values()
        if {"Ref": role_id} in p["Properties"].get("Roles", [])
    ]
    assert 2 <= len(attached) <= ROLE_POLICY_QUOTA


def test_launch_permissions_file_is_generated_from_the_product_template(product_template: dict[str, Any]) -> None:
    """Regenerate with `python -m product.catalog.launch_permissions` when this fails."""
    types = {r["Type"] for r in product_template["Resources"].values()}
    assert json.loads(PERMISSIONS_FILE.read_text()) == generate(types)


def test_catalog_outputs_for_the_launch_helper(catalog_template: dict[str, Any]) -> None:
    outputs = catalog_template["Outputs"]
    assert {"PortfolioId", "ProductId", "ProductName", "CurrentVersion", "AssetBucketName", "LaunchRoleName"} <= set(
        outputs
    )
    assert outputs["CurrentVersion"]["Value"] == VERSIONS[-1].name


def test_the_nag_gate_covers_the_catalog_and_the_product(assembly_dir: Path) -> None:
    """The app's one gate reached both stacks (acknowledged findings are recorded there) and none failed."""
    report = json.loads((assembly_dir / "validation-report.json").read_text())
    checked = {
        construct["constructPath"]
        for plugin in report["pluginReports"]
        for finding in plugin.get("suppressedViolations", [])
        for construct in finding["violatingConstructs"]
    }
    catalog = f"PaymentPipeline/catalog/{CATALOG_STACK_ID}"  # published by the pipeline's last stage
    assert any(path.startswith(f"{catalog}/LaunchRole/") for path in checked)
    assert any(path.startswith(f"{catalog}/PaymentProduct/PaymentService/") for path in checked)
    assert all(not plugin.get("violations") for plugin in report["pluginReports"])
