"""IAM: the functions' execution roles. Permissions arrive through `grant_*` on each resource."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from product.compliance import acknowledge


class FunctionRole(Construct):
    """An execution role that starts with no permissions at all (no AWS managed policies)."""

    def __init__(self, scope: Construct, construct_id: str, *, description: str) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description
        )

    def acknowledge_grant_policy(self, *wildcards: tuple[str, str]) -> None:
        """Acknowledge the findings on the grant-built policy: inline by construction, plus `wildcards`."""
        acknowledge(
            self.role,
            (
                "PCI.DSS.321-IAMNoInlinePolicy",
                "CDK grants write one inline policy per role, scoped to "
                "this function's own resources and deleted with the role",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "X-Ray PutTraceSegments/PutTelemetryRecords support no "
                "resource-level permissions (AWS service authorization reference)",
            ),
            *wildcards,
        )
