"""The launch role Service Catalog assumes to provision the product: only what the product's resources need.

- Trusts `servicecatalog.amazonaws.com` only.
- Manages the product's resource types and nothing else: actions from `launch_permissions.json`, chosen by
  the resource types found in the product stack (so the service list follows the product template).
- Writes only the product's own resources: by name (`payment...`), by stack (`SC-*` generated names), or,
  where AWS assigns the id, by the deployment tag the product puts on everything (`launch_scopes`); writes on
  "*" only for the actions the Service Authorization Reference gives no resource type (`anyResource`).
- Never the stages' resources: a Deny on everything tagged `payment-deployment=<stage>`.
- Creates and changes roles only with the product's permissions boundary (`iam:PermissionsBoundary`).
- No wildcard action in an Allow; `iam:PassRole` only to the services the product's roles trust;
  service-linked roles only for the product's services; AMI reads only from AWS's public SSM parameters.
- CloudFormation only on Service Catalog's own stacks (`SC-*`); provisioning templates only when Service
  Catalog tagged them.
- Cannot change its own policies.
Policies are customer-managed and split to stay under IAM's 6,144-character managed-policy limit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from product.catalog.launch_permissions import (
    BOUNDARY_CONDITION,
    DEPLOYMENT_TAG_CONDITION,
    actions_for,
    load_scopes,
    product_resource_types,
)
from product.catalog.launch_scopes import DEPLOYMENT_TAG, DESTRUCTIVE_VERBS
from product.checked import present
from product.compliance import acknowledge
from product.errors import ConfigurationError
from product.name_suffix import STAGE_NAMES

SERVICE_CATALOG = "servicecatalog.amazonaws.com"
# Service-linked roles a resource type's handler may create, by the type's IAM namespace.
SERVICE_LINKED_ROLES = {
    "autoscaling": "autoscaling.amazonaws.com",
    "guardduty": "guardduty.amazonaws.com",
    "shield": "shield.amazonaws.com",
    "wafv2": "wafv2.amazonaws.com",
}
# Types whose handlers list iam:CreateServiceLinkedRole for features the product does not use.
SERVICE_LINKED_ROLES_NOT_NEEDED = {
    "dynamodb": "global-table replicas (replication.dynamodb.amazonaws.com); the tables are single-region",
    "ec2": "flow logs to S3/Firehose; the product's flow logs go to CloudWatch Logs with their own role",
}
CLOUDFORMATION_STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DeleteStack",
    "cloudformation:UpdateStack",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResource",
    "cloudformation:DescribeStackResources",
    "cloudformation:GetTemplate",
    "cloudformation:SetStackPolicy",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
)
CLOUDFORMATION_TEMPLATE_ACTIONS = ("cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate")
SELF_PROTECTED_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRole",
)
# Granted by their own, narrower statements (or, for object reads, by the asset bucket's policy only).
OBJECT_READS = ("s3:GetObject", "s3:GetObjectVersion")
SPECIAL_ACTIONS = {"iam:PassRole", "iam:CreateServiceLinkedRole", "ssm:GetParameter", "ssm:GetParameters"} | set(
    OBJECT_READS
)
POLICY_BUDGET = 5_900  # characters of statements per managed policy, as IAM counts them (its limit: 6,144)
ROLE_POLICY_QUOTA = 10  # IAM's default quota of managed policies attached to one role
# IAM counts the deployed document: tokens resolved, no whitespace. Longest values of the pseudo parameters.
LONGEST_PSEUDO = {"AWS::Partition": "aws-us-gov", "AWS::Region": "ap-southeast-5", "AWS::AccountId": "123456789012"}
LONGEST_ATTRIBUTE = 128  # a role or policy ARN (Ref/GetAtt of a resource)


def deployed(value: Any) -> Any:
    """A resolved policy document as IAM receives it, with the longest pseudo-parameter values."""
    if isinstance(value, dict):
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(deployed(p)) for p in parts)
        if "Ref" in value or "Fn::GetAtt" in value:
            return LONGEST_PSEUDO.get(value.get("Ref", ""), "x" * LONGEST_ATTRIBUTE)
        return {k: deployed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [deployed(v) for v in value]
    return value


def trusted_services(product: Construct) -> list[str]:
    """Service principals the product's roles trust: where the launch role may pass them."""
    trust_policies = []
    for role in (c for c in product.node.find_all() if isinstance(c, iam.Role)):
        trust_policies.append(present(role.assume_role_policy, "the trust policy", of=role).to_json())
    services: set[str] = set()
    # One resolve for all trust policies: a jsii round trip costs more than resolving one more document.
    for document in json.loads(json.dumps(Stack.of(product).resolve(trust_policies))):
        for statement in document["Statement"]:
            service = statement.get("Principal", {}).get("Service", [])
            services.update([service] if isinstance(service, str) else service)
    return sorted(services)


