"""`PaymentProductStack`: the Service Catalog product, built from the same `PaymentService` the stages deploy.

Launch parameters choose the environment profile (its knobs come from a mapping generated from
`product.profiles`), the name suffix that goes into every physical name, an optional alert e-mail, and
the account-singleton opt-ins, which default to off and switch their resources with CloudFormation
conditions.
"""

from __future__ import annotations

from typing import TypeVar

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnParameter, CfnResource, Fn, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from product.catalog.knobs import launch_profile, max_nat_gateways, nat_gateway_column, profile_mapping
from product.catalog.launch_scopes import permissions_boundary_name
from product.catalog.parameters import (
    COST_MONITOR,
    FLAG_VALUES,
    GUARDDUTY,
    NAME_SUFFIX,
    NOTIFICATION_EMAIL,
    OPT_INS,
    PROFILE,
    SHIELD,
)
from product.contract import Output
from product.name_suffix import CATALOG_NAME_SUFFIX_PATTERN, CATALOG_NAME_SUFFIX_RULE
from product.options import EMAIL_PATTERN, DeploymentOptions
from product.payment_service import PaymentService
from product.payment_stack import service_outputs
from product.profiles import ENVIRONMENT_NAMES

PRODUCT_DESCRIPTION = "Payment Processing Infrastructure (Service Catalog product; profile chosen at launch)"
DETERMINISTIC_CONTEXT = ("aws:cdk:enable-path-metadata", "aws:cdk:enable-asset-metadata")


