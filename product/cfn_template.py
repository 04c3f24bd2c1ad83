"""CloudFormation's intrinsic functions and conditions, resolved in Python for one stack's template.

CDK-free (the smoke suite imports it in a build with only its own pins). One resolver serves the smoke
suite, which resolves a deployed stack's template with that stack's parameters and physical ids, and the
rehearsal's planner, which resolves the pipeline template before anything is deployed. They differ only in
what a resource's Ref and Fn::GetAtt give and in what an expression they cannot resolve becomes: subclasses
say that (`_resource_ref`, `_get_att`, `_unresolved_function`, `_missing`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def condition_holds(
    node: Any,
    *,
    resolve: Callable[[Any], Any],
    condition: Callable[[str], bool],
    equals: Callable[[Any, Any], bool],
    other: Callable[[Any], bool],
) -> bool:
    """A condition expression (Condition, Fn::Equals, Fn::Not, Fn::And, Fn::Or) evaluated with the caller's
    `resolve` for the operands of Fn::Equals, `equals` to compare them, `condition` for a named condition and
    `other` for any other node: what a caller cannot resolve is its own policy, the walk is the same."""

    def holds(item: Any) -> bool:
        if isinstance(item, dict) and len(item) == 1:
            ((function, argument),) = item.items()
            if function == "Condition":
                return condition(argument)
            if function == "Fn::Equals":
                left, right = (resolve(side) for side in argument)
                return equals(left, right)
            if function == "Fn::Not":
                return not holds(argument[0])
            if function == "Fn::And":
                return all(holds(part) for part in argument)
            if function == "Fn::Or":
                return any(holds(part) for part in argument)
        return other(item)

    return holds(node)


def _equal_or_unknown(left: Any, right: Any) -> bool:
    """A comparison with a value left symbolic (a dict) holds: its subject is checked, not skipped."""
    return True if isinstance(left, dict) or isinstance(right, dict) else bool(left == right)


def _not_false(node: Any) -> bool:
    return node is not False


class TemplateResolver:
    """Resolves Ref, Fn::GetAtt, Join, Sub, Select, Split, FindInMap, If and the template's conditions.

    As CloudFormation does, a list item or a property that resolves to AWS::NoValue (None) is dropped."""

    def __init__(
        self, template: Mapping[str, Any], *, pseudo: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> None:
        self.template = template
        self.pseudo = dict(pseudo)  # AWS::Region, AWS::AccountId, ... (AWS::NoValue is always None)
        self.pseudo["AWS::NoValue"] = None
        self.parameters = parameters  # the stack's values; a parameter without one takes its default

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            handler = self._FUNCTIONS.get(function)
            if handler is not None:
                return handler(self, argument)
            if function.startswith("Fn::"):
                return self._unresolved_function(function, value)
        return {key: item for key, item in ((k, self.resolve(v)) for k, v in value.items()) if item is not None}

    def condition(self, name: str) -> bool:
        """Whether a template condition holds. A comparison with a value this resolver cannot know (a
        resource attribute, an unknown function) is taken as true: its subject is checked, not skipped."""
        return self._holds(self.template.get("Conditions", {}).get(name, True))

    # --- what subclasses decide ------------------------------------------------------------------------

    def _resource_ref(self, logical_id: str) -> Any:
        raise NotImplementedError

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        raise NotImplementedError

    def _unresolved_function(self, _function: str, value: dict[str, Any]) -> Any:
        """An intrinsic function not resolved here: kept with its arguments resolved."""
        return {key: self.resolve(item) for key, item in value.items()}

    def _missing(self, message: str) -> Exception:
        return LookupError(message)

    # --- the functions ---------------------------------------------------------------------------------

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {})
        if name in declared:
            return declared[name].get("Default", "")
        return self._resource_ref(name)

    def _fn_get_att(self, argument: Any) -> Any:
        logical_id, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
        return self._get_att(logical_id, attribute)

    def _fn_join(self, argument: Any) -> str:
        separator, items = argument
        return str(separator).join(str(self.resolve(item)) for item in self.resolve(items))

    def _fn_select(self, argument: Any) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _fn_split(self, argument: Any) -> list[str]:
        separator, text = argument
        return str(self.resolve(text)).split(separator)

    def _fn_find_in_map(self, argument: Any) -> Any:
        name, key, attribute = (str(self.resolve(part)) for part in argument[:3])
        try:
            return self.template["Mappings"][name][key][attribute]
        except KeyError:
            raise self._missing(f"Fn::FindInMap {name}/{key}/{attribute}: the template has no such entry") from None

    def _fn_sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return str(self._get_att(logical_id, attribute))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _fn_if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    _FUNCTIONS: ClassVar[dict[str, Callable[[TemplateResolver, Any], Any]]] = {
        "Ref": _ref,
        "Fn::GetAtt": _fn_get_att,
        "Fn::Join": _fn_join,
        "Fn::Select": _fn_select,
        "Fn::Split": _fn_split,
        "Fn::FindInMap": _fn_find_in_map,
        "Fn::Sub": _fn_sub,
        "Fn::If": _fn_if,
    }

    def _holds(self, node: Any) -> bool:
        return condition_holds(
            node, resolve=self.resolve, condition=self.condition, equals=_equal_or_unknown, other=_not_false
        )
