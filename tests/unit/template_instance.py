"""Instantiate a CloudFormation template offline, as CloudFormation would for given parameters.

Resolves parameters, mappings (`Fn::FindInMap`), conditions (`Fn::If`, resource `Condition`), pseudo
parameters, `Fn::GetAZs`/`Fn::Select` and `Fn::Join` of literal parts; leaves references between resources
(`Ref`, `Fn::GetAtt`) as they are. Scalars are normalised to strings, as CloudFormation passes them.
Used to compare the catalog's product template, launched with a profile, with that profile's stage template;
`comparable` then removes what legitimately differs between two stacks of the same constructs (stack paths in
logical ids, names and tags; hashes of launch-time properties in logical ids).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from product.cfn_template import condition_holds

_DROP = object()  # AWS::NoValue, or an element whose condition is false


@dataclass
class Instance:
    template: Mapping[str, Any]
    parameters: Mapping[str, str] = field(default_factory=dict)
    account: str = "111111111111"
    region: str = "us-east-1"
    availability_zones: tuple[str, ...] = ("us-east-1a", "us-east-1b")

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        self.values = {k: str(v["Default"]) for k, v in declared.items() if "Default" in v}
        self.values.update(self.parameters)
        self.pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._conditions: dict[str, bool] = {}

    # -- conditions ---------------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self._evaluate(self.template["Conditions"][name])
        return self._conditions[name]

    def _evaluate(self, expression: Any) -> bool:
        """Strict, unlike the product's resolver: values compare as resolved, anything else is an error."""
        return condition_holds(
            expression, resolve=self.resolve, condition=self.condition, equals=operator.eq, other=_unsupported
        )

    # -- values -------------------------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _DROP]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            resolved = self._intrinsic(key, argument)
            if resolved is not NotImplemented:
                return resolved
        items = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v is not _DROP}

    def _intrinsic(self, key: str, argument: Any) -> Any:  # noqa: PLR0911 - one branch per function
        if key == "Ref":
            if argument == "AWS::NoValue":
                return _DROP
            if argument in self.pseudo:
                return self.pseudo[argument]
            return self.values.get(argument, {"Ref": argument})
        if key == "Fn::FindInMap":
            name, first, second = (self.resolve(a) for a in argument)
            return self.resolve(self.template["Mappings"][name][first][second])
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::GetAZs":
            return list(self.availability_zones)
        if key == "Fn::Select":
            index, items = self.resolve(argument[0]), self.resolve(argument[1])
            return items[int(index)] if isinstance(items, list) else {"Fn::Select": [index, items]}
        if key == "Fn::Join":
            return _join(self.resolve(argument[0]), self.resolve(argument[1]))
        return NotImplemented

    def resources(self) -> dict[str, dict[str, Any]]:
        """Resources whose condition holds, with resolved properties (conditions removed)."""
        found = {}
        for logical_id, resource in self.template.get("Resources", {}).items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue
            found[logical_id] = {"Type": resource["Type"], "Properties": self.resolve(resource.get("Properties", {}))}
        return found

    def outputs(self) -> dict[str, Any]:
        return {
            key: self.resolve(output["Value"])
            for key, output in self.template.get("Outputs", {}).items()
            if "Condition" not in output or self.condition(output["Condition"])
        }


def _unsupported(node: Any) -> bool:
    raise ValueError(f"unsupported condition expression {node!r}")


def _join(separator: str, parts: Any) -> Any:
    if not isinstance(parts, list):
        return {"Fn::Join": [separator, parts]}
    merged: list[Any] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = f"{merged[-1]}{separator}{part}"
        else:
            merged.append(part)
    if all(isinstance(p, str) for p in merged):
        return separator.join(merged)
    return {"Fn::Join": [separator, merged]}


# -- comparing two stacks built from the same construct tree --------------------------------------------
# Logical ids that embed a hash of the stack path or of the resource's own (launch-time) properties.
_STACK_PATH_IN_ID = re.compile(
    r"(?:Publish)?(?:PaymentPipelinecatalog)?PaymentCatalogPaymentProduct|PaymentPipeline[a-z]+PaymentStack|OptIns"
)
_LONG_HASH = re.compile(r"[0-9a-f]{32,40}$")
_SHORT_HASH = re.compile(r"[0-9A-F]{8,}")
_PATH_PREFIX = re.compile(
    r"^(Publish/)?((PaymentPipeline/catalog/)?PaymentCatalog/PaymentProduct|PaymentPipeline/[a-z]+/PaymentStack|OptIns)/"
)


def _canonical_id(logical_id: str) -> str:
    logical_id = _LONG_HASH.sub("", _STACK_PATH_IN_ID.sub("", logical_id))
    return _SHORT_HASH.sub(lambda m: "" if any(c.isdigit() for c in m.group()) else m.group(), logical_id)


def _comparable_text(text: str) -> str:
    """Construct paths (Name tags) and ids derived from them (CloudFront origin ids) without the stack's path."""
    if _PATH_PREFIX.match(text):
        return _PATH_PREFIX.sub("<stack>/", text)
    return _canonical_id(text) if _STACK_PATH_IN_ID.match(text) else text


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """References and construct-path strings made comparable between two stacks."""
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, str):
        return _comparable_text(value)
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in names:
        return {"Ref": names[value["Ref"]]}
    if set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in names:
        return {"Fn::GetAtt": [names[value["Fn::GetAtt"][0]], *value["Fn::GetAtt"][1:]]}
    return {k: _renamed(v, names) for k, v in value.items()}


def comparable(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    resources = {k: v for k, v in resources.items() if v["Type"] != "AWS::CDK::Metadata"}
    names = {logical_id: _canonical_id(logical_id) for logical_id in resources}
    for logical_id, resource in resources.items():  # e-mail subscriptions are named after their endpoint
        if resource["Type"] == "AWS::SNS::Subscription":
            names[logical_id] = f"SubscriptionOf{_canonical_id(resource['Properties']['TopicArn']['Ref'])}"
    assert len(set(names.values())) == len(names), "canonical logical ids must stay unique"
    return {names[k]: _renamed(v, names) for k, v in resources.items()}
