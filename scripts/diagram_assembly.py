"""Template utilities for the diagram generator: references between resources, readable values, the model's text.

Shared by `scripts/diagram_model.py` (the product picture) and `scripts/diagram_delivery.py` (the delivery
flow); nothing here needs Graphviz. The assembly itself is read by `rehearsal.assembly`, as everywhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

Template = Mapping[str, Any]
Model = dict[str, Any]


# ---------------------------------------------------------------------------------------- template utils


def references(value: Any, resources: Mapping[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[tuple, str]]:
    """(property path, logical id) of every Ref / Fn::GetAtt / Fn::Sub reference to a resource in `value`."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "Ref" and isinstance(inner, str) and inner in resources:
                yield path, inner
                return
            if key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".", 1)[0]
                if target in resources:
                    yield path, target
                return
            if key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                for match in re.finditer(r"\$\{([^}.!]+)", str(text)):
                    if match.group(1) in resources:
                        yield path, match.group(1)
                if isinstance(inner, list) and len(inner) > 1:
                    yield from references(inner[1], resources, path)
                return
        for key in sorted(value):
            yield from references(value[key], resources, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from references(item, resources, path)


def render(value: Any) -> str:
    """A readable form of a (possibly intrinsic) template value: pseudo parameters become `<account>` etc."""
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "Ref":
            return {
                "AWS::AccountId": "<account>",
                "AWS::Region": "<region>",
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }.get(inner, f"<{inner}>")
        if key == "Fn::Join":
            separator, parts = inner
            return separator.join(render(part) for part in parts)
        if key == "Fn::GetAtt":
            return f"<{inner[0] if isinstance(inner, list) else inner}>"
        if key == "Fn::Sub":
            text = inner[0] if isinstance(inner, list) else inner
            return re.sub(r"\$\{AWS::(\w+)\}", lambda m: f"<{m.group(1).lower()}>", str(text))
    return "<token>"


def to_text(model: Model) -> str:
    """The committed, deterministic text form of a model."""
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
