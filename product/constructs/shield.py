"""Shield Advanced: protection for the product's Shield-eligible entry point, opt-in.

A regional REST API is not eligible for Shield Advanced by itself, so with the flag on the product puts
a CloudFront distribution in front of the API stage and protects the distribution. The account-level
Shield Advanced subscription ($3,000/month) cannot be made by CloudFormation: see docs/runbooks.
"""

from __future__ import annotations

from aws_cdk import Aws, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_shield as shield
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.options import Switch, apply_switch


class EdgeShieldProtection(Construct):
    """CloudFront in front of the API stage, protected by Shield Advanced."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name_suffix: str, api: apigw.RestApi, switch: Switch = True
    ) -> None:
        super().__init__(scope, construct_id)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"payment-api-{name_suffix} (Shield Advanced entry point)",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.RestApiOrigin(api),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                # SigV4 callers sign for the API's own host name, so CloudFront must not rewrite Host.
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            ),
        )
        self.protection = shield.CfnProtection(
            self,
            "Protection",
            name=ResourceNames(name_suffix).edge_web_acl,
            resource_arn=Fn.join(
                "",
                [f"arn:{Aws.PARTITION}:cloudfront::{Aws.ACCOUNT_ID}:distribution/", self.distribution.distribution_id],
            ),
        )
        apply_switch(switch, self.distribution, self.protection)
        acknowledge(
            self.distribution,
            (
                "AwsSolutions-CFR1",
                "payments are accepted worldwide; geo restriction is a per-merchant business "
                "rule, not an infrastructure default",
            ),
            (
                "AwsSolutions-CFR2",
                "the regional web ACL on the API stage inspects every request this "
                "distribution forwards; a second, CLOUDFRONT-scoped ACL would have to live in us-east-1",
            ),
            (
                "AwsSolutions-CFR3",
                "API access is logged at the stage (access logs) and by WAF; legacy CloudFront "
                "logs need an ACL-enabled bucket, which the product does not create",
            ),
            (
                "AwsSolutions-CFR4",
                "no custom domain is configured, so the default *.cloudfront.net certificate "
                "decides the minimum viewer protocol",
            ),
        )
