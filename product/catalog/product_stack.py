"""`PaymentProductStack`: the Service Catalog product, built from the same `PaymentService` the stages deploy.

Launch parameters choose the environment profile (its knobs come from a mapping generated from
`product.profiles`), the name suffix that goes into every physical name, an optional alert e-mail, and
the account-singleton opt-ins, which default to off and switch their resources with CloudFormation
conditions.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnParameter, Fn, ICfnConditionExpression, Stack, Stage, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicecatalog as servicecatalog
from constructs import Construct

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
from product.errors import ConfigurationError
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
        self._require_no_environment()
        # The template is snapshotted and locked per version: it must not depend on who synthesizes (the CDK
        # CLI adds path and asset metadata, an in-process synth such as the unit tests' does not).
        for key in DETERMINISTIC_CONTEXT:
            self.node.set_context(key, False)
        self._add_parameters()
        self.mapping = profile_mapping(self)
        self.profile = launch_profile(self.mapping, self.profile_parameter.value_as_string)
        self.conditions = LaunchConditions(self)
        opt_ins = {
            opt_in.parameter: self.conditions.declare(
                f"{opt_in.parameter}On",
                Fn.condition_equals(self.opt_in_parameters[opt_in.parameter].value_as_string, "true"),
            )
            for opt_in in OPT_INS
        }
        email_given = self.conditions.declare(
            "NotificationEmailGiven", Fn.condition_not(Fn.condition_equals(self.notification_email.value_as_string, ""))
        )
        options = DeploymentOptions(
            name_suffix=self.name_suffix.value_as_string,
            # The launch region's first two zones, never a synth-time lookup or a fixed list.
            availability_zones=(Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())),
            notification_email=self.notification_email.value_as_string,
            subscribe_notification_email=email_given,
            create_guardduty_detector=opt_ins[GUARDDUTY.parameter],
            enable_shield_protection=opt_ins[SHIELD.parameter],
            create_account_cost_monitor=opt_ins[COST_MONITOR.parameter],
            nat_gateway_switches=self._nat_gateway_switches(),
        )
        self.service = PaymentService(self, "PaymentService", profile=self.profile, options=options)
        # The launch role creates roles only with this boundary (product/catalog/boundary.py); the stages do not
        # need it: their roles are created by the pipeline's deploy role from reviewed code.
        iam.PermissionsBoundary.of(self).apply(
            iam.ManagedPolicy.from_managed_policy_name(
                self, "PermissionsBoundary", permissions_boundary_name(Aws.REGION)
            )
        )
        self.cfn_outputs: dict[str, CfnOutput] = {
            name: CfnOutput(self, name, value=value, description=description)
            for name, value, description in service_outputs(self.service, self.profile.name)
        }
        self.cfn_outputs[Output.EDGE_URL].condition = opt_ins[SHIELD.parameter]()
        self._describe_image_parameter()

    def _require_no_environment(self) -> None:
        """A product launches in whichever account and region the portfolio reaches, so ARNs, principals and
        zones must resolve there (`AWS::AccountId`, `AWS::Region`, `Fn::GetAZs`); a ProductStack would take
        the env of the Stage it is in."""
        if not (Token.is_unresolved(self.account) and Token.is_unresolved(self.region)):
            raise ConfigurationError(
                f"the Service Catalog product {self.node.path} would be bound to account {self.account} and region "
                f"{self.region}, inherited from its Stage: create it with payment_product_stack() (as build_catalog "
                "does), which keeps it environment-agnostic in any Stage"
            )

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

    # -- conditions ---------------------------------------------------------------------------------
    def _nat_gateway_switches(self) -> dict[int, Callable[[], CfnCondition]]:
        """NAT gateway i (i >= 2, at most one per zone) exists only if the launched profile has i."""
        return {
            number: self.conditions.declare(
                f"NatGateway{number}",
                Fn.condition_equals(
                    self.mapping.find_in_map(self.profile_parameter.value_as_string, nat_gateway_column(number)), "true"
                ),
            )
            for number in range(2, min(max_nat_gateways(), len(self.availability_zones)) + 1)
        }

    def _describe_image_parameter(self) -> None:
        """The AMI comes from an SSM public parameter; CDK adds it as a parameter without description."""
        for parameter in (c for c in self.node.children if isinstance(c, CfnParameter)):
            if parameter.description is None and str(parameter.type).startswith("AWS::SSM::Parameter::Value"):
                parameter.description = "Public SSM parameter of the reconciliation fleet's Amazon Linux 2023 AMI"
                parameter.allowed_values = [parameter.default]


class _StageBoundProductStack(PaymentProductStack):
    """The product inside a Stage that has an env: these overrides keep it environment-agnostic anyway.

    Every read of an overridden property is a jsii callback from node into Python (about 1,300 a synth), so
    the app's own catalog stage has no env and uses `PaymentProductStack` itself.
    """

    @property
    def account(self) -> str:
        return Aws.ACCOUNT_ID

    @property
    def region(self) -> str:
        return Aws.REGION

    @property
    def availability_zones(self) -> list[str]:
        return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def payment_product_stack(scope: Construct, construct_id: str, *, asset_bucket: s3.IBucket) -> PaymentProductStack:
    """The product stack in `scope`, bound to no account or region whichever Stage holds it."""
    stage = Stage.of(scope)
    bound = stage is not None and (stage.account is not None or stage.region is not None)
    product_class = _StageBoundProductStack if bound else PaymentProductStack
    return product_class(scope, construct_id, asset_bucket=asset_bucket)


class LaunchConditions:
    """The product's conditions on its launch parameters, declared before `PaymentService` is built.

    `declare` returns a switch for `DeploymentOptions`; the first switch a construct applies creates every
    declared condition, in declaration order. CDK writes a template's sections in the order it meets their
    first element, so conditions created while the service is being built follow `Resources`, as in the
    product versions already snapshotted.
    """

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._expressions: dict[str, ICfnConditionExpression] = {}
        self._created: dict[str, CfnCondition] = {}

    def declare(self, condition_id: str, expression: ICfnConditionExpression) -> Callable[[], CfnCondition]:
        if self._created:
            raise ConfigurationError(f"condition {condition_id!r} is declared after the conditions were created")
        self._expressions[condition_id] = expression
        return lambda: self[condition_id]

    def __getitem__(self, condition_id: str) -> CfnCondition:
        if not self._created:
            self._created = {
                condition_id: CfnCondition(self._stack, condition_id, expression=expression)
                for condition_id, expression in self._expressions.items()
            }
        return self._created[condition_id]
