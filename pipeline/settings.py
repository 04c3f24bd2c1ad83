"""Delivery settings from `cdk.json` context: accounts, regions, opt-ins, contacts, source repository.

`pipeline_app.py` reads the context once and hands the raw mapping to `DeliverySettings.from_context`;
nothing below it reads context or environment variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from product.options import DeploymentOptions
from product.profiles import ENVIRONMENT_NAMES, ConfigurationError, profile_for

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
DEFAULT_ACCOUNT = "111111111111"
DEFAULT_REGION = "us-east-1"


def _require_account(value: object, where: str) -> str:
    text = str(value)
    if not _ACCOUNT.match(text):
        raise ConfigurationError(f"{where}={value!r} is not a 12-digit AWS account id")
    return text


def _require_region(value: object, where: str) -> str:
    text = str(value)
    if not _REGION.match(text):
        raise ConfigurationError(f"{where}={value!r} is not an AWS region name such as 'us-east-1'")
    return text


def _flag(context: Mapping[str, Any], key: str) -> bool:
    value = context.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # `cdk synth -c key=true` passes strings
    raise ConfigurationError(f"context {key!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class StageTarget:
    """Where one environment deploys."""

    environment: str
    account: str
    region: str


@dataclass(frozen=True)
class DeliverySettings:
    """Everything about where and how the product is delivered."""

    tooling_account: str
    tooling_region: str
    stages: tuple[StageTarget, ...]
    availability_zones: Mapping[str, tuple[str, ...]]
    notification_email: str | None = None
    create_guardduty_detector: bool = False
    enable_shield_protection: bool = False
    create_account_cost_monitor: bool = False

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeliverySettings:
        tooling_account = _require_account(context.get("toolingAccount", DEFAULT_ACCOUNT), "toolingAccount")
        tooling_region = _require_region(context.get("toolingRegion", DEFAULT_REGION), "toolingRegion")
        raw_stages = context.get("stages", {})
        if not isinstance(raw_stages, Mapping):
            raise ConfigurationError("context 'stages' must map environment names to {account, region}")
        for name in raw_stages:
            profile_for(name)  # unknown names fail listing the valid ones
        stages = tuple(
            StageTarget(
                environment=name,
                account=_require_account(
                    raw_stages.get(name, {}).get("account", tooling_account), f"stages.{name}.account"
                ),
                region=_require_region(raw_stages.get(name, {}).get("region", tooling_region), f"stages.{name}.region"),
            )
            for name in ENVIRONMENT_NAMES
        )
        raw_azs = context.get("availabilityZones", {})
        if not isinstance(raw_azs, Mapping):
            raise ConfigurationError("context 'availabilityZones' must map region names to two zone names")
        azs = {region: tuple(zones) for region, zones in raw_azs.items()}
        email = context.get("notificationEmail") or None
        settings = cls(
            tooling_account=tooling_account,
            tooling_region=tooling_region,
            stages=stages,
            availability_zones=azs,
            notification_email=email,
            create_guardduty_detector=_flag(context, "createGuardDutyDetector"),
            enable_shield_protection=_flag(context, "enableShieldProtection"),
            create_account_cost_monitor=_flag(context, "createAccountCostMonitor"),
        )
        for stage in stages:
            settings.deployment_options(stage.environment, stage.region)  # validate every stage up front
        return settings

    def stage(self, environment: str) -> StageTarget:
        profile_for(environment)
        return next(s for s in self.stages if s.environment == environment)

    def deployment_options(self, name_suffix: str, region: str) -> DeploymentOptions:
        zones = self.availability_zones.get(region)
        if zones is None:
            raise ConfigurationError(
                f"no availability zones configured for region {region!r}: add it to cdk.json context "
                f'\'availabilityZones\', e.g. "{region}": ["{region}a", "{region}b"]'
            )
        return DeploymentOptions(
            name_suffix=name_suffix,
            availability_zones=zones,
            notification_email=self.notification_email,
            create_guardduty_detector=self.create_guardduty_detector,
            enable_shield_protection=self.enable_shield_protection,
            create_account_cost_monitor=self.create_account_cost_monitor,
        )
