"""The bucket holding the product's Lambda code for launches, readable by launch roles only via CloudFormation.

Its name is fixed and account- and region-unique (`payment-catalog-assets-<account>-<region>`): the product
template names the bucket literally, so launches in shared accounts find it. CDK copies the assets into it
with a `BucketDeployment` (a custom-resource Lambda in the catalog stack) when the catalog deploys.
"""

from __future__ import annotations

from aws_cdk import CfnElement, DefaultStackSynthesizer, RemovalPolicy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from product.catalog.deploy_time_functions import adopt
from product.checked import l1_of
from product.compliance import acknowledge
from product.constructs.s3 import BUCKET_BASELINE
from product.errors import ConfigurationError

CLOUDFORMATION = "cloudformation.amazonaws.com"
OBJECT_READS = ["s3:GetObject", "s3:GetObjectVersion"]
BUCKET_DEPLOYMENT_ID = "ProductAssetsDeployment"  # where aws-cdk's ProductStackSynthesizer puts its copy


def asset_bucket_name(account: str, region: str) -> str:
    return f"payment-catalog-assets-{account}-{region}"


class ProductAssetBucket(Construct):
    """Encrypted, versioned, TLS-only, access-logged asset bucket with CloudFormation-only reads."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if Token.is_unresolved(stack.account) or Token.is_unresolved(stack.region):
            raise ConfigurationError(
                f"{stack.node.path} needs a concrete account and region (context catalog.account/region): the "
                "product template names its asset bucket literally"
            )
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logging delivers to SSE-S3 only
            **BUCKET_BASELINE,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.access_logs,
            ("PCI.DSS.321-S3DefaultEncryptionKMS", "S3 server access logging delivers only to SSE-S3 buckets"),
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "access logs of the product's code bucket; the code is "
                "rebuilt from the repository, so no second copy is kept",
            ),
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=asset_bucket_name(stack.account, stack.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            **BUCKET_BASELINE,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="assets/",
            # Published versions keep pointing at their code objects: never delete them with the stack.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.bucket,
            (
                "PCI.DSS.321-S3DefaultEncryptionKMS",
                "holds only the product's Lambda code zips (no cardholder "
                "data); SSE-S3 lets launch roles in shared accounts read them without a cross-account key grant",
            ),
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "the code objects are rebuilt from the repository by any "
                "catalog deployment; versioning keeps every published object",
            ),
        )

    def allow_reads_via_cloudformation(self, grants: list[tuple[str, iam.IPrincipal, str]]) -> None:
        """Let launch roles read objects, but only inside a CloudFormation operation; deny them otherwise.

        `grants` are (statement id, principal, role ARN pattern): the principal the allow names (the hub's
        role, a shared account, the organization) and the pattern pinning it to the launch role's name.
        """
        called_via = {"ForAnyValue:StringEquals": {"aws:CalledVia": [CLOUDFORMATION]}}
        for sid, principal, pattern in grants:
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"ReadViaCloudFormation{sid}",
                    principals=[principal],
                    actions=OBJECT_READS,
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions={**called_via, "ArnLike": {"aws:PrincipalArn": pattern}},
                )
            )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="LaunchRolesReadOnlyViaCloudFormation",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=OBJECT_READS,
                resources=[self.bucket.arn_for_objects("*")],
                # A request without aws:CalledVia (a direct call) matches ForAllValues: it is denied.
                conditions={
                    "ForAllValues:StringNotEquals": {"aws:CalledVia": [CLOUDFORMATION]},
                    "ArnLike": {"aws:PrincipalArn": [pattern for _, _, pattern in grants]},
                },
            )
        )

    def acknowledge_copy_function(self) -> None:
        """Findings on the BucketDeployment CDK adds when the product stack's assets are bound."""
        stack = Stack.of(self)
        handlers = adopt(self, "Custom::CDKBucketDeployment")
        source = f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{stack.account}-{stack.region}"
        destination = stack.get_logical_id(l1_of(self.bucket, CfnElement))
        for handler in handlers:
            acknowledge(
                handler,
                (
                    f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{source}/*]",
                    "aws-cdk's BucketDeployment reads the objects of the CDK bootstrap asset bucket it copies from",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::<{destination}.Arn>/*]",
                    "aws-cdk's BucketDeployment writes the product's code objects into the asset bucket",
                ),
                (
                    "PCI.DSS.321-CloudWatchLogGroupEncrypted",
                    "aws-cdk's BucketDeployment handler logs only copy "
                    "progress (object keys of code zips), no cardholder data",
                ),
                (
                    "AwsSolutions-IAM5[Action::s3:GetObject*]",
                    "aws-cdk's BucketDeployment reads the CDK asset "
                    "objects it copies; the grant is scoped to the bootstrap asset bucket",
                ),
                (
                    "AwsSolutions-IAM5[Action::s3:GetBucket*]",
                    "aws-cdk's BucketDeployment grant on the source and destination buckets only",
                ),
                (
                    "AwsSolutions-IAM5[Action::s3:List*]",
                    "aws-cdk's BucketDeployment lists the source and destination buckets only",
                ),
                (
                    "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
                    "aws-cdk's BucketDeployment grant on the asset "
                    "bucket (prune is off, so it never deletes published code)",
                ),
                (
                    "AwsSolutions-IAM5[Action::s3:Abort*]",
                    "aws-cdk's BucketDeployment aborts its own multipart uploads into the asset bucket",
                ),
                (
                    "AwsSolutions-L1",
                    "aws-cdk pins the BucketDeployment handler's runtime; it runs only while the catalog deploys",
                ),
                ("PCI.DSS.321-LambdaInsideVPC", "aws-cdk's deploy-time copy function talks only to S3 APIs"),
                (
                    "PCI.DSS.321-IAMNoInlinePolicy",
                    "aws-cdk's BucketDeployment grants its handler an inline policy scoped to the two buckets",
                ),
            )
