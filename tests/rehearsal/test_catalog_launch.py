"""A team launches the product from Service Catalog, on the emulator, as a team would.

The catalog stack is deployed with the real CDK CLI; the harness provides what moto lacks (see
rehearsal/service_catalog.py). The launch goes through the launch helper's own functions with the
credentials of a role associated with the portfolio, and Service Catalog's rules are checked on the way.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from product.catalog.launch import EXIT_INPUT, LaunchError, LaunchRequest, Progress, provision, terminate
from product.catalog.parameters import NAME_SUFFIX, PROFILE
from rehearsal import cdk_cli
from rehearsal.catalog_launch import rehearse_catalog_launch, team_credentials
from rehearsal.emulator import Emulator
from rehearsal.executor import Console

CATALOG_STACK = "PaymentPipeline/catalog/PaymentCatalog"
TEAM_ROLE = "PaymentAppDevelopers"  # cdk.json context catalog.principals
PRODUCT = "Payment Processing"
TEAM_TAGS = {"cost-center": "CC-1001", "owner": "payments-team", "data-classification": "confidential"}


def _role_session(emulator: Emulator, role_name: str) -> boto3.session.Session:
    """Credentials of `role_name` (created in the emulator if missing), as a team member would hold them."""
    credentials = team_credentials(emulator, f"arn:aws:iam::{emulator.account}:role/{role_name}")
    return boto3.session.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
        region_name=emulator.region,
    )


def _provision_directly(sc: Any, product: dict[str, Any], name: str, profile: str, suffix: str) -> None:
    """ProvisionProduct itself, without the launch helper's own checks in front."""
    sc.provision_product(
        ProductId=product["ProductViewSummary"]["ProductId"],
        ProvisioningArtifactId=product["ProvisioningArtifacts"][0]["Id"],
        PathId=product["LaunchPaths"][0]["Id"],
        ProvisionedProductName=name,
        ProvisioningParameters=[{"Key": PROFILE, "Value": profile}, {"Key": NAME_SUFFIX, "Value": suffix}],
    )