@dataclass(frozen=True)
class _Grant:
    """A statement, its estimated size, and the nag findings it raises by design (with the reason)."""

    statement: iam.PolicyStatement
    size: int
    findings: tuple[tuple[str, str], ...] = ()


WILDCARD_RESOURCE = (
    "AwsSolutions-IAM5[Resource::*]",
    "reads (Describe/Get/List change nothing) and the writes the Service Authorization Reference gives no "
    "resource type, each listed with its reason in launch_permissions.json (anyResource)",
)
_PSEUDO = {"${Partition}": Aws.PARTITION, "${Region}": Aws.REGION, "${Account}": Aws.ACCOUNT_ID}
_NAG_PSEUDO = {"${Partition}": "<AWS::Partition>", "${Region}": "<AWS::Region>", "${Account}": "<AWS::AccountId>"}
SCOPE_REASONS = {
    DEPLOYMENT_TAG_CONDITION: f"AWS assigns these ids; the role may act only on those tagged {DEPLOYMENT_TAG} by a "
    "launch (a Deny excludes the stages' values)",
    BOUNDARY_CONDITION: "the product's roles have CloudFormation-generated names (SC-<stack>-...); creating or "
    "changing one requires the product's permissions boundary",
    None: "the product's own names (payment...<suffix>) or CloudFormation-generated names of Service Catalog "
    "stacks (SC-*); the suffix is chosen at launch, so a pattern",
}


def _render(template: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


SC_STACKS = (
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/SC-*]",
    "Service Catalog names its stacks SC-<account>-<provisioned product id>; the role may touch no other stack",
)


def _grant(
    sid: str, actions: list[str], resources: list[str], findings: tuple[tuple[str, str], ...] = (), **kwargs: Any
) -> _Grant:
    statement = iam.PolicyStatement(sid=sid, actions=actions, resources=resources, **kwargs)
    return _Grant(statement, 0, findings)  # sized by _sized, which resolves the tokens


def _sized(stack: Stack, grants: list[_Grant]) -> list[_Grant]:
    """The grants with their statements' deployed sizes (plus a separator each).

    One resolve of a throwaway document of every statement, not two jsii round trips per statement
    (`to_statement_json`, `resolve`); `minimize=False` renders each statement as `to_statement_json` does,
    unmerged and in order.
    """
    document = iam.PolicyDocument(statements=[g.statement for g in grants], minimize=False)
    statements = stack.resolve(document)["Statement"]
    if len(statements) != len(grants):  # CDK renders two identical statements once
        raise ConfigurationError(
            f"{len(grants)} launch role statements render as {len(statements)}: two are identical; merge them"
        )
    return [
        replace(grant, size=len(json.dumps(deployed(statement), separators=(",", ":"))) + 1)
        for grant, statement in zip(grants, statements, strict=True)
    ]


def _pack(grants: list[_Grant]) -> list[list[_Grant]]:
    """Greedy packing into managed policies of at most POLICY_BUDGET characters of statements."""
    chunks: list[list[_Grant]] = [[]]
    used = 0
    for grant in grants:
        if chunks[-1] and used + grant.size > POLICY_BUDGET:
            chunks.append([])
            used = 0
        chunks[-1].append(grant)
        used += grant.size
    return chunks


