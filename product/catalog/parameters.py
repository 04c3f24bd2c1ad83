"""The product's launch-parameter contract: names and opt-ins (no CDK import, so the launch helper stays light).

`PaymentProductStack` declares these parameters with their constraints; `product.catalog.launch` fills them and
checks values against the constraints the chosen product version declares.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE = "EnvironmentProfile"
NAME_SUFFIX = "NameSuffix"
NOTIFICATION_EMAIL = "NotificationEmail"
FLAG_VALUES = ("false", "true")


@dataclass(frozen=True)
class OptIn:
    """An account-singleton opt-in: its launch parameter and what it is for."""

    parameter: str
    description: str


GUARDDUTY = OptIn(
    "CreateGuardDutyDetector",
    "true only if this account and region has no GuardDuty detector yet (aws guardduty list-detectors); "
    "GuardDuty allows one detector per account and region",
)
SHIELD = OptIn(
    "EnableShieldProtection",
    "true only if the account subscribes to Shield Advanced: puts CloudFront in front of the API and "
    "protects the distribution",
)
COST_MONITOR = OptIn(
    "CreateAccountCostMonitor",
    "true to also create the account's one AWS-services cost anomaly monitor (one per account)",
)
OPT_INS = (GUARDDUTY, SHIELD, COST_MONITOR)