@pytest.fixture(scope="module")
def published(assembly: Path, emulator: Emulator, reports: Path) -> dict[str, str]:
    """The catalog stack, deployed into the emulator by the CDK CLI: its outputs."""
    env = emulator.environment()
    log = reports / "catalog-launch" / "cdk.log"
    if (emulator.account, emulator.region) not in getattr(emulator, "bootstrapped", set()):
        cdk_cli.bootstrap(account=emulator.account, region=emulator.region, assembly=assembly, env=env, log_file=log)
        emulator.bootstrapped = {*getattr(emulator, "bootstrapped", set()), (emulator.account, emulator.region)}  # type: ignore[attr-defined]  # shared with the promotion
    cdk_cli.deploy(CATALOG_STACK, assembly=assembly, env=env, log_file=log)
    (stack,) = emulator.client("cloudformation").describe_stacks(StackName="catalog-PaymentCatalog")["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


@pytest.fixture(scope="module")
def team(emulator: Emulator, published: dict[str, str]) -> tuple[Any, Any]:
    session = _role_session(emulator, TEAM_ROLE)
    return (
        session.client("servicecatalog", endpoint_url=emulator.endpoint),
        session.client("cloudformation", endpoint_url=emulator.endpoint),
    )


def _request(suffix: str, **overrides: Any) -> LaunchRequest:
    values: dict[str, Any] = {
        "product": PRODUCT,
        "version": "v1",
        "name": f"payments-{suffix}",
        "parameters": {PROFILE: "dev", NAME_SUFFIX: suffix},
        "tags": dict(TEAM_TAGS),
        **overrides,
    }
    return LaunchRequest(**values)


def _launch(sc: Any, cfn: Any, request: LaunchRequest) -> tuple[dict[str, Any], str]:
    out = io.StringIO()
    record = provision(sc, request, Progress(out), cfn=cfn, poll_s=0, sleep=lambda _s: None, timeout_s=120)
    return record, out.getvalue()


def test_catalog_resources_are_provided_by_the_harness_and_accounted(
    emulator: Emulator, published: dict[str, str]
) -> None:
    assert published["ProductName"] == PRODUCT
    stack_id = emulator.client("cloudformation").describe_stacks(StackName="catalog-PaymentCatalog")["Stacks"][0][
        "StackId"
    ]
    assert emulator.skipped is not None
    provided = {item.resource_type for item in emulator.skipped.provided_for_stack(stack_id)}
    skipped = {item.resource_type for item in emulator.skipped.for_stack(stack_id)}
    assert {t for t in provided if t.startswith("AWS::ServiceCatalog::")} == {
        "AWS::ServiceCatalog::Portfolio",
        "AWS::ServiceCatalog::CloudFormationProduct",
        "AWS::ServiceCatalog::PortfolioProductAssociation",
        "AWS::ServiceCatalog::TagOption",
        "AWS::ServiceCatalog::TagOptionAssociation",
        "AWS::ServiceCatalog::LaunchRoleConstraint",
        "AWS::ServiceCatalog::PortfolioPrincipalAssociation",
    }
    assert "Custom::CDKBucketDeployment" in provided
    assert not [t for t in skipped if t.startswith("AWS::ServiceCatalog::") or t == "Custom::CDKBucketDeployment"]
    # The product's code is in the catalog's asset bucket, copied there as the BucketDeployment does.
    objects = emulator.client("s3").list_objects_v2(Bucket=published["AssetBucketName"]).get("Contents", [])
    assert [o["Key"] for o in objects if o["Key"].endswith(".zip")]


def test_a_team_launches_the_dev_profile_and_terminates_it(emulator: Emulator, team: tuple[Any, Any]) -> None:
    sc, cfn = team
    record, progress = _launch(sc, cfn, _request("team-a"))
    assert record["RecordDetail"]["Status"] == "SUCCEEDED", progress
    stack_arn = record["StackArn"]
    (stack,) = emulator.client("cloudformation").describe_stacks(StackName=stack_arn)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == TEAM_TAGS
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert (parameters[PROFILE], parameters[NAME_SUFFIX]) == ("dev", "team-a")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in record["RecordOutputs"]}
    assert outputs["PaymentsTableName"] == "payments-team-a"
    functions = emulator.client("lambda").list_functions()["Functions"]
    assert "payment-api-team-a" in {f["FunctionName"] for f in functions}
    terminate(sc, "payments-team-a", Progress(io.StringIO()), cfn=cfn, poll_s=0, sleep=lambda _s: None)
    remaining = emulator.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert stack_arn not in {s["StackId"] for s in remaining}


def test_a_tag_option_value_outside_the_allowed_list_is_rejected(team: tuple[Any, Any]) -> None:
    sc, cfn = team
    with pytest.raises(LaunchError) as refused:
        _launch(sc, cfn, _request("team-b", tags={**TEAM_TAGS, "cost-center": "CC-9999"}))
    assert refused.value.exit_code == EXIT_INPUT
    assert "cost-center=CC-9999 is not allowed by the portfolio's TagOptions: CC-1001, CC-1002" in str(refused.value)


def test_a_principal_not_associated_with_the_portfolio_cannot_see_or_launch(
    emulator: Emulator, team: tuple[Any, Any]
) -> None:
    outsider = _role_session(emulator, "SomeOtherTeam")
    sc = outsider.client("servicecatalog", endpoint_url=emulator.endpoint)
    with pytest.raises(LaunchError, match="no product 'Payment Processing' is visible to these credentials"):
        _launch(sc, outsider.client("cloudformation", endpoint_url=emulator.endpoint), _request("team-c"))
    # Knowing the ids is not enough: ProvisionProduct itself refuses.
    team_sc, _ = team
    product = team_sc.describe_product(Name=PRODUCT)
    with pytest.raises(ClientError) as denied:
        _provision_directly(sc, product, "payments-team-c", "dev", "team-c")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "SomeOtherTeam" in denied.value.response["Error"]["Message"]


def test_parameter_constraints_hold_on_the_service_side_too(team: tuple[Any, Any]) -> None:
    sc, _ = team
    product = sc.describe_product(Name=PRODUCT)
    with pytest.raises(ClientError) as refused:
        _provision_directly(sc, product, "payments-bad", "qa", "Team_B")
    message = refused.value.response["Error"]["Message"]
    assert refused.value.response["Error"]["Code"] == "InvalidParametersException"
    assert f"{PROFILE}='qa' is not one of" in message
    assert f"{NAME_SUFFIX}='Team_B' does not match" in message


