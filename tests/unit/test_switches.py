"""Opt-ins as switches: a plain value decided at synth, or a CloudFormation condition each construct applies.

`PaymentService` is built here in a plain stack with a condition for every switch, so the constructs are
shown to apply them without the Service Catalog product (which passes its launch parameters' conditions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnCondition, CfnParameter, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template
from constructs import Construct

from product.catalog.product_stack import LaunchConditions
from product.constructs.ec2 import _vpc_child
from product.errors import ConfigurationError
from product.options import DeploymentOptions, apply_switch, condition_of, if_switch, is_built
from product.payment_service import PaymentService
from product.profiles import profile_for
from tests.unit.apps import new_app

AZS = ("us-east-1a", "us-east-1b")
CATALOG_PRODUCT = Path(__file__).resolve().parents[2] / "product" / "catalog" / "product_stack.py"
SWITCHED = ("Email", "GuardDuty", "Shield", "CostMonitor", "Nat2")


def _condition(stack: Stack, condition_id: str) -> CfnCondition:
    flag = CfnParameter(stack, f"{condition_id}Flag", type="String", default="false")
    return CfnCondition(stack, condition_id, expression=Fn.condition_equals(flag.value_as_string, "true"))


@pytest.fixture(scope="module")
def switched(cdk_context: dict[str, Any]) -> dict[str, Any]:
    """A prod-profile `PaymentService` (two NAT gateways) whose every switch is a condition."""
    stack = Stack(new_app(context=cdk_context), "Switched")
    conditions = {name: _condition(stack, name) for name in SWITCHED}
    options = DeploymentOptions(
        name_suffix="switched",
        availability_zones=AZS,
        notification_email="oncall@example.com",
        subscribe_notification_email=conditions["Email"],
        create_guardduty_detector=conditions["GuardDuty"],
        enable_shield_protection=conditions["Shield"],
        create_account_cost_monitor=conditions["CostMonitor"],
        nat_gateway_switches={2: conditions["Nat2"]},
    )
    PaymentService(stack, "PaymentService", profile=profile_for("prod"), options=options)
    return Template.from_stack(stack).to_json()


def _of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def test_each_construct_puts_its_condition_on_what_it_owns(switched: dict[str, Any]) -> None:
    conditioned = {
        resource_type: sorted(r.get("Condition", "-") for r in _of_type(switched, resource_type).values())
        for resource_type in (
            "AWS::GuardDuty::Detector",
            "AWS::CloudFront::Distribution",
            "AWS::Shield::Protection",
            "AWS::CE::AnomalyMonitor",
            "AWS::SNS::Subscription",
            "AWS::EC2::NatGateway",
            "AWS::EC2::EIP",
        )
    }
    assert conditioned == {
        "AWS::GuardDuty::Detector": ["GuardDuty"],
        "AWS::CloudFront::Distribution": ["Shield"],
        "AWS::Shield::Protection": ["Shield"],
        "AWS::CE::AnomalyMonitor": ["-", "CostMonitor"],  # the deployment's own monitor is always there
        "AWS::SNS::Subscription": ["Email", "Email", "Email"],
        "AWS::EC2::NatGateway": ["-", "Nat2"],
        "AWS::EC2::EIP": ["-", "Nat2"],
    }


def test_the_cost_subscription_lists_the_account_monitor_only_where_it_exists(switched: dict[str, Any]) -> None:
    (subscription,) = _of_type(switched, "AWS::CE::AnomalySubscription").values()
    condition, when_on, when_off = subscription["Properties"]["MonitorArnList"]["Fn::If"]
    assert condition == "CostMonitor" and len(when_on) == 2 and len(when_off) == 1
    assert when_off[0] in when_on


def test_a_zone_whose_nat_gateway_is_off_routes_through_the_first(switched: dict[str, Any]) -> None:
    gateways = _of_type(switched, "AWS::EC2::NatGateway")
    first = next(k for k, r in gateways.items() if "Condition" not in r)
    second = next(k for k, r in gateways.items() if r.get("Condition") == "Nat2")
    routes = [r["Properties"] for r in _of_type(switched, "AWS::EC2::Route").values()]
    nat_routes = [route["NatGatewayId"] for route in routes if "NatGatewayId" in route]
    assert sorted(map(json.dumps, nat_routes)) == sorted(
        map(json.dumps, [{"Ref": first}, {"Fn::If": ["Nat2", {"Ref": second}, {"Ref": first}]}])
    )


def test_plain_switches_need_no_condition() -> None:
    stack = Stack(new_app(), "Plain")
    condition = _condition(stack, "On")
    assert condition_of(True) is None and condition_of(False) is None
    assert condition_of(condition) is condition and condition_of(lambda: condition) is condition
    assert is_built(True) and is_built(condition) and not is_built(False)
    assert if_switch(True, "on", "off") == "on" and if_switch(False, "on", "off") == "off"
    assert stack.resolve(if_switch(condition, "on", "off")) == {"Fn::If": ["On", "on", "off"]}
    plain, switched = sns.Topic(stack, "Plain", topic_name="plain"), sns.Topic(stack, "Switched", topic_name="switched")
    apply_switch(True, plain)
    apply_switch(condition, switched)  # an L2: the condition goes on its default child
    topics = {r["Properties"]["TopicName"]: r for r in Template.from_stack(stack).to_json()["Resources"].values()}
    assert "Condition" not in topics["plain"] and topics["switched"]["Condition"] == "On"


def test_a_switch_on_something_that_is_no_resource_is_refused() -> None:
    stack = Stack(new_app(), "NoResource")
    with pytest.raises(TypeError, match=r"NoResource/Group is not a CloudFormation resource"):
        apply_switch(_condition(stack, "On"), Construct(stack, "Group"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enable_shield_protection": "true"}, r"enable_shield_protection must be true or false \(or a Cloud"),
        ({"subscribe_notification_email": 1}, "subscribe_notification_email must be true or false"),
        ({"nat_gateway_switches": {1: True}}, r"nat_gateway_switches\[1\]=True: switch NAT gateways 2 and up"),
        ({"nat_gateway_switches": {2: False}}, "lower the profile's nat_gateways to drop one"),
        ({"create_api_gateway_cloudwatch_role": "yes"}, "create_api_gateway_cloudwatch_role must be true or false"),
    ],
)
def test_deployment_options_reject_what_is_no_switch(change: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DeploymentOptions(name_suffix="dev", availability_zones=AZS, **change)  # type: ignore[arg-type]


def test_switching_a_nat_gateway_the_vpc_does_not_have_is_refused(cdk_context: dict[str, Any]) -> None:
    stack = Stack(new_app(context=cdk_context), "OneNat")
    options = DeploymentOptions(
        name_suffix="onenat", availability_zones=AZS, nat_gateway_switches={2: _condition(stack, "Nat2")}
    )
    with pytest.raises(ConfigurationError, match=r"NAT gateway switches \[2\] name gateways this VPC does not"):
        PaymentService(stack, "PaymentService", profile=profile_for("dev"), options=options)  # one gateway


def test_a_vpc_child_of_another_type_names_the_upgrade_to_check() -> None:
    stack = Stack(new_app(), "Children")
    subnet = Construct(stack, "Subnet")
    Construct(subnet, "NATGateway")
    with pytest.raises(TypeError, match=r"Children/Subnet/NATGateway is a Construct, not the CfnNatGateway"):
        _vpc_child(subnet, "NATGateway", ec2.CfnNatGateway)


def test_launch_conditions_are_created_together_in_declaration_order_at_first_use() -> None:
    stack = Stack(new_app(), "Launch")
    conditions = LaunchConditions(stack)
    first = conditions.declare("First", Fn.condition_equals("a", "a"))
    conditions.declare("Second", Fn.condition_equals("b", "b"))
    assert [c.node.id for c in stack.node.children] == []
    assert first().node.id == "First"
    assert [c.node.id for c in stack.node.children] == ["First", "Second"]
    with pytest.raises(ConfigurationError, match="condition 'Third' is declared after the conditions were created"):
        conditions.declare("Third", Fn.condition_equals("c", "c"))


def test_the_catalog_patches_nothing_inside_the_service() -> None:
    """The product passes conditions in; it reads no construct's children and asserts nothing about them."""
    source = CATALOG_PRODUCT.read_text()
    for reach_in in ("find_child", "find_all", "default_child", "cfn_options", "assert ", "_child("):
        assert reach_in not in source, reach_in