class ProductLaunchRole(Construct):
    """The role, its managed policies, and the facts the tests check (`resource_types`, `actions`)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, role_name: str, product: Construct, boundary_arn: str
    ) -> None:
        super().__init__(scope, construct_id)
        self.resource_types = sorted(product_resource_types(product))
        self.actions = actions_for(self.resource_types)
        self.boundary_arn = boundary_arn
        self.scopes = load_scopes()
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal(SERVICE_CATALOG),
            description="Service Catalog launch role of the payment product: manages only its resource types",
        )
        grants = [*self._product_grants(product), *self._provisioning_grants()]
        grants.append(
            _grant("NoChangesToItself", list(SELF_PROTECTED_ACTIONS), [self.role.role_arn], effect=iam.Effect.DENY)
        )
        grants.append(self._not_the_stages())
        chunks = _pack(_sized(Stack.of(self), grants))
        if len(chunks) > ROLE_POLICY_QUOTA:
            raise ConfigurationError(
                f"the launch role needs {len(chunks)} managed policies, more than IAM's default quota of "
                f"{ROLE_POLICY_QUOTA} per role: narrow the product's actions or raise the quota and this limit"
            )
        self.policies: list[iam.ManagedPolicy] = []
        for index, chunk in enumerate(chunks, start=1):
            policy = iam.ManagedPolicy(
                self,
                f"Policy{index}",
                description=f"Payment product launch permissions, part {index} of {len(chunks)}",
                statements=[grant.statement for grant in chunk],
                roles=[self.role],
            )
            findings = {finding for grant in chunk for finding in grant.findings}
            if findings:
                acknowledge(policy, *sorted(findings))
            self.policies.append(policy)

    def _product_grants(self, product: Construct) -> list[_Grant]:
        selected = [a for a in self.actions if a not in SPECIAL_ACTIONS]
        reads, any_resource = set(self.scopes["reads"]), self.scopes["anyResource"]
        writes = self.scopes["writes"]
        grants = [
            *self._on_any_resource("Read", [a for a in selected if a in reads]),
            *self._on_any_resource("NoResourceLevel", [a for a in selected if a in any_resource]),
        ]
        scoped: dict[tuple[str, tuple[str, ...], str | None], list[str]] = defaultdict(list)
        for action in (a for a in selected if a in writes):
            for entry in writes[action]:
                scoped[(action.split(":", 1)[0], tuple(entry["resources"]), entry["condition"])].append(action)
        numbers: dict[str, int] = defaultdict(int)
        for (service, resources, condition), actions in sorted(scoped.items(), key=lambda i: (i[0][0], str(i[0][1:]))):
            kind = {DEPLOYMENT_TAG_CONDITION: "ByTag", BOUNDARY_CONDITION: "WithBoundary"}.get(
                condition or "", "ByName"
            )
            numbers[service + kind] += 1
            sid = f"Write{service.title().replace('-', '')}{kind}{numbers[service + kind]}"
            findings = tuple(
                (f"AwsSolutions-IAM5[Resource::{_render(r, _NAG_PSEUDO)}]", SCOPE_REASONS[condition])
                for r in resources
                if "*" in r
            )
            grants.append(
                _grant(
                    sid,
                    sorted(actions),
                    [_render(r, _PSEUDO) for r in resources],
                    findings,
                    conditions=self._condition(condition),
                )
            )
        grants.append(
            _grant(
                "PassProductRolesToTheirServices",
                ["iam:PassRole"],
                [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/SC-*"],
                (
                    (
                        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/SC-*]",
                        "the product's role names are generated by CloudFormation after the SC-* stack; PassRole is "
                        "limited by iam:PassedToService to the services those roles trust",
                    ),
                ),
                conditions={"StringEquals": {"iam:PassedToService": trusted_services(product)}},
            )
        )
        namespaces = {t.split("::")[1].lower() for t in self.resource_types}
        linked = sorted(SERVICE_LINKED_ROLES[n] for n in namespaces if n in SERVICE_LINKED_ROLES)
        if "iam:CreateServiceLinkedRole" in self.actions and linked:
            grants.append(
                _grant(
                    "ServiceLinkedRolesOfTheProductsServices",
                    ["iam:CreateServiceLinkedRole"],
                    [f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/*"],
                    (
                        (
                            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/"
                            "aws-service-role/*]",
                            "service-linked roles have AWS-defined paths; iam:AWSServiceName "
                            "limits them to the product's services",
                        ),
                    ),
                    conditions={"StringEquals": {"iam:AWSServiceName": linked}},
                )
            )
        if {"ssm:GetParameter", "ssm:GetParameters"} & set(self.actions):
            grants.append(
                _grant(
                    "PublicAmiParameters",
                    ["ssm:GetParameter", "ssm:GetParameters"],
                    [f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}::parameter/aws/service/*"],
                    (
                        (
                            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>::parameter/aws/service/*]",
                            "AWS's public parameters (the fleet's AMI), readable by every account anyway",
                        ),
                    ),
                )
            )
        return grants

    def _on_any_resource(self, kind: str, actions: list[str]) -> list[_Grant]:
        by_service: dict[str, list[str]] = defaultdict(list)
        for action in actions:
            by_service[action.split(":", 1)[0]].append(action)
        grants = []
        for service, service_actions in sorted(by_service.items()):
            name = f"{kind}{service.title().replace('-', '')}"
            pieces = _split(sorted(service_actions), POLICY_BUDGET - 500)
            for number, piece in enumerate(pieces, start=1):
                sid = name if len(pieces) == 1 else f"{name}{number}"
                grants.append(_grant(sid, piece, ["*"], (WILDCARD_RESOURCE,)))
        return grants

    def _condition(self, condition: str | None) -> dict[str, dict[str, object]] | None:
        if condition == DEPLOYMENT_TAG_CONDITION:
            return {"Null": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": "false"}}
        if condition == BOUNDARY_CONDITION:
            return {"StringEquals": {"iam:PermissionsBoundary": self.boundary_arn}}
        return None

    def _not_the_stages(self) -> _Grant:
        """A launch never writes what a pipeline stage deployed (tagged with the stage's name)."""
        writes = set(self.scopes["writes"]) | set(self.scopes["anyResource"])
        verbs = sorted(
            {
                f"{action.split(':', 1)[0]}:{verb}*"
                for action in self.actions
                if action in writes
                for verb in DESTRUCTIVE_VERBS
                if action.split(":", 1)[1].startswith(verb)
            }
        )
        return _grant(
            "NeverTheStagesResources",
            verbs,
            ["*"],
            effect=iam.Effect.DENY,
            conditions={"StringEquals": {f"aws:ResourceTag/{DEPLOYMENT_TAG}": list(STAGE_NAMES)}},
        )

    @staticmethod
    def _provisioning_grants() -> list[_Grant]:
        return [
            _grant(
                "ServiceCatalogStacksOnly",
                list(CLOUDFORMATION_STACK_ACTIONS),
                [f"arn:{Aws.PARTITION}:cloudformation:{Aws.REGION}:{Aws.ACCOUNT_ID}:stack/SC-*"],
                (SC_STACKS,),
            ),
            # These two actions support no resource-level permission.
            _grant("TemplateChecks", list(CLOUDFORMATION_TEMPLATE_ACTIONS), ["*"], (WILDCARD_RESOURCE,)),
            _grant(
                "ProvisioningTemplatesTaggedByServiceCatalog",
                ["s3:GetObject"],
                ["*"],
                (WILDCARD_RESOURCE,),
                conditions={"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}},
            ),
        ]


def _split(actions: list[str], budget: int) -> list[list[str]]:
    pieces: list[list[str]] = [[]]
    used = 0
    for action in actions:
        if pieces[-1] and used + len(action) + 3 > budget:
            pieces.append([])
            used = 0
        pieces[-1].append(action)
        used += len(action) + 3
    return pieces
