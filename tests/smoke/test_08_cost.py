"""Cost: the cost-allocation tag the deployment's anomaly monitor watches is active (a warning, never a failure).

The CUSTOM monitor sees no cost until its tag is an active cost-allocation tag, which only the management
account of the organization (or a standalone account) can switch on, and Billing lists the key only up to
24 hours after the first tagged cost. So a new stage is not failed for it; the check says what to do.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.smoke.support import SmokeWarning
from tests.smoke.target import Target

RUNBOOK = "docs/runbooks/cost-anomaly-detection.md"


def custom_monitor(target: Target) -> str | None:
    """Logical id of the stack's CUSTOM anomaly monitor (the one scoped by the deployment's tag)."""
    return next(
        (
            logical_id
            for logical_id, resource in target.resources.items()
            if resource.get("Type") == "AWS::CE::AnomalyMonitor" and target.prop(logical_id, "MonitorType") == "CUSTOM"
        ),
        None,
    )


def monitored_tag(target: Target) -> tuple[str, str] | None:
    """(key, value) of the tag the stack's CUSTOM anomaly monitor watches, from the deployed template."""
    monitor = custom_monitor(target)
    if monitor is None:
        return None
    tags = json.loads(target.prop(monitor, "MonitorSpecification"))["Tags"]
    return str(tags["Key"]), str(tags["Values"][0])


def _activate(key: str) -> str:
    return (
        f"In the management account: aws ce update-cost-allocation-tags-status --region us-east-1 "
        f"--cost-allocation-tags-status TagKey={key},Status=Active (see {RUNBOOK})"
    )


def report_tag_status(target: Target, ce: Any, note: Callable[[str], None], subject: Callable[..., str]) -> None:
    """Note the tag's status; warn unless it is active; 'not emulated' where the emulator lacks the call."""
    monitor, watched = custom_monitor(target), monitored_tag(target)
    if monitor is None or watched is None:
        pytest.skip("the stack has no CUSTOM cost anomaly monitor, so no cost-allocation tag to check")
    key, value = watched
    name = str(target.prop(monitor, "MonitorName") or monitor)
    subject(monitor, name)  # skipped as not emulated where the emulator did not create the monitor
    note(f"cost-allocation tag {key} (the anomaly monitor watches {key} = {value})")
    try:
        tags = ce.list_cost_allocation_tags(TagKeys=[key], Type="UserDefined")["CostAllocationTags"]
    except (ClientError, BotoCoreError, NotImplementedError) as error:
        code = error.response["Error"].get("Code", "") if isinstance(error, ClientError) else type(error).__name__
        server_side = isinstance(error, NotImplementedError) or (
            isinstance(error, ClientError)
            and error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
        )
        if target.not_emulated.active and server_side:
            pytest.skip(
                f"not emulated: AWS::CE::AnomalyMonitor {name} (its tag's status: the emulator has no "
                f"ListCostAllocationTags, it answered {code})"
            )
        hint = (
            "a member account of an organization cannot read Billing: check the tag in the management account"
            if "AccessDenied" in code
            else "check it by hand"
        )
        message = f"could not read the status of cost-allocation tag {key} ({code}): {hint}. {_activate(key)}"
        note(message)
        warnings.warn(SmokeWarning(message), stacklevel=2)
        return
    status = next((t.get("Status") for t in tags if t.get("TagKey") == key), None)
    if status == "Active":
        note(f"cost-allocation tag {key} is Active: the anomaly monitor sees this deployment's costs")
        return
    if status is None:
        message = (
            f"cost-allocation tag {key} is not known to Billing yet (it appears up to 24 h after the first tagged "
            f"cost); until it is activated the anomaly monitor sees no cost. {_activate(key)}"
        )
    else:
        message = f"cost-allocation tag {key} is {status}: the anomaly monitor sees no cost. {_activate(key)}"
    note(message)
    warnings.warn(SmokeWarning(message), stacklevel=2)


def test_cost_allocation_tag(target: Target, aws, note, subject) -> None:
    """Cost-allocation tag of the anomaly monitor is active (warns, never fails)"""
    report_tag_status(target, aws("ce", max_attempts=2), note, subject)
