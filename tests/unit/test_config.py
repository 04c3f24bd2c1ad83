"""The knob table and delivery settings reject what cannot be deployed, saying how to fix it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.settings import DeliverySettings
from product.errors import ConfigurationError, UnknownEnvironmentError
from product.options import DeploymentOptions
from product.profiles import PROFILES, AlarmThresholds, ApiThrottling, FleetCapacity, profile_for

AZS = ("us-east-1a", "us-east-1b")


def test_unknown_environment_lists_valid_ones() -> None:
    with pytest.raises(UnknownEnvironmentError, match=r"unknown environment 'qa'.*dev, staging, prod"):
        profile_for("qa")


def test_spec_starting_values() -> None:
    dev, staging, prod = PROFILES["dev"], PROFILES["staging"], PROFILES["prod"]
    assert (dev.payment_memory_mb, staging.payment_memory_mb, prod.payment_memory_mb) == (512, 512, 1024)
    assert (dev.payment_timeout_s, staging.payment_timeout_s, prod.payment_timeout_s) == (30, 30, 60)
    assert (dev.processor_timeout_s, staging.processor_timeout_s, prod.processor_timeout_s) == (60, 60, 120)
    assert [(p.fleet.min, p.fleet.max, p.fleet.desired) for p in (dev, staging, prod)] == [
        (1, 2, 1),
        (1, 3, 2),
        (2, 10, 3),
    ]
    assert [p.waf_rate_limit for p in (dev, staging, prod)] == [500, 1000, 5000]
    assert [p.removal for p in (dev, staging, prod)] == ["destroy", "retain", "retain"]
    assert prod.log_retention_days >= 365


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ({"min": 3, "max": 10, "desired": 2}, "min <= desired <= max"),
        ({"min": 1, "max": 2, "desired": 3}, "min <= desired <= max"),
        ({"min": 0, "max": 2, "desired": 1}, "0 < min"),
    ],
)
def test_fleet_capacity_order(capacity: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        FleetCapacity(**capacity)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"payment_memory_mb": 64}, r"payment_memory_mb=64 is outside 128\.\.10240"),
        ({"payment_memory_mb": 20_000}, "payment_memory_mb=20000 is outside"),
        ({"processor_memory_mb": 100}, "processor_memory_mb=100 is outside"),
        ({"payment_timeout_s": 0}, "payment_timeout_s=0 is outside 1..900"),
        ({"processor_timeout_s": 901}, "processor_timeout_s=901 is outside"),
        ({"waf_rate_limit": 5}, "waf_rate_limit=5 is outside"),
        ({"xray_sampling_rate": 1.5}, "xray_sampling_rate=1.5 is outside"),
        ({"nat_gateways": 0}, "nat_gateways=0 is outside"),
        ({"log_retention_days": 31}, "log_retention_days=31 is not a CloudWatch Logs retention period"),
        ({"audit_retention_days": 30}, "audit_retention_days must be >= 365"),
        ({"event_queue_visibility_timeout_s": 100}, r"must be >= 6 x processor_timeout_s \(360\)"),
        ({"removal": "keep"}, "removal must be 'destroy' or 'retain'"),
        ({"api_stage_name": "dev stage"}, "api_stage_name='dev stage' must be letters"),
        ({"dlq_max_receive_count": 0}, "dlq_max_receive_count=0 is outside"),
        ({"cost_anomaly_threshold_usd": 0}, "cost_anomaly_threshold_usd=0 is outside"),
    ],
)
def test_profile_rejects(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        replace(PROFILES["dev"], **change)


def test_prod_log_retention_must_meet_pci() -> None:
    with pytest.raises(ConfigurationError, match=r"prod log_retention_days must be >= 365 \(PCI DSS 10.5.1\)"):
        replace(PROFILES["prod"], log_retention_days=90)


@pytest.mark.parametrize(
    "field", ["lambda_errors", "dynamodb_throttles", "api_4xx", "api_5xx", "dynamodb_latency_ms", "dlq_messages"]
)
@pytest.mark.parametrize("value", [0, -5])
def test_alarm_thresholds_must_be_positive(field: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=rf"alarms\.{field}={value} must be a positive number"):
        replace(PROFILES["dev"].alarms, **{field: value})


def test_cpu_threshold_is_a_percentage() -> None:
    with pytest.raises(ConfigurationError, match=r"ec2_cpu_percent=120 is outside 1\.\.100"):
        replace(PROFILES["dev"].alarms, ec2_cpu_percent=120)


def test_api_throttling_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match=r"api_throttling\.rate_limit=0"):
        ApiThrottling(rate_limit=0, burst_limit=10)


def test_profiles_are_frozen() -> None:
    with pytest.raises(AttributeError):
        PROFILES["dev"].payment_memory_mb = 2048  # type: ignore[misc]  # the frozen dataclass must refuse it
    assert isinstance(PROFILES["dev"].alarms, AlarmThresholds)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name_suffix": "Dev"}, "name suffix 'Dev' must match"),
        ({"name_suffix": "x"}, "name suffix 'x' must match"),
        ({"name_suffix": "a" * 21}, "must match"),
        ({"availability_zones": ("us-east-1a",)}, "must name exactly two zones"),
        ({"availability_zones": ("us-east-1a", "zone-b")}, "must name exactly two zones"),
        ({"notification_email": "not-an-address"}, "is not an e-mail address"),
        ({"create_guardduty_detector": "yes"}, "create_guardduty_detector must be true or false"),
    ],
)
def test_deployment_options_reject(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        replace(DeploymentOptions(name_suffix="dev", availability_zones=AZS), **change)


def _context(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {"availabilityZones": {"us-east-1": list(AZS)}}
    base.update(overrides)
    return base


def test_settings_defaults_put_every_stage_in_the_tooling_account() -> None:
    settings = DeliverySettings.from_context(_context())
    assert [(s.environment, s.account, s.region) for s in settings.stages] == [
        ("dev", "111111111111", "us-east-1"),
        ("staging", "111111111111", "us-east-1"),
        ("prod", "111111111111", "us-east-1"),
    ]
    assert not settings.create_guardduty_detector
    assert not settings.enable_shield_protection
    assert not settings.create_account_cost_monitor
    assert settings.notification_email is None


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (_context(toolingAccount="12345"), "toolingAccount='12345' is not a 12-digit AWS account id"),
        (_context(toolingRegion="mars-1"), "toolingRegion='mars-1' is not an AWS region name"),
        (_context(stages={"qa": {}}), "unknown environment 'qa': valid environments are dev, staging, prod"),
        (_context(stages={"prod": {"account": "abc"}}), "stages.prod.account='abc' is not a 12-digit"),
        (_context(stages={"dev": {"region": "eu-west-9x"}}), "stages.dev.region='eu-west-9x'"),
        (_context(stages=["dev"]), "context 'stages' must map environment names"),
        (_context(stages={"prod": {"region": "eu-west-1"}}), "no availability zones configured for region 'eu-west-1'"),
        (_context(availabilityZones=["us-east-1a"]), "'availabilityZones' must map region names"),
        (_context(enableShieldProtection="maybe"), "'enableShieldProtection' must be true or false"),
        (_context(notificationEmail="oncall"), "notification e-mail 'oncall' is not an e-mail address"),
    ],
)
def test_settings_reject(context: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DeliverySettings.from_context(context)


def test_settings_accept_cli_string_flags() -> None:
    settings = DeliverySettings.from_context(_context(createGuardDutyDetector="false", enableShieldProtection="True"))
    assert settings.create_guardduty_detector is False
    assert settings.enable_shield_protection is True


def test_account_singletons_default_to_one_owner_per_account() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"stages dev, staging, prod would each create one in "
        r"111111111111/us-east-1: GuardDuty allows one detector",
    ):
        DeliverySettings.from_context(_context(createGuardDutyDetector=True))
    with pytest.raises(ConfigurationError, match=r"Cost Explorer allows one AWS-services monitor per account"):
        DeliverySettings.from_context(
            _context(stages={"dev": {"createAccountCostMonitor": True}, "prod": {"createAccountCostMonitor": True}})
        )


def test_account_singletons_set_per_stage() -> None:
    settings = DeliverySettings.from_context(
        _context(
            enableShieldProtection=True,
            stages={"prod": {"createGuardDutyDetector": True, "createAccountCostMonitor": "true"}},
        )
    )
    prod, dev = settings.stage_options("prod"), settings.stage_options("dev")
    assert (prod.create_guardduty_detector, prod.create_account_cost_monitor) == (True, True)
    assert (dev.create_guardduty_detector, dev.create_account_cost_monitor) == (False, False)
    assert prod.enable_shield_protection and dev.enable_shield_protection  # not a singleton: every stage may


def test_stage_flag_must_be_boolean() -> None:
    with pytest.raises(ConfigurationError, match=r"'stages.prod.createGuardDutyDetector' must be true or false"):
        DeliverySettings.from_context(_context(stages={"prod": {"createGuardDutyDetector": "sometimes"}}))
