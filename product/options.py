"""Per-deployment choices that are not environment knobs: opt-ins for account singletons, contacts, AZs.

An opt-in is a `Switch`: a plain `True`/`False` decided at synth (pipeline stages, the direct-deploy
stack), or a CloudFormation condition decided at deploy time (the Service Catalog product's launch
parameters). Each construct applies its switch to the resources it owns (`apply_switch`, `if_switch`),
so nothing outside a construct needs to know how it is built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from aws_cdk import CfnCondition, CfnResource, Fn, IResolvable, Token
from constructs import IConstruct

from product.errors import ConfigurationError
from product.name_suffix import suffix_problem

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")

Switch: TypeAlias = bool | CfnCondition | Callable[[], CfnCondition]
"""On, off, or a CloudFormation condition; a callable makes its condition when a construct first applies it."""

_T = TypeVar("_T")


def is_switch(value: object) -> bool:
    return isinstance(value, bool | CfnCondition) or callable(value)


def is_built(switch: Switch) -> bool:
    """Whether the switched resources are in the template: all but a plain `False` (a condition decides later)."""
    return switch is not False


def condition_of(switch: Switch) -> CfnCondition | None:
    """The CloudFormation condition of a deploy-time switch; None for a plain `True`/`False`."""
    if isinstance(switch, bool):
        return None
    return switch if isinstance(switch, CfnCondition) else switch()


def apply_switch(switch: Switch, *owned: IConstruct) -> None:
    """Put the switch's condition on each resource (an L1, or an L2 whose default child is one)."""
    condition = condition_of(switch)
    if condition is None:
        return
    for construct in owned:
        resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
        if not isinstance(resource, CfnResource):
            raise TypeError(f"{construct.node.path} is not a CloudFormation resource and has none as default child")
        resource.cfn_options.condition = condition


def if_switch(switch: Switch, when_on: _T, when_off: _T) -> _T | IResolvable:
    """`when_on` or `when_off`: chosen now for a plain switch, by `Fn::If` at deploy time for a condition."""
    condition = condition_of(switch)
    if condition is None:
        return when_on if switch else when_off
    return Fn.condition_if(condition.logical_id, when_on, when_off)


@dataclass(frozen=True)
class DeploymentOptions:
    """How one deployment of the product fits its account.

    The suffix, the zones and the e-mail may be CDK tokens (the Service Catalog product takes them from
    launch parameters and `Fn::GetAZs`); CloudFormation then checks them, so validation skips tokens.
    `subscribe_notification_email` and `nat_gateway_switches` let a launch parameter decide what the
    profile and the e-mail would otherwise fix at synth.
    """

    name_suffix: str
    availability_zones: tuple[str, ...]
    notification_email: str | None = None
    # Whether the e-mail is subscribed (when one is set): a condition when the address may be left empty.
    subscribe_notification_email: Switch = True
    create_guardduty_detector: Switch = False
    enable_shield_protection: Switch = False
    create_account_cost_monitor: Switch = False
    # A plain value: the stage's API depends on it, and the Service Catalog product never sets it.
    create_api_gateway_cloudwatch_role: bool = False
    # NAT gateway number -> switch (2 and up: gateway 1 always exists, the others' zones fall back to it).
    nat_gateway_switches: Mapping[int, Switch] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Stage names are legitimate here (the stages and the direct stack are named after them); the catalog's
        # launch parameter forbids them (product.name_suffix).
        # The pure-Python checks come first: Token.is_unresolved is a jsii round trip, asked only when needed.
        problem = suffix_problem(self.name_suffix, catalog_launch=False)
        if problem and not Token.is_unresolved(self.name_suffix):
            raise ConfigurationError(
                f"{problem} (the direct stack takes its suffix from context 'environmentSuffix' or ENVIRONMENT_SUFFIX)"
            )
        if len(self.availability_zones) != 2 or not all(
            _AZ.match(az) or Token.is_unresolved(az) for az in self.availability_zones
        ):
            raise ConfigurationError(
                f"availability_zones={list(self.availability_zones)!r} must name exactly two zones such as "
                "['us-east-1a', 'us-east-1b']; set them in cdk.json context 'availabilityZones'"
            )
        email = self.notification_email
        if email is not None and not _EMAIL.match(email) and not Token.is_unresolved(email):
            raise ConfigurationError(
                f"notification e-mail {self.notification_email!r} is not an e-mail address; set context "
                "'notificationEmail' to an address or remove it"
            )
        for flag in (
            "subscribe_notification_email",
            "create_guardduty_detector",
            "enable_shield_protection",
            "create_account_cost_monitor",
        ):
            if not is_switch(getattr(self, flag)):
                raise ConfigurationError(
                    f"{flag} must be true or false (or a CloudFormation condition), got {getattr(self, flag)!r}"
                )
        role = self.create_api_gateway_cloudwatch_role
        if not isinstance(role, bool):
            raise ConfigurationError(f"create_api_gateway_cloudwatch_role must be true or false, got {role!r}")
        for number, switch in self.nat_gateway_switches.items():
            if not isinstance(number, int) or number < 2 or not is_switch(switch) or switch is False:
                raise ConfigurationError(
                    f"nat_gateway_switches[{number!r}]={switch!r}: switch NAT gateways 2 and up with True or a "
                    "CloudFormation condition (gateway 1 always exists; lower the profile's nat_gateways to drop one)"
                )
