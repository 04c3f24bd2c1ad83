"""Monitoring: alarms with this environment's thresholds, the dashboard, encrypted log groups."""

from __future__ import annotations

import json

from product.contract import Output
from tests.smoke.support import params_from_target
from tests.smoke.target import Target


def _alarms(target: Target) -> list[tuple[str, str]]:
    return [(lid, str(target.prop(lid, "AlarmName") or lid)) for lid, _ in target.of_type("AWS::CloudWatch::Alarm")]


def _log_groups(target: Target) -> list[tuple[str, str]]:
    return [(lid, lid) for lid, _ in target.of_type("AWS::Logs::LogGroup")]


@params_from_target("alarm", _alarms)
def test_alarm(alarm: str, target: Target, aws, subject) -> None:
    """Alarm exists with this environment's threshold and notifies the operations topic"""
    name = str(target.prop(alarm, "AlarmName"))
    subject(alarm, name)
    found = aws("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(found) == 1, f"alarm {name} not found"
    actual = found[0]
    assert float(actual["Threshold"]) == float(target.prop(alarm, "Threshold"))
    assert actual["ComparisonOperator"] == target.prop(alarm, "ComparisonOperator")
    assert int(actual["EvaluationPeriods"]) == int(target.prop(alarm, "EvaluationPeriods"))
    assert actual.get("ActionsEnabled", True) is True
    declared_actions = set(target.prop(alarm, "AlarmActions", default=[]))
    assert target.outputs[Output.OPERATIONS_TOPIC_ARN] in declared_actions, declared_actions
    assert declared_actions <= set(actual.get("AlarmActions", [])), actual.get("AlarmActions")


def test_dashboard(target: Target, aws, subject) -> None:
    """Dashboard exists and shows the alarms"""
    name = target.outputs[Output.DASHBOARD_NAME]
    logical_id = next(
        lid for lid, _ in target.of_type("AWS::CloudWatch::Dashboard") if target.physical_ids[lid] == name
    )
    subject(logical_id, name)
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])
    assert body.get("widgets"), "dashboard has no widgets"


@params_from_target("log_group", _log_groups)
def test_log_group(log_group: str, target: Target, aws, subject) -> None:
    """Log group encrypted with the stage key, retention as this environment declares"""
    name = target.physical_ids[log_group]
    subject(log_group, name)
    groups = [
        g for g in aws("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name
    ]
    assert groups, f"log group {name} not found"
    group = groups[0]
    assert group.get("retentionInDays") == int(target.prop(log_group, "RetentionInDays"))
    assert group.get("kmsKeyId") == target.prop(log_group, "KmsKeyId") == target.outputs[Output.KEY_ARN]
