"""The nag gate: cdk-nag v3 rule packs as validation plugins, and acknowledgments with reasons."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stage, Validations
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks
from constructs import IConstruct

RULE_PACKS = ("AwsSolutions", "PCI.DSS.321")
CDK_ANNOTATION = "Annotation::"
MIN_REASON_LENGTH = 20
# Template metadata on a function that AWS invokes asynchronously yet has no on-failure destination or DLQ:
# why its failed events are not lost (tests/unit/test_real_aws_runtime.py reads it; no cdk-nag rule does).
ASYNC_FAILURE_METADATA = "payment:asyncFailureHandling"


def pack_of(rule_id: str) -> str:
    """The rule pack a rule id belongs to, e.g. 'AwsSolutions' for 'AwsSolutions-IAM5[Resource::*]'."""
    for pack in RULE_PACKS:
        if rule_id.startswith(f"{pack}-"):
            return pack
    raise ValueError(f"rule id {rule_id!r} belongs to none of the gated packs {RULE_PACKS}")


def acknowledge(construct: IConstruct, *findings: tuple[str, str]) -> None:
    """Acknowledge (rule id, reason) findings on `construct` and its children only.

    Call it on the smallest construct the finding concerns; the reason must say why, specifically.
    """
    acknowledgments = []
    for rule_id, reason in findings:
        if len(reason.strip()) < MIN_REASON_LENGTH:
            raise ValueError(f"acknowledgment of {rule_id} on {construct.node.path} needs a specific reason")
        full_id = rule_id if rule_id.startswith(CDK_ANNOTATION) else f"{pack_of(rule_id)}::{rule_id}"
        acknowledgments.append(Acknowledgment(id=full_id, reason=reason))
    Validations.of(construct).acknowledge(*acknowledgments)  # one jsii round-trip for all of them


def acknowledge_async_failures(function: IConstruct, reason: str) -> None:
    """Say why an asynchronously invoked function needs no on-failure destination or dead-letter queue."""
    if len(reason.strip()) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgment of async failures on {function.node.path} needs a specific reason")
    resource = function.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{function.node.path} has no CloudFormation resource to carry the acknowledgment")
    resource.add_metadata(ASYNC_FAILURE_METADATA, reason)


def add_nag_gate(scope: Stage) -> None:
    """Run AwsSolutions and PCI DSS 3.2.1 checks on every stack under `scope`; findings fail synth."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope), PCIDSS321Checks(scope))
