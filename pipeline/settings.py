"""Delivery settings from `cdk.json` context: accounts, regions, opt-ins, contacts, source repository.

`pipeline_app.py` reads the context once and hands the raw mapping to `DeliverySettings.from_context`;
nothing below it reads context or environment variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from product.errors import ConfigurationError
from product.options import DeploymentOptions
from product.profiles import ENVIRONMENT_NAMES, profile_for

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


def _stage_flag(raw_stages: Mapping[str, Any], name: str, key: str, defaults: Mapping[str, bool]) -> bool:
    stage = raw_stages.get(name, {})
    return _flag(stage, key, f"stages.{name}.{key}") if key in stage else defaults[key]


def _flag(context: Mapping[str, Any], key: str, where: str | None = None) -> bool:
    value = context.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"  # `cdk synth -c key=true` passes strings
    raise ConfigurationError(f"context {where or key!r} must be true or false, got {value!r}")


# Opt-ins a stage may override under `stages.<env>`; the top-level key is the default for every stage.
STAGE_OPT_INS = (
    "createGuardDutyDetector",
    "enableShieldProtection",
    "createAccountCostMonitor",
    "createApiGatewayCloudWatchRole",
)


@dataclass(frozen=True)
class StageTarget:
    """Where one environment deploys, and which account-level opt-ins it owns."""

    environment: str
    account: str
    region: str
    create_guardduty_detector: bool = False
    enable_shield_protection: bool = False
    create_account_cost_monitor: bool = False
    create_api_gateway_cloudwatch_role: bool = False


def _check_singletons(stages: tuple[StageTarget, ...]) -> None:
    """One GuardDuty detector and one API Gateway CloudWatch role per account and region, one AWS-services
    cost monitor per account."""
    for key, attribute, scope_of, limit in (
        (
            "createGuardDutyDetector",
            "create_guardduty_detector",
            lambda s: (s.account, s.region),
            "GuardDuty allows one detector per account and region",
        ),
        (
            "createAccountCostMonitor",
            "create_account_cost_monitor",
            lambda s: (s.account,),
            "Cost Explorer allows one AWS-services monitor per account",
        ),
        (
            "createApiGatewayCloudWatchRole",
            "create_api_gateway_cloudwatch_role",
            lambda s: (s.account, s.region),
            "API Gateway keeps one CloudWatch role per account and region (the last stack to set it wins)",
        ),
    ):
        owners: dict[tuple[str, ...], list[str]] = {}
        for stage in stages:
            if getattr(stage, attribute):
                owners.setdefault(scope_of(stage), []).append(stage.environment)
        for scope, environments in owners.items():
            if len(environments) > 1:
                raise ConfigurationError(
                    f"stages {', '.join(environments)} would each create one in {'/'.join(scope)}: {limit}. "
                    f"Set '{key}' to true under one stage only (stages.<env>.{key}) and false at the top level"
                )


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
    create_api_gateway_cloudwatch_role: bool = False

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> DeliverySettings:
        tooling_account = _require_account(context.get("toolingAccount", DEFAULT_ACCOUNT), "toolingAccount")
        tooling_region = _require_region(context.get("toolingRegion", DEFAULT_REGION), "toolingRegion")
        raw_stages = context.get("stages", {})
        if not isinstance(raw_stages, Mapping):
            raise ConfigurationError("context 'stages' must map environment names to {account, region}")
        for name in raw_stages:
            profile_for(name)  # unknown names fail listing the valid ones
        defaults = {key: _flag(context, key) for key in STAGE_OPT_INS}
        stages = tuple(
            StageTarget(
                environment=name,
                account=_require_account(
                    raw_stages.get(name, {}).get("account", tooling_account), f"stages.{name}.account"
                ),
                region=_require_region(raw_stages.get(name, {}).get("region", tooling_region), f"stages.{name}.region"),
                create_guardduty_detector=_stage_flag(raw_stages, name, "createGuardDutyDetector", defaults),
                enable_shield_protection=_stage_flag(raw_stages, name, "enableShieldProtection", defaults),
                create_account_cost_monitor=_stage_flag(raw_stages, name, "createAccountCostMonitor", defaults),
                create_api_gateway_cloudwatch_role=_stage_flag(
                    raw_stages, name, "createApiGatewayCloudWatchRole", defaults
                ),
            )
            for name in ENVIRONMENT_NAMES
        )
        _check_singletons(stages)
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
            create_guardduty_detector=defaults["createGuardDutyDetector"],
            enable_shield_protection=defaults["enableShieldProtection"],
            create_account_cost_monitor=defaults["createAccountCostMonitor"],
            create_api_gateway_cloudwatch_role=defaults["createApiGatewayCloudWatchRole"],
        )
        for stage in stages:
            settings.stage_options(stage.environment)  # validate every stage up front
        return settings

    def stage(self, environment: str) -> StageTarget:
        profile_for(environment)
        return next(s for s in self.stages if s.environment == environment)

    def stage_options(self, environment: str) -> DeploymentOptions:
        """Options of a pipeline stage: named after its environment, with the opt-ins that stage owns."""
        target = self.stage(environment)
        return replace(
            self.deployment_options(environment, target.region),
            create_guardduty_detector=target.create_guardduty_detector,
            enable_shield_protection=target.enable_shield_protection,
            create_account_cost_monitor=target.create_account_cost_monitor,
            create_api_gateway_cloudwatch_role=target.create_api_gateway_cloudwatch_role,
        )

    def deployment_options(self, name_suffix: str, region: str) -> DeploymentOptions:
        """Options of a deployment outside the pipeline (the direct-deploy stack, tests): top-level opt-ins."""
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
            create_api_gateway_cloudwatch_role=self.create_api_gateway_cloudwatch_role,
        )


# --- the pipeline's source, approvers and notifications ---------------------------------------------------------

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z]{2}(-[a-z]+)+-\d:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# git check-ref-format, simplified: no spaces or ~^:?*[\, no '..', '//' or '@{', no leading/trailing '/' or '.'.
_BRANCH = re.compile(r"^(?![/.])(?!.*(\.\.|//|@\{))[^\s~^:?*\[\\]+(?<![/.])(?<!\.lock)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# What each required key is and how to set it: the text of the synth-time error when it is missing.
PIPELINE_CONTEXT_KEYS: dict[str, str] = {
    "sourceRepository": 'the git repository the pipeline builds, as owner/name, e.g. "acme/payment-platform"',
    "sourceBranch": 'the branch whose pushes run the pipeline, e.g. "main"',
    "codestarConnectionArn": (
        "the ARN of the CodeConnections (CodeStar) connection to your git host, e.g. "
        '"arn:aws:codeconnections:us-east-1:111111111111:connection/<uuid>"; create and authorise it in the '
        "tooling account under Developer Tools > Settings > Connections"
    ),
    "approverEmails": 'the e-mail addresses asked to approve prod releases, e.g. ["payments-leads@example.com"]',
}


def _required(context: Mapping[str, Any], key: str) -> Any:
    value = context.get(key)
    if value is None or value in ("", []):
        raise ConfigurationError(
            f'missing cdk.json context key {key!r}: {PIPELINE_CONTEXT_KEYS[key]}. Set it under "context" in '
            f"cdk.json or pass -c {key}=..."
        )
    return value


def _emails(value: object, key: str) -> tuple[str, ...]:
    # `cdk synth -c approverEmails=a@x.com,b@y.com` passes one string; cdk.json passes a list.
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not items:
        raise ConfigurationError(f"context {key!r} must be a list of e-mail addresses, got {value!r}")
    for item in items:
        if not isinstance(item, str) or not _EMAIL.match(item):
            raise ConfigurationError(f"context {key!r}: {item!r} is not an e-mail address")
    return tuple(items)


@dataclass(frozen=True)
class PipelineSettings:
    """Where the pipeline's source comes from and who hears about it."""

    repository: str
    branch: str
    connection_arn: str
    approver_emails: tuple[str, ...]
    notification_email: str | None = None

    @property
    def use_connection_actions(self) -> tuple[str, ...]:
        """What the source action needs on the connection. IAM matches a connection only by the service
        prefix of its ARN (CodeConnections rename guide), so an `arn:aws:codeconnections:` connection needs
        `codeconnections:UseConnection`; `codestar-connections:UseConnection` is what CDK grants anyway."""
        service = self.connection_arn.split(":")[2]
        return tuple(dict.fromkeys(("codestar-connections:UseConnection", f"{service}:UseConnection")))

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> PipelineSettings:
        repository = str(_required(context, "sourceRepository"))
        if not _REPOSITORY.match(repository):
            raise ConfigurationError(
                f'sourceRepository={repository!r} must be owner/name, e.g. "acme/payment-platform"'
            )
        branch = str(_required(context, "sourceBranch"))
        if not _BRANCH.match(branch):
            raise ConfigurationError(f"sourceBranch={branch!r} is not a valid git branch name")
        connection_arn = str(_required(context, "codestarConnectionArn"))
        if not _CONNECTION_ARN.match(connection_arn):
            raise ConfigurationError(
                f"codestarConnectionArn={connection_arn!r} is not a connection ARN such as "
                '"arn:aws:codeconnections:us-east-1:111111111111:connection/<uuid>" (copy it from the console: '
                "Developer Tools > Settings > Connections)"
            )
        approvers = _emails(_required(context, "approverEmails"), "approverEmails")
        notification = context.get("pipelineNotificationEmail") or None
        if notification is not None and not _EMAIL.match(str(notification)):
            raise ConfigurationError(
                f"context 'pipelineNotificationEmail'={notification!r} is not an e-mail address; set it to the "
                "address that hears about failed runs and pending approvals, or remove it"
            )
        return cls(
            repository=repository,
            branch=branch,
            connection_arn=connection_arn,
            approver_emails=approvers,
            notification_email=notification,
        )
