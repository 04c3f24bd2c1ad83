"""Product versions: published ones are locked to their committed snapshots; the catalog also fits in a Stage.

Two extra syntheses, each of the catalog alone: a locked version whose template drifted (must fail), and the
catalog published from a `cdk.Stage` with sharing configured and v1 locked (must pass the nag gate).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment, Names, Stack, Stage, Token
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

from pipeline.pipeline_stack import CATALOG_STAGE_ID, PIPELINE_STACK_ID
from pipeline.stage import CatalogStage
from product.catalog.catalog_stack import CATALOG_STACK_ID, PRODUCT_STACK_ID, build_catalog
from product.catalog.product_stack import PaymentProductStack, payment_product_stack
from product.catalog.settings import CatalogSettings
from product.catalog.versions import SNAPSHOT_DIRECTORY, VERSIONS, ProductVersion, validate
from product.compliance import add_nag_gate
from product.errors import ConfigurationError
from tests.unit.apps import new_app
from tests.unit.template_instance import comparable

ACCOUNT, REGION = "111111111111", "us-east-1"
PUBLISH_STAGE = "Publish"


def _snapshot_name(version: str, stage: str | None = None, *, in_pipeline: bool = False) -> str:
    """aws-cdk's snapshot file name for the catalog at App/[PaymentPipeline/catalog | stage]/PaymentCatalog
    (the pipeline's publication stage is where the app puts it; cheap scaffold, no synth)."""
    app = new_app()
    scope: Construct = Stage(app, stage) if stage else app
    if in_pipeline:
        scope = Stage(Stack(app, PIPELINE_STACK_ID), CATALOG_STAGE_ID)
    stack = Stack(scope, CATALOG_STACK_ID)
    history = Construct(stack, "History")
    product = servicecatalog.ProductStack(stack, PRODUCT_STACK_ID)
    return f"{Names.unique_id(history)}.{product.artifact_id}.{version}.product.template.json"


def _settings(**catalog: Any) -> CatalogSettings:
    return CatalogSettings.from_context({"catalog": catalog}, default_account=ACCOUNT, default_region=REGION)


def test_snapshots_live_next_to_the_code_and_the_current_one_is_the_product(product_template: dict[str, Any]) -> None:
    """Synth (here: the session's) writes the current version's snapshot into the repository; earlier versions
    must be published and their snapshots present (commit product/catalog/versions/ with the code)."""
    snapshot = SNAPSHOT_DIRECTORY / _snapshot_name(VERSIONS[-1].name, in_pipeline=True)
    assert snapshot.is_file(), "run `make synth` and commit product/catalog/versions/"
    assert json.loads(snapshot.read_text()) == product_template
    for version in VERSIONS[:-1]:
        assert version.published
        assert (SNAPSHOT_DIRECTORY / _snapshot_name(version.name, in_pipeline=True)).is_file(), version.name


def test_a_locked_version_whose_template_changed_fails_synth(
    tmp_path: Path, cdk_context: dict[str, Any], product_template: dict[str, Any]
) -> None:
    snapshots = tmp_path / "versions"
    shutil.copytree(SNAPSHOT_DIRECTORY, snapshots)
    current = VERSIONS[-1]
    snapshot = snapshots / _snapshot_name(current.name)  # this test builds the catalog at the app's top level
    drifted = dict(product_template)
    drifted["Description"] = "what was published before the code changed"
    snapshot.write_text(json.dumps(drifted, indent=2))
    locked = (*VERSIONS[:-1], ProductVersion(current.name, current.description, published=True))
    app = new_app(context=cdk_context, outdir=str(tmp_path / "out"))
    build_catalog(app, _settings(), versions=locked, snapshot_directory=snapshots)
    with pytest.raises(RuntimeError, match=rf"Template has changed for ProductStack Version {current.name}"):
        app.synth()
    assert json.loads(snapshot.read_text()) == drifted  # the published snapshot was not overwritten


def test_a_published_version_needs_its_snapshot(tmp_path: Path, cdk_context: dict[str, Any]) -> None:
    app = new_app(context=cdk_context, outdir=str(tmp_path / "out"))
    versions = (ProductVersion("v1", "first", published=True), ProductVersion("v2", "second"))
    with pytest.raises(ConfigurationError, match=r"published product versions have no snapshot in .*\.v1\.product"):
        build_catalog(app, _settings(), versions=versions, snapshot_directory=tmp_path)


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ((), "at least one version"),
        ((ProductVersion("1.0", "x"),), "must look like v1"),
        ((ProductVersion("v1", " "),), "needs a description"),
        ((ProductVersion("v1", "a", True), ProductVersion("v1", "b")), "repeated: v1"),
        ((ProductVersion("v1", "a"), ProductVersion("v2", "b")), "only the current .* may be a draft; .*: v1"),
    ],
)
def test_version_list_is_validated(versions: tuple[ProductVersion, ...], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        validate(versions)


# -- the catalog published from a Stage, shared, with v1 locked and v2 current ------------------------------
@pytest.fixture(scope="module")
def staged_catalog(
    tmp_path_factory: pytest.TempPathFactory, cdk_context: dict[str, Any], product_template: dict[str, Any]
) -> dict[str, Any]:
    snapshots = tmp_path_factory.mktemp("versions")
    # Moving the catalog into a stage renames the snapshot files; v1 is today's template, published.
    (snapshots / _snapshot_name("v1", PUBLISH_STAGE)).write_text(json.dumps(product_template, indent=2))
    outdir = tmp_path_factory.mktemp("staged")
    app = new_app(context=cdk_context, outdir=str(outdir))
    stage = Stage(app, PUBLISH_STAGE, env=Environment(account=ACCOUNT, region=REGION))
    settings = _settings(
        principals=["arn:aws:iam::111111111111:role/PaymentAppDevelopers", "arn:aws:iam:::role/payment-app-*"],
        shareWithAccounts=["222222222222"],
        shareWithOrganization={"organizationId": "o-abc123defg", "organizationalUnits": ["ou-ab12-cdef3456"]},
    )
    versions = (ProductVersion("v1", "first release", published=True), ProductVersion("v2", "next release"))
    stack = build_catalog(stage, settings, versions=versions, snapshot_directory=snapshots)
    add_nag_gate(app)
    app.synth()  # raises ValidationFailed on an unacknowledged finding, or if locked v1 drifted
    assembly = outdir / f"assembly-{PUBLISH_STAGE}"
    return {
        "catalog": json.loads((assembly / stack.template_file).read_text()),
        "product": json.loads((assembly / stack.product_stack.template_file).read_text()),
        "report": json.loads((outdir / "validation-report.json").read_text()),
    }


def test_staged_catalog_passes_the_gate_and_serves_v1_from_its_snapshot(staged_catalog: dict[str, Any]) -> None:
    assert all(not plugin.get("violations") for plugin in staged_catalog["report"]["pluginReports"])
    product = next(
        r["Properties"]
        for r in staged_catalog["catalog"]["Resources"].values()
        if r["Type"] == "AWS::ServiceCatalog::CloudFormationProduct"
    )
    assert [v["Name"] for v in product["ProvisioningArtifactParameters"]] == ["v1", "v2"]


def test_staged_product_is_still_environment_agnostic(
    staged_catalog: dict[str, Any], product_template: dict[str, Any]
) -> None:
    """A stage's account/region must not leak into the product: it is the app-level template, except for the
    logical ids aws-cdk derives from the construct path (so: choose the catalog's place before publishing)."""
    staged, app_level = staged_catalog["product"], product_template
    assert staged["Parameters"] == app_level["Parameters"]
    assert staged["Mappings"] == app_level["Mappings"]
    assert comparable(staged["Resources"]) == comparable(app_level["Resources"])
    assert staged != app_level  # hence a snapshot locked at one place drifts at the other


def test_staged_catalog_shares_with_accounts_and_the_organization(staged_catalog: dict[str, Any]) -> None:
    resources = staged_catalog["catalog"]["Resources"].values()
    shares = [r["Properties"] for r in resources if r["Type"] == "AWS::ServiceCatalog::PortfolioShare"]
    assert [s["AccountId"] for s in shares] == ["222222222222"]
    (organization,) = (r["Properties"] for r in resources if r["Type"] == "Custom::AWS")
    assert "ou-ab12-cdef3456" in json.dumps(organization["Create"]) and "createPortfolioShare" in json.dumps(
        organization["Create"]
    )
    associations = {
        r["Properties"]["PrincipalARN"]: r["Properties"]["PrincipalType"]
        for r in resources
        if r["Type"] == "AWS::ServiceCatalog::PortfolioPrincipalAssociation"
    }
    assert associations == {
        "arn:aws:iam::111111111111:role/PaymentAppDevelopers": "IAM",
        "arn:aws:iam:::role/payment-app-*": "IAM_PATTERN",
    }
    (policy,) = (
        r["Properties"]["PolicyDocument"]
        for r in resources
        if r["Type"] == "AWS::S3::BucketPolicy" and "ReadViaCloudFormation" in json.dumps(r)
    )
    sids = {s.get("Sid"): s for s in policy["Statement"]}
    shared = sids["ReadViaCloudFormation222222222222"]
    assert shared["Principal"] == {"AWS": "arn:aws:iam::222222222222:root"}
    assert "aws:CalledVia" in json.dumps(shared["Condition"]) and "aws:PrincipalArn" in json.dumps(shared["Condition"])
    assert sids["ReadViaCloudFormationOrganization"]["Condition"]["StringEquals"] == {
        "aws:PrincipalOrgID": "o-abc123defg"
    }


def test_every_lambda_in_the_staged_catalog_logs_to_a_cdk_named_group(staged_catalog: dict[str, Any]) -> None:
    for logical_id, resource in staged_catalog["catalog"]["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            assert "Ref" in resource["Properties"]["LoggingConfig"]["LogGroup"], logical_id
        if resource["Type"] == "AWS::Logs::LogGroup":
            assert "/aws/lambda/" not in json.dumps(resource["Properties"]), logical_id


def test_a_product_stack_bound_to_its_stages_env_is_refused(cdk_context: dict[str, Any]) -> None:
    """Built directly in a Stage with an env, the ProductStack would inherit that account and region."""
    app = new_app(context=cdk_context)
    stage = Stage(app, PUBLISH_STAGE, env=Environment(account=ACCOUNT, region=REGION))
    parent = Stack(stage, CATALOG_STACK_ID)
    bucket = s3.Bucket.from_bucket_name(parent, "Assets", "payment-product-assets")
    with pytest.raises(ConfigurationError, match=r"bound to account 111111111111 and region us-east-1.*"):
        PaymentProductStack(parent, PRODUCT_STACK_ID, asset_bucket=bucket)
    agnostic = payment_product_stack(parent, "Agnostic", asset_bucket=bucket)
    assert Token.is_unresolved(agnostic.account) and Token.is_unresolved(agnostic.region)


def test_the_apps_catalog_stage_has_no_env_so_its_product_needs_no_overrides(cdk_context: dict[str, Any]) -> None:
    """Overridden account/region cost one jsii callback per read; the app's product stack is the plain class."""
    app = new_app(context=cdk_context)
    stage = CatalogStage(app, CATALOG_STAGE_ID, catalog_settings=_settings())
    assert stage.account is None and stage.region is None
    assert type(stage.stack.product_stack) is PaymentProductStack
    assert (stage.stack.account, stage.stack.region) == (ACCOUNT, REGION)
