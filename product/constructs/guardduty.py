"""GuardDuty: the account-and-region detector, created only when this account has none yet."""

from __future__ import annotations

from aws_cdk import aws_guardduty as guardduty
from constructs import Construct

from product.options import Switch, apply_switch


class ThreatDetector(Construct):
    """A GuardDuty detector. One per account and region: check with `aws guardduty list-detectors`."""

    def __init__(self, scope: Construct, construct_id: str, *, switch: Switch = True) -> None:
        super().__init__(scope, construct_id)
        self.detector = guardduty.CfnDetector(
            self, "Detector", enable=True, finding_publishing_frequency="FIFTEEN_MINUTES"
        )
        apply_switch(switch, self.detector)
