"""Compute: the two functions with this environment's sizing, the event source, the fleet."""

from __future__ import annotations

import pytest

from product.contract import Output
from tests.smoke.target import Target

FUNCTIONS = [Output.PAYMENT_FUNCTION_NAME, Output.PROCESSOR_FUNCTION_NAME]


def _function(target: Target, output_id: str) -> tuple[str, str]:
    name = target.outputs[output_id]
    return target.find("AWS::Lambda::Function", FunctionName=name), name


@pytest.mark.parametrize("output_id", FUNCTIONS, ids=["api", "processor"])
def test_function(output_id: str, target: Target, aws, subject) -> None:
    """Function Active with this environment's memory and timeout, runtime, handler, tracing and variables"""
    logical_id, name = _function(target, output_id)
    subject(logical_id, name)
    configuration = aws("lambda").get_function_configuration(FunctionName=name)
    assert configuration.get("State", "Active") == "Active", configuration.get("StateReason")
    assert configuration.get("LastUpdateStatus", "Successful") == "Successful"
    assert configuration["MemorySize"] == int(target.prop(logical_id, "MemorySize"))
    assert configuration["Timeout"] == int(target.prop(logical_id, "Timeout"))
    assert configuration["Runtime"] == target.prop(logical_id, "Runtime")
    assert configuration["Handler"] == target.prop(logical_id, "Handler")
    declared_tracing = target.prop(logical_id, "TracingConfig", "Mode")
    if declared_tracing:
        assert (configuration.get("TracingConfig") or {}).get("Mode") == declared_tracing
    variables = (configuration.get("Environment") or {}).get("Variables", {})
    declared = target.prop(logical_id, "Environment", "Variables", default={})
    assert variables == declared, f"environment differs from the template: {variables} != {declared}"
    assert variables.get("ENVIRONMENT") == target.stage
    assert variables.get("PAYMENTS_TABLE_NAME") == target.outputs[Output.PAYMENTS_TABLE_NAME]


def test_processor_event_source(target: Target, aws, subject) -> None:
    """Event processor consumes the event queue with partial batch responses"""
    logical_id = next(lid for lid, _ in target.of_type("AWS::Lambda::EventSourceMapping"))
    uuid = target.physical_ids[logical_id]
    subject(logical_id, uuid)
    mapping = aws("lambda").get_event_source_mapping(UUID=uuid)
    queue_name = target.outputs[Output.EVENT_QUEUE_URL].rsplit("/", 1)[-1]
    assert mapping["EventSourceArn"].endswith(f":{queue_name}"), mapping["EventSourceArn"]
    assert f":function:{target.outputs[Output.PROCESSOR_FUNCTION_NAME]}" in mapping["FunctionArn"]
    assert mapping.get("State") in ("Enabled", "Enabling", "Updating"), mapping.get("State")
    assert mapping["BatchSize"] == int(target.prop(logical_id, "BatchSize"))
    declared = target.prop(logical_id, "FunctionResponseTypes", default=[])
    assert set(declared) <= set(mapping.get("FunctionResponseTypes", [])) and "ReportBatchItemFailures" in declared


def test_fleet_capacity(target: Target, aws, subject) -> None:
    """Reconciliation fleet has this environment's min / max / desired capacity"""
    name = target.outputs[Output.FLEET_GROUP_NAME]
    logical_id = next(
        lid for lid, _ in target.of_type("AWS::AutoScaling::AutoScalingGroup") if target.physical_ids[lid] == name
    )
    subject(logical_id, name)
    groups = aws("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    assert len(groups) == 1, f"fleet {name} not found"
    group = groups[0]
    assert group["MinSize"] == int(target.prop(logical_id, "MinSize"))
    assert group["MaxSize"] == int(target.prop(logical_id, "MaxSize"))
    assert group["DesiredCapacity"] == int(target.prop(logical_id, "DesiredCapacity"))


def test_fleet_launch_template(target: Target, aws, subject) -> None:
    """Fleet launch template requires IMDSv2 and encrypts its volumes"""
    logical_id = next(lid for lid, _ in target.of_type("AWS::EC2::LaunchTemplate"))
    template_id = target.physical_ids[logical_id]
    subject(logical_id, template_id)
    versions = aws("ec2").describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
    data = versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert (data.get("MetadataOptions") or {}).get("HttpTokens") == "required", data.get("MetadataOptions")
    volumes = [m.get("Ebs", {}) for m in data.get("BlockDeviceMappings", []) if "Ebs" in m]
    assert volumes and all(v.get("Encrypted") is True for v in volumes), volumes


def test_vpc_flow_logs(target: Target, aws, subject) -> None:
    """VPC flow logs delivered to their log group"""
    logical_id = next(lid for lid, _ in target.of_type("AWS::EC2::FlowLog"))
    flow_log_id = target.physical_ids[logical_id]
    subject(logical_id, flow_log_id)
    logs = aws("ec2").describe_flow_logs(FlowLogIds=[flow_log_id])["FlowLogs"]
    assert len(logs) == 1, f"flow log {flow_log_id} not found"
    flow_log = logs[0]
    assert flow_log.get("FlowLogStatus", "ACTIVE") == "ACTIVE"
    assert flow_log.get("TrafficType") == target.prop(logical_id, "TrafficType")
    assert flow_log.get("LogGroupName") == target.prop(logical_id, "LogGroupName")
