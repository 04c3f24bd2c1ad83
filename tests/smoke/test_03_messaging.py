"""Messaging: alert topics, the payment event queue and dead-letter queue, event routing."""

from __future__ import annotations

import json

import pytest

from product.contract import Output
from tests.smoke.target import Target

TOPICS = [Output.OPERATIONS_TOPIC_ARN, Output.SECURITY_TOPIC_ARN, Output.COST_TOPIC_ARN]


def _by_physical_id(target: Target, resource_type: str, physical_id: str) -> str:
    for logical_id, _ in target.of_type(resource_type):
        if target.physical_ids[logical_id] == physical_id:
            return logical_id
    raise LookupError(f"no {resource_type} {physical_id} in {target.stack_name}")


def _queue_arn(target: Target, queue_url: str) -> str:
    return f"arn:{target.partition}:sqs:{target.region}:{target.account}:{queue_url.rstrip('/').rsplit('/', 1)[-1]}"


@pytest.mark.parametrize("output_id", TOPICS, ids=["operations", "security", "cost"])
def test_topic(output_id: str, target: Target, aws, subject) -> None:
    """Alert topic KMS-encrypted with the stage key; its display name carries the environment"""
    arn = target.outputs[output_id]
    logical_id = _by_physical_id(target, "AWS::SNS::Topic", arn)
    subject(logical_id, arn.rsplit(":", 1)[-1])
    attributes = aws("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (
        attributes.get("KmsMasterKeyId") == target.prop(logical_id, "KmsMasterKeyId") == target.outputs[Output.KEY_ARN]
    )
    display = attributes.get("DisplayName", "")
    assert display == target.prop(logical_id, "DisplayName"), f"display name {display!r}"
    assert target.stage and target.stage.lower() in display.lower(), f"{display!r} does not name {target.stage}"


def test_event_queue(target: Target, aws, subject) -> None:
    """Event queue KMS-encrypted, visibility timeout as declared, redrives to the dead-letter queue"""
    url = target.outputs[Output.EVENT_QUEUE_URL]
    logical_id = _by_physical_id(target, "AWS::SQS::Queue", target.stack_outputs.get(Output.EVENT_QUEUE_URL, url))
    subject(logical_id, url.rsplit("/", 1)[-1])
    attributes = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes.get("KmsMasterKeyId") == target.prop(logical_id, "KmsMasterKeyId") == target.outputs[Output.KEY_ARN]
    )
    assert int(attributes["VisibilityTimeout"]) == int(target.prop(logical_id, "VisibilityTimeout"))
    redrive = json.loads(attributes["RedrivePolicy"])
    declared = target.prop(logical_id, "RedrivePolicy")
    assert (
        redrive["deadLetterTargetArn"]
        == declared["deadLetterTargetArn"]
        == _queue_arn(target, target.outputs[Output.DEAD_LETTER_QUEUE_URL])
    )
    assert int(redrive["maxReceiveCount"]) == int(declared["maxReceiveCount"])


def test_dead_letter_queue(target: Target, aws, subject) -> None:
    """Dead-letter queue KMS-encrypted, keeps messages as long as declared"""
    url = target.outputs[Output.DEAD_LETTER_QUEUE_URL]
    logical_id = _by_physical_id(target, "AWS::SQS::Queue", target.stack_outputs.get(Output.DEAD_LETTER_QUEUE_URL, url))
    subject(logical_id, url.rsplit("/", 1)[-1])
    attributes = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes.get("KmsMasterKeyId") == target.prop(logical_id, "KmsMasterKeyId") == target.outputs[Output.KEY_ARN]
    )
    declared = target.prop(logical_id, "MessageRetentionPeriod")
    assert declared is None or int(attributes["MessageRetentionPeriod"]) == int(declared)


def _source(target: Target, logical_id: str) -> list[str]:
    return target.prop(logical_id, "EventPattern", "source") or []


def _rule(target: Target, source: str) -> str:
    for logical_id, _ in target.of_type("AWS::Events::Rule"):
        if source in (target.prop(logical_id, "EventPattern", "source") or []):
            return logical_id
    raise LookupError(f"no rule for events from {source}")


def _targets(target: Target, aws, logical_id: str) -> list[str]:
    physical = target.physical_ids[logical_id]
    bus = target.prop(logical_id, "EventBusName", default="default")
    name = physical.split("|")[-1]  # a rule on a custom bus is "<bus>|<rule>" in AWS
    return [t["Arn"] for t in aws("events").list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]]


def test_payment_created_rule(target: Target, aws, subject) -> None:
    """PaymentCreated events on the payment bus are routed to the event queue"""
    logical_id = _rule(target, "payments.api")
    subject(logical_id, target.physical_ids[logical_id].split("|")[-1])
    assert target.prop(logical_id, "EventBusName") == target.outputs[Output.EVENT_BUS_NAME]
    assert target.prop(logical_id, "EventPattern", "detail-type") == ["PaymentCreated"]
    assert _queue_arn(target, target.outputs[Output.EVENT_QUEUE_URL]) in _targets(target, aws, logical_id)


def test_guardduty_findings_rule(target: Target, aws, subject) -> None:
    """GuardDuty findings are routed to the security topic by the stack owning the detector, by no other"""
    if not any(target.of_type("AWS::GuardDuty::Detector")):  # routed once per account and region
        routing = [lid for lid, _ in target.of_type("AWS::Events::Rule") if _source(target, lid) == ["aws.guardduty"]]
        assert not routing, f"{routing} route the account's findings from a stack that owns no detector"
        return
    logical_id = _rule(target, "aws.guardduty")
    subject(logical_id, target.physical_ids[logical_id].split("|")[-1])
    assert target.outputs[Output.SECURITY_TOPIC_ARN] in _targets(target, aws, logical_id)
