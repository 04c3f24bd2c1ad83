"""The one CloudFormation resolver the smoke suite and the rehearsal's planner share (product.cfn_template)."""

from __future__ import annotations

import operator
from typing import Any

import pytest

from product.cfn_template import TemplateResolver, condition_holds
from tests.unit.template_instance import Instance

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Profile": {"Type": "String", "Default": "dev"}, "Shield": {"Type": "String"}},
    "Mappings": {"Knobs": {"prod": {"Memory": 1024}, "dev": {"Memory": 256}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Profile"}, "prod"]},
        "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
        "ProdWithShield": {"Fn::And": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "Shield"}, "true"]}]},
        "OnAttribute": {"Fn::Equals": [{"Fn::GetAtt": ["Bucket", "Arn"]}, "x"]},
    },
    "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
}


class _Named(TemplateResolver):
    """A resolver whose resources are named after their logical ids and whose attributes are unknown."""

    def _resource_ref(self, logical_id: str) -> Any:
        return f"physical-{logical_id}"

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        return {"Fn::GetAtt": [logical_id, attribute]}


def _resolver(**parameters: str) -> _Named:
    return _Named(
        TEMPLATE, pseudo={"AWS::Region": "eu-west-1", "AWS::AccountId": "111111111111"}, parameters=parameters
    )


def test_parameters_take_the_stacks_value_else_the_default() -> None:
    assert _resolver().resolve({"Ref": "Profile"}) == "dev"
    assert _resolver(Profile="prod").resolve({"Fn::FindInMap": ["Knobs", {"Ref": "Profile"}, "Memory"]}) == 1024
    assert _resolver().resolve({"Ref": "Bucket"}) == "physical-Bucket"
    assert (
        _resolver().resolve({"Fn::Sub": ["${AWS::Region}-${Bucket}-${X}", {"X": "y"}]}) == "eu-west-1-physical-Bucket-y"
    )


def test_conditions_and_if_follow_the_parameters() -> None:
    prod, dev = _resolver(Profile="prod", Shield="true"), _resolver(Shield="true")
    assert prod.condition("IsProd") and prod.condition("ProdWithShield") and not prod.condition("NotProd")
    assert not dev.condition("IsProd") and dev.condition("NotProd") and not dev.condition("ProdWithShield")
    assert prod.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "big"
    assert dev.resolve({"Fn::If": ["IsProd", "big", "small"]}) == "small"


def test_a_condition_on_what_cannot_be_resolved_holds() -> None:
    """A comparison with an unknown value is taken as true: the check runs rather than being skipped."""
    assert _resolver().condition("OnAttribute")
    assert _resolver().condition("NoSuchCondition")


def test_no_value_is_dropped_as_cloudformation_drops_it() -> None:
    value = {"Items": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}], "Gone": {"Ref": "AWS::NoValue"}}
    assert _resolver().resolve(value) == {"Items": ["a"]}


def test_an_unknown_function_is_kept_and_a_missing_mapping_entry_is_named() -> None:
    assert _resolver().resolve({"Fn::ImportValue": {"Ref": "Profile"}}) == {"Fn::ImportValue": "dev"}
    with pytest.raises(LookupError, match="Fn::FindInMap Knobs/test/Memory: the template has no such entry"):
        _resolver(Profile="test").resolve({"Fn::FindInMap": ["Knobs", {"Ref": "Profile"}, "Memory"]})


def test_one_condition_walk_serves_the_permissive_resolver_and_the_strict_test_instance() -> None:
    """The product's resolver takes what it cannot know as holding; the tests' Instance refuses it."""
    unknown = {"Fn::Contains": [["a"], "a"]}
    values = {"Profile": "prod"}

    def resolve(node: Any) -> Any:
        return values.get(node["Ref"], node) if isinstance(node, dict) and "Ref" in node else node

    both = {"Fn::Or": [{"Fn::Not": [{"Fn::Equals": [{"Ref": "Profile"}, "dev"]}]}, unknown]}
    assert condition_holds(both, resolve=resolve, condition=bool, equals=operator.eq, other=lambda n: n is not False)

    template = {**TEMPLATE, "Conditions": {**TEMPLATE["Conditions"], "Odd": unknown}}
    assert _Named(template, pseudo={}, parameters={}).condition("Odd") is True
    strict = Instance(template, parameters={"Profile": "prod", "Shield": "true"})
    assert strict.condition("ProdWithShield") is True and strict.condition("NotProd") is False
    with pytest.raises(ValueError, match=r"unsupported condition expression .*Fn::Contains"):
        strict.condition("Odd")
