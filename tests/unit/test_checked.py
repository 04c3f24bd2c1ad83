"""product.checked: the synth-time checks that stay under `python -O`, and what their errors say."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import CfnResource, Stack
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs

from product.checked import l1_of, narrowed, present
from tests.unit.apps import new_app


def test_narrowed_returns_a_value_of_the_kind_and_names_what_is_not() -> None:
    assert narrowed(3, int, "the count") == 3
    with pytest.raises(TypeError, match=r"^the count is str, not int$"):
        narrowed("3", int, "the count")


def test_present_returns_a_value_and_names_a_missing_one() -> None:
    assert present(0, "the port") == 0  # falsy is not missing
    with pytest.raises(ValueError, match=r"^the account of stage dev is missing$"):
        present(None, "the account of stage dev")


def test_l1_of_gives_the_wrapped_resource_and_names_the_construct_otherwise() -> None:
    stack = Stack(new_app(), "Checked")
    queue = sqs.Queue(stack, "Queue")
    assert isinstance(l1_of(queue, sqs.CfnQueue), sqs.CfnQueue)
    assert isinstance(l1_of(queue, CfnResource), CfnResource)
    with pytest.raises(TypeError, match=r"^the default child of Checked/Queue is CfnQueue, not CfnTopic$"):
        l1_of(queue, sns.CfnTopic)
    with pytest.raises(TypeError, match=r"^the default child of Checked is NoneType, not CfnResource$"):
        l1_of(stack, CfnResource)


def test_the_owning_construct_is_named_only_when_the_check_fails() -> None:
    class Counted:
        """A construct stand-in that counts reads of its path (a jsii round trip on a real one)."""

        reads = 0

        @property
        def node(self) -> Counted:
            return self

        @property
        def path(self) -> str:
            Counted.reads += 1
            return "Stack/Function"

    owner: Any = Counted()
    assert narrowed(1, int, "the role", of=owner) == 1 and present(1, "the role", of=owner) == 1
    assert Counted.reads == 0
    with pytest.raises(TypeError, match=r"^the role of Stack/Function is NoneType, not int$"):
        narrowed(None, int, "the role", of=owner)
    with pytest.raises(ValueError, match=r"^the role of Stack/Function is missing$"):
        present(None, "the role", of=owner)
    assert Counted.reads == 2
