"""Per-deployment choices that are not environment knobs: opt-ins for account singletons, contacts, AZs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aws_cdk import Token

from product.errors import ConfigurationError
from product.name_suffix import suffix_problem

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")


@dataclass(frozen=True)
class DeploymentOptions:
    """How one deployment of the product fits its account.

    The suffix, the zones and the e-mail may be CDK tokens (the Service Catalog product takes them from
    launch parameters and `Fn::GetAZs`); CloudFormation then checks them, so validation skips tokens.
    """

    name_suffix: str
    availability_zones: tuple[str, ...]
    notification_email: str | None = None
    create_guardduty_detector: bool = False
    enable_shield_protection: bool = False
    create_account_cost_monitor: bool = False

    def __post_init__(self) -> None:
        # Stage names are legitimate here (the stages and the direct stack are named after them); the catalog's
        # launch parameter forbids them (product.name_suffix).
        problem = (
            None if Token.is_unresolved(self.name_suffix) else suffix_problem(self.name_suffix, catalog_launch=False)
        )
        if problem:
            raise ConfigurationError(
                f"{problem} (the direct stack takes its suffix from context 'environmentSuffix' or ENVIRONMENT_SUFFIX)"
            )
        if len(self.availability_zones) != 2 or not all(
            Token.is_unresolved(az) or _AZ.match(az) for az in self.availability_zones
        ):
            raise ConfigurationError(
                f"availability_zones={list(self.availability_zones)!r} must name exactly two zones such as "
                "['us-east-1a', 'us-east-1b']; set them in cdk.json context 'availabilityZones'"
            )
        email = self.notification_email
        if email is not None and not Token.is_unresolved(email) and not _EMAIL.match(email):
            raise ConfigurationError(
                f"notification e-mail {self.notification_email!r} is not an e-mail address; set context "
                "'notificationEmail' to an address or remove it"
            )
        for flag in ("create_guardduty_detector", "enable_shield_protection", "create_account_cost_monitor"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigurationError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