def _product_template_location(assembly: Path) -> tuple[str, str]:
    """Bucket and key of the v1 template, from the catalog stack's LoadTemplateFromURL."""
    manifest = json.loads((assembly / "assembly-PaymentPipeline-catalog" / "manifest.json").read_text())
    (stack,) = [a for a in manifest["artifacts"].values() if a.get("displayName") == CATALOG_STACK]
    template_file = assembly / "assembly-PaymentPipeline-catalog" / stack["properties"]["templateFile"]
    resources = json.loads(template_file.read_text())["Resources"]
    (product,) = [r for r in resources.values() if r["Type"] == "AWS::ServiceCatalog::CloudFormationProduct"]
    url = product["Properties"]["ProvisioningArtifactParameters"][0]["Info"]["LoadTemplateFromURL"]["Fn::Sub"]
    bucket, key = url.split("}/", 1)[1].split("/", 1)
    return bucket, key


def test_a_version_keeps_the_template_it_was_published_with(
    assembly: Path, emulator: Emulator, team: tuple[Any, Any]
) -> None:
    """Overwriting the template object in S3 does not change the version (Service Catalog copies it)."""
    sc, _ = team
    product = sc.describe_product(Name=PRODUCT)
    artifact = product["ProvisioningArtifacts"][0]
    path = product["LaunchPaths"][0]["Id"]
    before = sc.describe_provisioning_parameters(
        ProductId=product["ProductViewSummary"]["ProductId"], ProvisioningArtifactId=artifact["Id"], PathId=path
    )
    s3 = emulator.client("s3")
    bucket, key = _product_template_location(assembly)
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    s3.put_object(Bucket=bucket, Key=key, Body=b'{"Parameters": {}}')
    after = sc.describe_provisioning_parameters(
        ProductId=product["ProductViewSummary"]["ProductId"], ProvisioningArtifactId=artifact["Id"], PathId=path
    )
    assert after["ProvisioningArtifactParameters"] == before["ProvisioningArtifactParameters"]
    assert {p["ParameterKey"] for p in after["ProvisioningArtifactParameters"]} >= {PROFILE, NAME_SUFFIX}
    assert {t["Key"] for t in after["TagOptions"]} == set(TEAM_TAGS)
    s3.put_object(Bucket=bucket, Key=key, Body=original)


@pytest.mark.parametrize("stage_name", ["dev", "staging", "prod"])
def test_a_stage_name_as_suffix_is_rejected_by_the_version_itself(team: tuple[Any, Any], stage_name: str) -> None:
    """The launch helper refuses first; Service Catalog refuses too, from the version's AllowedPattern."""
    sc, _ = team
    product = sc.describe_product(Name=PRODUCT)
    with pytest.raises(ClientError) as refused:
        _provision_directly(sc, product, f"payments-{stage_name}", "dev", stage_name)
    assert refused.value.response["Error"]["Code"] == "InvalidParametersException"
    assert f"{NAME_SUFFIX}='{stage_name}' does not match" in refused.value.response["Error"]["Message"]


def test_the_rehearsals_catalog_step_launches_smokes_and_terminates(
    assembly: Path, emulator: Emulator, published: dict[str, str], tmp_path: Path
) -> None:
    """What `make run` does after the catalog stage: the launch helper as a team, the smoke suite, terminate."""
    progress = io.StringIO()
    result = rehearse_catalog_launch(emulator, assembly, tmp_path / "rehearsal", Console(progress))
    assert result.status == "succeeded", (result.message, progress.getvalue())
    assert result.stack_name.startswith(f"SC-{emulator.account}-pp-")
    assert result.counts["passed"] >= 70 and not result.counts.get("failed") and not result.counts.get("error")
    assert result.report.endswith(f"smoke/{result.stack_name}/report.html")
    launch_log = Path(result.log).read_text()
    assert "-m product.catalog.launch --region us-east-1 --timeout 300 launch" in launch_log
    # team-a, or team-a<n> when an earlier launch in this shared emulator kept team-a's data (by design)
    launched = re.search(r" launch --version v1 --name (payments-team-a\d*) --profile dev", launch_log)
    assert launched, launch_log
    assert f" terminate --name {launched.group(1)}" in launch_log
    live = emulator.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert result.stack_name not in {s["StackName"] for s in live}, "the launch is terminated"
