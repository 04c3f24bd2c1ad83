"""The launch role sizes its statements from one resolve: each size is the statement's deployed length."""

from __future__ import annotations

import json

import pytest
from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam

from product.catalog.launch_role import _grant, _sized, deployed
from product.errors import ConfigurationError
from tests.unit.apps import new_app


def _one_by_one(stack: Stack, statement: iam.PolicyStatement) -> int:
    """The size as measured statement by statement (two jsii round trips each)."""
    return len(json.dumps(deployed(stack.resolve(statement.to_statement_json())), separators=(",", ":"))) + 1


def test_each_size_is_the_deployed_length_of_its_statement() -> None:
    stack = Stack(new_app(), "Sizing")
    grants = [
        _grant("ReadAnything", ["s3:GetObject"], ["*"]),
        _grant(
            "WriteByTag",
            ["s3:PutObject", "s3:PutObject", "s3:DeleteObject"],  # a duplicate, which IAM's rendering drops
            [f"arn:{Aws.PARTITION}:s3:::payment-*/*", f"arn:{Aws.PARTITION}:s3:::payment-*"],
            conditions={"Null": {"aws:ResourceTag/payment-deployment": "false"}},
        ),
        _grant(
            "NeverTheStages",
            ["dynamodb:Delete*"],
            [f"arn:{Aws.PARTITION}:dynamodb:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/*"],
            effect=iam.Effect.DENY,
            conditions={"StringEquals": {"aws:ResourceTag/payment-deployment": ["dev", "staging", "prod"]}},
        ),
    ]

    sized = _sized(stack, grants)

    assert [g.size for g in sized] == [_one_by_one(stack, g.statement) for g in grants]
    assert [g.statement for g in sized] == [g.statement for g in grants]


def test_two_identical_statements_are_refused() -> None:
    stack = Stack(new_app(), "Sizing")
    twice = [_grant("Same", ["s3:GetObject"], ["*"]), _grant("Same", ["s3:GetObject"], ["*"])]

    with pytest.raises(ConfigurationError, match="2 launch role statements render as 1: two are identical"):
        _sized(stack, twice)
