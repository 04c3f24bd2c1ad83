"""The permissions boundary of every role the product creates: the most any product role may ever do.

The catalog stack creates it under a fixed name (`payment-product-boundary-<region>`); the product applies it
to its roles by that name (`PaymentProductStack`), and the launch role may create or change a role only with
this boundary (`iam:PermissionsBoundary`). So no product version, and no launch, can make a role that reaches
IAM, STS, Organizations or any service the product's roles do not use, whatever its own policies say.

It allows the services the product's roles use: the actions of their inline policies and the services of
the AWS managed policies they attach (`MANAGED_POLICY_SERVICES`, reviewed); a role of a new kind fails synth
until its managed policy is listed here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from product.catalog.launch_scopes import permissions_boundary_name
from product.compliance import acknowledge
from product.errors import ConfigurationError

# Services each AWS managed policy attached by the product reaches (from the policies' documents).
MANAGED_POLICY_SERVICES = {
    "service-role/AWSCodeDeployRoleForLambdaLimited": ("cloudwatch", "lambda", "s3", "sns"),
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": ("logs",),
    "AmazonSSMManagedInstanceCore": ("ec2messages", "ssm", "ssmmessages"),
}
_AWS_POLICY = re.compile(r":iam::aws:policy/([\w+=,.@/-]+)")


def _actions(document: Any) -> set[str]:
    statements = document.get("Statement", [])
    found: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") == "Allow":
            action = statement.get("Action", [])
            found.update([action] if isinstance(action, str) else action)
    return found


def role_services(product: Construct) -> list[str]:
    """IAM namespaces the product's roles reach through their policies (inline and AWS managed)."""
    stack = Stack.of(product)
    services: set[str] = set()
    for construct in product.node.find_all():
        if isinstance(construct, iam.CfnPolicy):
            document = json.loads(json.dumps(stack.resolve(construct.policy_document)))
            services.update(action.split(":", 1)[0] for action in _actions(document))
        elif isinstance(construct, iam.CfnRole):
            for arn in stack.resolve(construct.managed_policy_arns) or []:
                match = _AWS_POLICY.search(json.dumps(arn))
                name = match.group(1) if match else ""
                if name not in MANAGED_POLICY_SERVICES:
                    raise ConfigurationError(
                        f"a product role attaches the managed policy {arn!r}, which the permissions boundary does "
                        "not know: add its services to MANAGED_POLICY_SERVICES in product/catalog/boundary.py"
                    )
                services.update(MANAGED_POLICY_SERVICES[name])
    return sorted(services)


class ProductPermissionsBoundary(Construct):
    """The managed policy, named so the product and shared accounts find it by name."""

    def __init__(self, scope: Construct, construct_id: str, *, product: Construct) -> None:
        super().__init__(scope, construct_id)
        self.services = role_services(product)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=permissions_boundary_name(Stack.of(self).region),
            description="Permissions boundary of every role the payment product creates (set by its launch role)",
            statements=[
                iam.PolicyStatement(
                    sid="ProductRoleServicesOnly",
                    actions=[f"{service}:*" for service in self.services],
                    resources=["*"],
                )
            ],
        )
        acknowledge(
            self.policy,
            (
                "PCI.DSS.321-IAMPolicyNoStatementsWithFullAccess",
                "a permissions boundary grants nothing: each product role gets only what its own scoped policy "
                "grants, and never more than these services",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "a permissions boundary grants nothing: it caps the product roles' own, resource-scoped policies",
            ),
            *(
                (
                    f"AwsSolutions-IAM5[Action::{service}:*]",
                    "a permissions boundary caps, it does not grant: the product roles reach only these services",
                )
                for service in self.services
            ),
        )
