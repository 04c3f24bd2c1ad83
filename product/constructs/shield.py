"""Shield Advanced: protection for the product's Shield-eligible entry point, opt-in.

A regional REST API is not eligible for Shield Advanced by itself, so with the flag on the product puts
a CloudFront distribution in front of the API stage and protects the distribution. The account-level
Shield Advanced subscription ($3,000/month) cannot be made by CloudFormation: see docs/runbooks.

Protection is worth nothing if callers can skip it, and the API's execute-api endpoint stays reachable (CloudFront
needs it). A resource policy cannot tell CloudFront from any other caller: requests reach API Gateway from
CloudFront's edge addresses (no `aws:SourceIp` list worth keeping in a policy) and carry the caller's own SigV4
identity, not CloudFront's. So CloudFront adds an origin header with a per-stack secret value and the regional
web ACL on the stage (`ApiFirewall`) blocks every request without it (the pattern AWS documents for CloudFront
origins behind WAF). The caller's SigV4 signature is unaffected: it does not sign a header CloudFront adds.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Fn
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_shield as shield
from constructs import Construct

from product.compliance import acknowledge
from product.contract import ResourceNames
from product.options import Switch, apply_switch


@dataclass(frozen=True)
class OriginHeader:
    """The header CloudFront adds to every request it forwards; the API's web ACL requires its exact value."""

    name: str
    value: str


def origin_header() -> OriginHeader:
    """The stack's own UUID (the last part of `AWS::StackId`): unguessable, never written into the template,
    stable across updates, new when the stack is recreated. Anyone who can describe the stack can read it,
    as they can read the distribution's configuration; see docs/runbooks/shield-advanced.md."""
    return OriginHeader("x-origin-verify", Fn.select(2, Fn.split("/", Aws.STACK_ID)))


class EdgeShieldProtection(Construct):
    """CloudFront in front of the API stage, protected by Shield Advanced."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_suffix: str,
        api: apigw.RestApi,
        header: OriginHeader,
        switch: Switch = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"payment-api-{name_suffix} (Shield Advanced entry point)",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.RestApiOrigin(api, custom_headers={header.name: header.value}),
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
