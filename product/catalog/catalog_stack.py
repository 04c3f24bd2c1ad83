"""`PaymentCatalogStack`: the portfolio, the versioned product, its launch role, asset bucket and sharing.

It depends only on its scope and `CatalogSettings`, so it sits in the app (`build_catalog`) or in a
`cdk.Stage` of the pipeline alike (the product stays environment-agnostic in a stage with an env). Keep
exactly one catalog in the app, and choose its place before publishing a version: aws-cdk names the
version snapshots after the construct path of the `ProductStackHistory`, and derives a few logical ids of
the product template (Lambda permissions, the SQS event source) from it, so moving the stack renames the
snapshots and makes a locked version drift (synth then refuses it: publish a new version instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Environment, Names, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import custom_resources as cr
from constructs import Construct

from product.catalog.assets import ProductAssetBucket
from product.catalog.boundary import ProductPermissionsBoundary
from product.catalog.deploy_time_functions import adopt
from product.catalog.launch_role import ProductLaunchRole
from product.catalog.launch_scopes import permissions_boundary_name
from product.catalog.product_stack import PaymentProductStack, payment_product_stack
from product.catalog.settings import CatalogSettings, OrganizationShare, principal_type
from product.catalog.versions import SNAPSHOT_DIRECTORY, VERSIONS, ProductVersion, validate
from product.checked import present
from product.compliance import acknowledge
from product.errors import ConfigurationError

CATALOG_STACK_ID = "PaymentCatalog"
AWS_CUSTOM_RESOURCE_HANDLER = "AWS679f53fac002430cb0da5b7982bd2287"  # aws-cdk's AwsCustomResource singleton
PRODUCT_STACK_ID = "PaymentProduct"
DESCRIPTION = "Payment platform Service Catalog: portfolio, versioned payment product, launch role, asset bucket"


def launch_role_name(region: str) -> str:
    """Same name in every account that launches the product (a local launch-role constraint)."""
    return f"payment-product-launch-{region}"


def snapshot_file(history: servicecatalog.ProductStackHistory, product: PaymentProductStack, version: str) -> str:
    """The file name aws-cdk gives a version's snapshot (ProductStackHistory._writeTemplateToSnapshot)."""
    return f"{Names.unique_id(history)}.{product.artifact_id}.{version}.product.template.json"