class PaymentProductStack(servicecatalog.ProductStack):
    """The payment product with launch parameters; environment-agnostic, so it launches in any account."""

    def __init__(self, scope: Construct, construct_id: str, *, asset_bucket: s3.IBucket) -> None:
        super().__init__(
            scope, construct_id, asset_bucket=asset_bucket, description=PRODUCT_DESCRIPTION, analytics_reporting=False
        )
        # The template is snapshotted and locked per version: it must not depend on who synthesizes (the CDK
        # CLI adds path and asset metadata, an in-process synth such as the unit tests' does not).
        for key in DETERMINISTIC_CONTEXT:
            self.node.set_context(key, False)
        self._add_parameters()
        self.mapping = profile_mapping(self)
        self.profile = launch_profile(self.mapping, self.profile_parameter.value_as_string)
        options = DeploymentOptions(
            name_suffix=self.name_suffix.value_as_string,
            availability_zones=tuple(self.availability_zones),
            notification_email=self.notification_email.value_as_string,
            # Built, then switched by their launch parameters' conditions (_condition_opt_ins).
            create_guardduty_detector=True,
            enable_shield_protection=True,
            create_account_cost_monitor=True,
        )
        self.service = PaymentService(self, "PaymentService", profile=self.profile, options=options)
        # The launch role creates roles only with this boundary (product/catalog/boundary.py); the stages do not
        # need it: their roles are created by the pipeline's deploy role from reviewed code.
        iam.PermissionsBoundary.of(self).apply(
            iam.ManagedPolicy.from_managed_policy_name(
                self, "PermissionsBoundary", permissions_boundary_name(Aws.REGION)
            )
        )
        self.conditions: dict[str, CfnCondition] = {}
        self._condition_opt_ins()
        self._condition_notification_email()
        self._condition_nat_gateways()
        self.cfn_outputs: dict[str, CfnOutput] = {
            name: CfnOutput(self, name, value=value, description=description)
            for name, value, description in service_outputs(self.service, self.profile.name)
        }
        self.cfn_outputs[Output.EDGE_URL].condition = self.conditions[SHIELD.parameter]
        self._describe_image_parameter()

    # A ProductStack takes the environment of the Stage it is in; a product must not: it launches in
    # whichever account and region the portfolio reaches, so ARNs, principals and zones resolve there.
    @property
    def account(self) -> str:
        return Aws.ACCOUNT_ID

    @property
    def region(self) -> str:
        return Aws.REGION

    @property
    def availability_zones(self) -> list[str]:
        """The launch region's first two zones (`Fn::GetAZs`), never a synth-time lookup or a fixed list."""
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]

    # -- parameters ---------------------------------------------------------------------------------
    def _add_parameters(self) -> None:
        self.profile_parameter = CfnParameter(
            self,
            PROFILE,
            type="String",
            allowed_values=list(ENVIRONMENT_NAMES),
            default=ENVIRONMENT_NAMES[0],
            description="Environment profile: Lambda sizes, fleet capacity, alarm thresholds, WAF rate limit, "
            "log retention, API stage name and NAT gateways come from this row of product/profiles.py",
        )
        self.name_suffix = CfnParameter(
            self,
            NAME_SUFFIX,
            type="String",
            allowed_pattern=CATALOG_NAME_SUFFIX_PATTERN,
            constraint_description=CATALOG_NAME_SUFFIX_RULE,
            description="Suffix of every physical name (tables, buckets, functions, API, alarms); unique per "
            "launch in an account and region, e.g. team-a-dev",
        )
        self.notification_email = CfnParameter(
            self,
            NOTIFICATION_EMAIL,
            type="String",
            default="",
            allowed_pattern=f"^$|{EMAIL_PATTERN}",
            constraint_description="empty, or one e-mail address",
            description="E-mail address subscribed to the operations, security and cost alert topics "
            "(empty: no subscription)",
        )
        self.opt_in_parameters = {
            opt_in.parameter: CfnParameter(
                self,
                opt_in.parameter,
                type="String",
                allowed_values=list(FLAG_VALUES),
                default="false",
                description=opt_in.description,
            )
            for opt_in in OPT_INS
        }

    def _flag_condition(self, condition_id: str, value: str, expected: str = "true") -> CfnCondition:
        return CfnCondition(self, condition_id, expression=Fn.condition_equals(value, expected))

    # -- conditions ---------------------------------------------------------------------------------
    def _condition_opt_ins(self) -> None:
        for opt_in in OPT_INS:
            parameter = self.opt_in_parameters[opt_in.parameter]
            self.conditions[opt_in.parameter] = self._flag_condition(f"{opt_in.parameter}On", parameter.value_as_string)
        service = self.service
        assert service.threat_detector is not None
        assert service.shield is not None
        assert service.cost.account_monitor is not None
        service.threat_detector.detector.cfn_options.condition = self.conditions[GUARDDUTY.parameter]
        shield = self.conditions[SHIELD.parameter]
        for resource in (service.shield.distribution.node.default_child, service.shield.protection):
            assert isinstance(resource, CfnResource)
            resource.cfn_options.condition = shield
        monitor = self.conditions[COST_MONITOR.parameter]
        service.cost.account_monitor.cfn_options.condition = monitor
        deployment_monitor = service.cost.monitor.attr_monitor_arn
        # The subscription lists the account monitor only when it exists.
        service.cost.subscription.monitor_arn_list = Token.as_list(
            Fn.condition_if(
                monitor.logical_id,
                [deployment_monitor, service.cost.account_monitor.attr_monitor_arn],
                [deployment_monitor],
            )
        )

    def _condition_notification_email(self) -> None:
        has_email = CfnCondition(
            self,
            "NotificationEmailGiven",
            expression=Fn.condition_not(Fn.condition_equals(self.notification_email.value_as_string, "")),
        )
        self.conditions["NotificationEmail"] = has_email
        subscriptions = [c for c in self.service.topics.node.find_all() if isinstance(c, sns.CfnSubscription)]
        assert subscriptions, "AlertTopics subscribes the e-mail when one is given"
        for subscription in subscriptions:
            subscription.cfn_options.condition = has_email

    def _condition_nat_gateways(self) -> None:
        """NAT gateway i (i >= 2) exists only if the profile has i; otherwise its AZ routes via the first."""
        public = self.service.network.vpc.public_subnets
        private = self.service.network.vpc.private_subnets
        first_nat = _child(public[0], "NATGateway", ec2.CfnNatGateway)
        for index in range(2, min(max_nat_gateways(), len(public)) + 1):  # at most one gateway per zone
            condition = self._flag_condition(
                f"NatGateway{index}",
                self.mapping.find_in_map(self.profile_parameter.value_as_string, nat_gateway_column(index)),
            )
            self.conditions[f"NatGateway{index}"] = condition
            subnet = public[index - 1]
            for child_id, child_type in (("NATGateway", ec2.CfnNatGateway), ("EIP", ec2.CfnEIP)):
                _child(subnet, child_id, child_type).cfn_options.condition = condition
            route = _child(private[index - 1], "DefaultRoute", ec2.CfnRoute)
            route.nat_gateway_id = Fn.condition_if(
                condition.logical_id, _child(subnet, "NATGateway", ec2.CfnNatGateway).ref, first_nat.ref
            ).to_string()

    def _describe_image_parameter(self) -> None:
        """The AMI comes from an SSM public parameter; CDK adds it as a parameter without description."""
        for parameter in (c for c in self.node.children if isinstance(c, CfnParameter)):
            if parameter.description is None and str(parameter.type).startswith("AWS::SSM::Parameter::Value"):
                parameter.description = "Public SSM parameter of the reconciliation fleet's Amazon Linux 2023 AMI"
                parameter.allowed_values = [parameter.default]


_T = TypeVar("_T")


def _child(construct: IConstruct, child_id: str, child_type: type[_T]) -> _T:
    child = construct.node.find_child(child_id)
    if isinstance(child, child_type):
        return child
    default = child.node.default_child
    assert isinstance(default, child_type), (construct.node.path, child_id)
    return default
