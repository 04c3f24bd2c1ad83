"""Per-environment knob table of the payment product: one validated, frozen profile per environment.

Every size, threshold and stage name the product uses lives here and nowhere else. Values may be CDK
tokens (the Service Catalog product resolves them from a mapping at launch), so each check skips a
value that is not a concrete number.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Literal

from aws_cdk import Token

from product.errors import ConfigurationError, UnknownEnvironmentError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RemovalMode = Literal["destroy", "retain"]

# Lambda's documented limits; CloudWatch Logs accepts only these retention periods.
LAMBDA_MEMORY_MB = (128, 10_240)
LAMBDA_TIMEOUT_S = (1, 900)
_LOG_RETENTION_DAYS_UP_TO_400 = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400)
LOG_RETENTION_DAYS = (*_LOG_RETENTION_DAYS_UP_TO_400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
WAF_RATE_LIMIT = (10, 2_000_000_000)
# Lambda keeps 100 concurrent executions of an account unreserved; the default account quota is 1000.
LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY = 1000
LAMBDA_MIN_UNRESERVED_CONCURRENCY = 100
MAX_RESERVED_CONCURRENCY = LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY - LAMBDA_MIN_UNRESERVED_CONCURRENCY
PCI_MIN_LOG_RETENTION_DAYS = 365
MIN_AUDIT_RETENTION_DAYS = 365


def _concrete(value: object) -> bool:
    # CDK encodes a number token as a float, so an int is always a literal (and needs no jsii round trip).
    if isinstance(value, int):
        return True
    return not (isinstance(value, str | float) and Token.is_unresolved(value))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigurationError(message)


def _check_range(owner: str, name: str, value: float, low: float, high: float) -> None:
    if _concrete(value):
        _check(low <= value <= high, f"{owner}.{name}={value} is outside {low}..{high}")


def _check_positive(owner: str, instance: DataclassInstance) -> None:
    for field in fields(instance):
        value = getattr(instance, field.name)
        if isinstance(value, int | float) and _concrete(value):
            _check(
                not isinstance(value, bool) and value > 0, f"{owner}.{field.name}={value!r} must be a positive number"
            )


def _check_reserved_concurrency(owner: str, value: int) -> None:
    if not _concrete(value):
        return
    _check(
        isinstance(value, int) and not isinstance(value, bool) and value >= 1,
        f"{owner}: payment_reserved_concurrency={value!r} stops every invocation of the payment API (0 throttles "
        "all requests); set it to at least 1, sized as peak requests per second x p99 duration in seconds",
    )
    _check(
        value <= MAX_RESERVED_CONCURRENCY,
        f"{owner}: payment_reserved_concurrency={value} leaves less than {LAMBDA_MIN_UNRESERVED_CONCURRENCY} of the "
        f"default account quota ({LAMBDA_DEFAULT_ACCOUNT_CONCURRENCY}) unreserved, which Lambda refuses; lower it to "
        f"{MAX_RESERVED_CONCURRENCY} or less, or raise the account's concurrency quota first and then "
        "MAX_RESERVED_CONCURRENCY in product/profiles.py",
    )


@dataclass(frozen=True)
class FleetCapacity:
    """Reconciliation worker fleet (EC2 Auto Scaling) size."""

    min: int
    max: int
    desired: int
    instance_type: str = "t3.micro"

    def __post_init__(self) -> None:
        if all(_concrete(v) for v in (self.min, self.max, self.desired)):
            _check(
                0 < self.min <= self.desired <= self.max,
                f"fleet capacity must satisfy 0 < min <= desired <= max, got min={self.min} "
                f"desired={self.desired} max={self.max}",
            )


@dataclass(frozen=True)
class AlarmThresholds:
    """CloudWatch alarm thresholds; each alarm fires at or above its value."""

    lambda_errors: int
    dynamodb_throttles: int
    api_4xx: int
    api_5xx: int
    ec2_cpu_percent: int
    dynamodb_latency_ms: int
    dlq_messages: int = 1

    def __post_init__(self) -> None:
        _check_positive("alarms", self)
        _check_range("alarms", "ec2_cpu_percent", self.ec2_cpu_percent, 1, 100)


@dataclass(frozen=True)
class ApiThrottling:
    """Stage-wide API Gateway method throttling."""

    rate_limit: int
    burst_limit: int

    def __post_init__(self) -> None:
        _check_positive("api_throttling", self)


# CodeDeploy's predefined configurations for shifting a Lambda alias to a new version.
ALL_AT_ONCE = "CodeDeployDefault.LambdaAllAtOnce"
LAMBDA_DEPLOYMENT_CONFIGS = (
    ALL_AT_ONCE,
    *(f"CodeDeployDefault.LambdaCanary10Percent{m}Minutes" for m in (5, 10, 15, 30)),
    "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
    *(f"CodeDeployDefault.LambdaLinear10PercentEvery{m}Minutes" for m in (2, 3, 10)),
)


@dataclass(frozen=True)
class ReleasePolicy:
    """How a new version of the payment API function takes traffic, and which alias alarms roll it back."""

    deployment_config: str
    rollback_errors: int  # alias errors in one minute
    rollback_latency_p99_ms: int  # alias p99 duration over one minute, two minutes running

    def __post_init__(self) -> None:
        _check_positive("release", self)
        if _concrete(self.deployment_config):
            _check(
                self.deployment_config in LAMBDA_DEPLOYMENT_CONFIGS,
                f"release.deployment_config={self.deployment_config!r} is not a CodeDeploy Lambda configuration; "
                f"use one of {', '.join(LAMBDA_DEPLOYMENT_CONFIGS)}",
            )

    @property
    def is_gradual(self) -> bool:
        return self.deployment_config != ALL_AT_ONCE


CANARY_RELEASE = ReleasePolicy("CodeDeployDefault.LambdaCanary10Percent5Minutes", 1, 3000)


@dataclass(frozen=True)
class EnvironmentProfile:
    """Everything that differs between dev, staging and prod."""

    name: str
    payment_memory_mb: int
    payment_timeout_s: int
    processor_memory_mb: int
    processor_timeout_s: int
    payment_reserved_concurrency: int
    event_queue_visibility_timeout_s: int
    fleet: FleetCapacity
    alarms: AlarmThresholds
    waf_rate_limit: int
    api_stage_name: str
    api_throttling: ApiThrottling
    removal: RemovalMode
    log_retention_days: int
    audit_retention_days: int
    xray_sampling_rate: float
    nat_gateways: int
    cost_anomaly_threshold_usd: int = 100
    dlq_max_receive_count: int = 5
    release: ReleasePolicy = CANARY_RELEASE

    def __post_init__(self) -> None:
        owner = f"profile {self.name!r}"
        _check_range(owner, "payment_memory_mb", self.payment_memory_mb, *LAMBDA_MEMORY_MB)
        _check_range(owner, "processor_memory_mb", self.processor_memory_mb, *LAMBDA_MEMORY_MB)
        _check_range(owner, "payment_timeout_s", self.payment_timeout_s, *LAMBDA_TIMEOUT_S)
        _check_range(owner, "processor_timeout_s", self.processor_timeout_s, *LAMBDA_TIMEOUT_S)
        _check_range(owner, "waf_rate_limit", self.waf_rate_limit, *WAF_RATE_LIMIT)
        _check_reserved_concurrency(owner, self.payment_reserved_concurrency)
        _check_range(owner, "xray_sampling_rate", self.xray_sampling_rate, 0.0, 1.0)
        _check_range(owner, "nat_gateways", self.nat_gateways, 1, 3)
        _check_range(owner, "dlq_max_receive_count", self.dlq_max_receive_count, 1, 1000)
        _check_range(owner, "cost_anomaly_threshold_usd", self.cost_anomaly_threshold_usd, 1, 1_000_000)
        if _concrete(self.release.rollback_latency_p99_ms) and _concrete(self.payment_timeout_s):
            _check(
                self.release.rollback_latency_p99_ms < self.payment_timeout_s * 1000,
                f"{owner}: release.rollback_latency_p99_ms={self.release.rollback_latency_p99_ms} must be below the "
                f"payment function timeout ({self.payment_timeout_s * 1000} ms), or the alarm can never fire",
            )
        if self.name in ("staging", "prod") and _concrete(self.release.deployment_config):
            _check(
                self.release.is_gradual,
                f"{owner}: release.deployment_config must shift traffic gradually (canary or linear) in "
                f"staging and prod, got {self.release.deployment_config!r}",
            )
        if _concrete(self.event_queue_visibility_timeout_s) and _concrete(self.processor_timeout_s):
            # AWS guidance for SQS-triggered Lambda: visibility >= 6x the function timeout.
            _check(
                self.event_queue_visibility_timeout_s >= 6 * self.processor_timeout_s,
                f"{owner}: event_queue_visibility_timeout_s={self.event_queue_visibility_timeout_s} must be "
                f">= 6 x processor_timeout_s ({6 * self.processor_timeout_s})",
            )
        if _concrete(self.log_retention_days):
            _check(
                self.log_retention_days in LOG_RETENTION_DAYS,
                f"{owner}: log_retention_days={self.log_retention_days} is not a CloudWatch Logs "
                f"retention period; use one of {LOG_RETENTION_DAYS}",
            )
            if self.name == "prod":
                _check(
                    self.log_retention_days >= PCI_MIN_LOG_RETENTION_DAYS,
                    f"{owner}: prod log_retention_days must be >= {PCI_MIN_LOG_RETENTION_DAYS} (PCI DSS 10.5.1)",
                )
        if _concrete(self.audit_retention_days):
            _check(
                self.audit_retention_days >= MIN_AUDIT_RETENTION_DAYS,
                f"{owner}: audit_retention_days must be >= {MIN_AUDIT_RETENTION_DAYS}",
            )
        _check(self.removal in ("destroy", "retain"), f"{owner}: removal must be 'destroy' or 'retain'")
        if _concrete(self.api_stage_name):
            _check(
                bool(self.api_stage_name) and self.api_stage_name.replace("_", "").isalnum(),
                f"{owner}: api_stage_name={self.api_stage_name!r} must be letters, digits or '_'",
            )

    @property
    def is_production(self) -> bool:
        return self.name == "prod"

    # Derived values the product reads through these properties, so that a launch-time profile (the
    # Service Catalog product, whose name is a token) can supply them from its mapping instead.
    @property
    def environment_label(self) -> str:
        """How alert display names spell the environment, e.g. 'DEV'."""
        return self.name.upper()

    @property
    def deletion_protection(self) -> bool:
        """DynamoDB deletion protection: production only."""
        return self.is_production


PROFILES: dict[str, EnvironmentProfile] = {
    profile.name: profile
    for profile in (
        EnvironmentProfile(
            name="dev",
            payment_memory_mb=512,
            payment_timeout_s=30,
            processor_memory_mb=256,
            processor_timeout_s=60,
            payment_reserved_concurrency=20,
            event_queue_visibility_timeout_s=360,
            fleet=FleetCapacity(min=1, max=2, desired=1),
            alarms=AlarmThresholds(
                lambda_errors=10,
                dynamodb_throttles=20,
                api_4xx=200,
                api_5xx=100,
                ec2_cpu_percent=90,
                dynamodb_latency_ms=250,
            ),
            waf_rate_limit=500,
            api_stage_name="dev",
            api_throttling=ApiThrottling(rate_limit=50, burst_limit=100),
            removal="destroy",
            log_retention_days=30,
            audit_retention_days=365,
            xray_sampling_rate=1.0,
            nat_gateways=1,
            release=ReleasePolicy(ALL_AT_ONCE, rollback_errors=5, rollback_latency_p99_ms=5000),
        ),
        EnvironmentProfile(
            name="staging",
            payment_memory_mb=512,
            payment_timeout_s=30,
            processor_memory_mb=256,
            processor_timeout_s=60,
            payment_reserved_concurrency=50,
            event_queue_visibility_timeout_s=360,
            fleet=FleetCapacity(min=1, max=3, desired=2),
            alarms=AlarmThresholds(
                lambda_errors=5,
                dynamodb_throttles=10,
                api_4xx=100,
                api_5xx=50,
                ec2_cpu_percent=80,
                dynamodb_latency_ms=150,
            ),
            waf_rate_limit=1000,
            api_stage_name="staging",
            api_throttling=ApiThrottling(rate_limit=200, burst_limit=400),
            removal="retain",
            log_retention_days=90,
            audit_retention_days=365,
            xray_sampling_rate=0.5,
            nat_gateways=1,
            release=ReleasePolicy(
                "CodeDeployDefault.LambdaCanary10Percent5Minutes", rollback_errors=2, rollback_latency_p99_ms=3000
            ),
        ),
        EnvironmentProfile(
            name="prod",
            payment_memory_mb=1024,
            payment_timeout_s=60,
            processor_memory_mb=512,
            processor_timeout_s=120,
            payment_reserved_concurrency=300,
            event_queue_visibility_timeout_s=720,
            fleet=FleetCapacity(min=2, max=10, desired=3),
            alarms=AlarmThresholds(
                lambda_errors=3,
                dynamodb_throttles=5,
                api_4xx=50,
                api_5xx=20,
                ec2_cpu_percent=70,
                dynamodb_latency_ms=100,
            ),
            waf_rate_limit=5000,
            api_stage_name="prod",
            api_throttling=ApiThrottling(rate_limit=1000, burst_limit=2000),
            removal="retain",
            log_retention_days=365,
            audit_retention_days=2557,
            xray_sampling_rate=0.05,
            nat_gateways=2,
            release=ReleasePolicy(
                "CodeDeployDefault.LambdaCanary10Percent10Minutes", rollback_errors=1, rollback_latency_p99_ms=2000
            ),
        ),
    )
}

ENVIRONMENT_NAMES: tuple[str, ...] = tuple(PROFILES)


def profile_for(name: str) -> EnvironmentProfile:
    """The profile of environment `name`; unknown names fail listing the valid ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownEnvironmentError(
            f"unknown environment {name!r}: valid environments are {', '.join(ENVIRONMENT_NAMES)}"
        ) from None