class PaymentCatalogStack(Stack):
    """Everything a platform team publishes and application teams launch from."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: CatalogSettings,
        versions: Sequence[ProductVersion] = VERSIONS,
        snapshot_directory: Path = SNAPSHOT_DIRECTORY,
        **stack_kwargs: Any,  # StackProps keywords (env, synthesizer...), forwarded to Stack
    ) -> None:
        super().__init__(scope, construct_id, description=DESCRIPTION, **stack_kwargs)
        self.settings = settings
        current = validate(versions)
        self.assets = ProductAssetBucket(self, "Assets")
        self.product_stack = payment_product_stack(self, PRODUCT_STACK_ID, asset_bucket=self.assets.bucket)
        self.assets.acknowledge_copy_function()
        self.history = servicecatalog.ProductStackHistory(
            self,
            "History",
            product_stack=self.product_stack,
            current_version_name=current.name,
            current_version_locked=current.published,
            description=current.description,
            directory=str(snapshot_directory),
        )
        self.snapshot_directory = snapshot_directory
        self._require_snapshots(versions)
        self.product = servicecatalog.CloudFormationProduct(
            self,
            "Product",
            product_name=settings.product_name,
            owner=settings.product_owner,
            description="The payment processing platform: choose an environment profile and a name suffix",
            support_email=settings.support_email,
            product_versions=[*self._earlier_versions(versions), self.history.current_version()],
        )
        self.portfolio = servicecatalog.Portfolio(
            self,
            "Portfolio",
            display_name=settings.portfolio_name,
            provider_name=settings.provider_name,
            description="Products of the payment platform team",
        )
        self.portfolio.add_product(self.product)
        self.tag_options = servicecatalog.TagOptions(
            self, "TagOptions", allowed_values_for_tags={k: list(v) for k, v in settings.tag_options.items()}
        )
        self.portfolio.associate_tag_options(self.tag_options)
        self.boundary = ProductPermissionsBoundary(self, "PermissionsBoundary", product=self.product_stack)
        self.launch_role = ProductLaunchRole(
            self,
            "LaunchRole",
            role_name=launch_role_name(self.region),
            product=self.product_stack,
            boundary_arn=self.boundary.policy.managed_policy_arn,
        )
        # By name, so shared accounts use their own role of that name (README: Service Catalog product).
        self.portfolio.set_local_launch_role(self.product, self.launch_role.role)
        self._associate_principals()
        self._share()
        self._let_launch_roles_read_assets()
        self._outputs(current)

    def _earlier_versions(
        self, versions: Sequence[ProductVersion]
    ) -> list[servicecatalog.CloudFormationProductVersion]:
        earlier = []
        for version in versions[:-1]:
            snapshot = self.history.version_from_snapshot(version.name)
            earlier.append(
                servicecatalog.CloudFormationProductVersion(
                    product_version_name=version.name,
                    description=version.description,
                    cloud_formation_template=snapshot.cloud_formation_template,
                )
            )
        return earlier

    def _require_snapshots(self, versions: Sequence[ProductVersion]) -> None:
        """A published version is served (or locked) by its committed snapshot: it must be there."""
        missing = [
            snapshot_file(self.history, self.product_stack, v.name)
            for v in versions
            if v.published
            and not (self.snapshot_directory / snapshot_file(self.history, self.product_stack, v.name)).is_file()
        ]
        if missing:
            raise ConfigurationError(
                f"published product versions have no snapshot in {self.snapshot_directory}: {', '.join(missing)}. "
                "Publish a version only after synthesizing it as a draft (which writes the snapshot); if the "
                "catalog stack moved to another construct path, rename the snapshot files to these names"
            )

    def _associate_principals(self) -> None:
        for index, arn in enumerate(self.settings.principals):
            servicecatalog.CfnPortfolioPrincipalAssociation(
                self.portfolio,
                f"Principal{index}",
                portfolio_id=self.portfolio.portfolio_id,
                principal_arn=arn,
                principal_type=principal_type(arn),
            )

    def _share(self) -> None:
        # Not Portfolio.share_with_account: that also grants the whole account unconditional read on the
        # asset bucket; here shared accounts read only through their launch role and CloudFormation.
        for account in self.settings.share_with_accounts:
            servicecatalog.CfnPortfolioShare(
                self.portfolio,
                f"Share{account}",
                portfolio_id=self.portfolio.portfolio_id,
                account_id=account,
                share_tag_options=True,
            )
        organization = self.settings.share_with_organization
        if organization is not None:
            self._share_with_organization(organization)

    def _share_with_organization(self, organization: OrganizationShare) -> None:
        """CloudFormation cannot share with an organization node: an SDK call does, per node."""
        nodes = [("ORGANIZATIONAL_UNIT", ou) for ou in organization.organizational_units] or [
            ("ORGANIZATION", organization.organization_id)
        ]
        portfolio_id = self.portfolio.portfolio_id
        for node_type, node_id in nodes:
            node = {"Type": node_type, "Value": node_id}
            share = cr.AwsCustomResource(
                self,
                f"ShareWith{node_id}",
                on_create=cr.AwsSdkCall(
                    service="ServiceCatalog",
                    action="createPortfolioShare",
                    parameters={"PortfolioId": portfolio_id, "OrganizationNode": node, "ShareTagOptions": True},
                    physical_resource_id=cr.PhysicalResourceId.of(f"{node_id}-share"),
                ),
                on_delete=cr.AwsSdkCall(
                    service="ServiceCatalog",
                    action="deletePortfolioShare",
                    parameters={"PortfolioId": portfolio_id, "OrganizationNode": node},
                ),
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [
                        iam.PolicyStatement(
                            actions=["servicecatalog:CreatePortfolioShare", "servicecatalog:DeletePortfolioShare"],
                            resources=[self.portfolio.portfolio_arn],
                        ),
                        iam.PolicyStatement(
                            # Service Catalog checks the organization on the caller's behalf; no resource scope.
                            actions=["organizations:DescribeOrganization", "organizations:DescribeOrganizationalUnit"],
                            resources=["*"],
                        ),
                    ]
                ),
                install_latest_aws_sdk=False,
            )
            acknowledge(
                share,
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "Organizations describe calls that Service Catalog makes while "
                    "sharing support no resource-level permissions",
                ),
                (
                    "PCI.DSS.321-IAMNoInlinePolicy",
                    "aws-cdk's AwsCustomResource writes its policy inline; it holds only the portfolio-share calls",
                ),
            )
        for handler in adopt(self, AWS_CUSTOM_RESOURCE_HANDLER):
            acknowledge(
                handler,
                ("PCI.DSS.321-LambdaInsideVPC", "deploy-time SDK call to Service Catalog's API only"),
                (
                    "PCI.DSS.321-CloudWatchLogGroupEncrypted",
                    "aws-cdk's AwsCustomResource handler logs only the share calls it makes, no cardholder data",
                ),
            )
            acknowledge(
                present(handler.role, "the role", of=handler),
                (
                    "PCI.DSS.321-IAMNoInlinePolicy",
                    "the grant to write the handler's own log group (and nothing else) is CDK's inline default policy",
                ),
            )

    def _let_launch_roles_read_assets(self) -> None:
        role = self.launch_role.role
        grants: list[tuple[str, iam.IPrincipal, str]] = [("LaunchRole", iam.ArnPrincipal(role.role_arn), role.role_arn)]
        for account in self.settings.share_with_accounts:
            pattern = f"arn:{Aws.PARTITION}:iam::{account}:role/{role.role_name}"
            grants.append((account, iam.AccountPrincipal(account), pattern))
        organization = self.settings.share_with_organization
        if organization is not None:
            pattern = f"arn:{Aws.PARTITION}:iam::*:role/{role.role_name}"
            grants.append(("Organization", iam.OrganizationPrincipal(organization.organization_id), pattern))
        self.assets.allow_reads_via_cloudformation(grants)

    def _outputs(self, current: ProductVersion) -> None:
        for output_id, value, description in (
            ("PortfolioId", self.portfolio.portfolio_id, "Service Catalog portfolio"),
            ("ProductId", self.product.product_id, "Service Catalog product"),
            ("ProductName", self.settings.product_name, "Product name for the launch helper (--product)"),
            ("CurrentVersion", current.name, "Newest product version (--version)"),
            ("AssetBucketName", self.assets.bucket.bucket_name, "Bucket with the product's Lambda code"),
            ("LaunchRoleName", self.launch_role.role.role_name, "Local launch role (create it in shared accounts)"),
            (
                "PermissionsBoundaryName",
                permissions_boundary_name(self.region),
                "Boundary of the product's roles (create it in shared accounts too)",
            ),
        ):
            CfnOutput(self, output_id, value=value, description=description)


def build_catalog(
    scope: Construct,
    settings: CatalogSettings,
    *,
    construct_id: str = CATALOG_STACK_ID,
    versions: Sequence[ProductVersion] = VERSIONS,
    snapshot_directory: Path = SNAPSHOT_DIRECTORY,
) -> PaymentCatalogStack:
    """The catalog stack in `scope` (an App or a Stage), in the catalog account and region."""
    return PaymentCatalogStack(
        scope,
        construct_id,
        settings=settings,
        versions=versions,
        snapshot_directory=snapshot_directory,
        env=Environment(account=settings.account, region=settings.region),
    )
