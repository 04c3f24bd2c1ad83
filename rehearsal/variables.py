"""CodePipeline's action variables: `#{Namespace.Variable}` resolved as CodePipeline resolves them.

An action with a `Namespace` publishes its variables (a source action its commit, a CloudFormation action
the stack's outputs, a CodeBuild action its buildspec's `exported-variables`) once it has succeeded;
later actions read them in any configuration string. `#{codepipeline.PipelineExecutionId}` and, in V2
pipelines, `#{variables.NAME}` are the pipeline's own. A reference that does not resolve fails the action
that holds it, as CodePipeline does, naming the action, the field and what is available.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

REFERENCE = re.compile(r"#\{([^}.]+)\.([^}]+)\}")
PIPELINE_NAMESPACE = "codepipeline"
PIPELINE_VARIABLES_NAMESPACE = "variables"


class UnresolvedVariableError(ValueError):
    """A `#{Namespace.Variable}` reference of an action's configuration does not resolve."""


def references(text: str) -> Iterator[tuple[str, str]]:
    for match in REFERENCE.finditer(text):
        yield match.group(1), match.group(2)


class Variables:
    """The namespaces published so far in one pipeline execution."""

    def __init__(self, *, execution_id: str, pipeline_variables: dict[str, str] | None = None) -> None:
        self.namespaces: dict[str, dict[str, str]] = {PIPELINE_NAMESPACE: {"PipelineExecutionId": execution_id}}
        if pipeline_variables:
            self.namespaces[PIPELINE_VARIABLES_NAMESPACE] = dict(pipeline_variables)

    def publish(self, namespace: str | None, values: dict[str, str]) -> None:
        if namespace:
            self.namespaces[namespace] = dict(values)

    def resolve(self, value: Any, *, action: str, field: str) -> Any:
        """`value` with every reference replaced (strings inside dicts and lists too)."""
        if isinstance(value, dict):
            return {k: self.resolve(v, action=action, field=f"{field}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, action=action, field=f"{field}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value
        return REFERENCE.sub(lambda m: self._lookup(m, action=action, field=field), value)

    def _lookup(self, match: re.Match[str], *, action: str, field: str) -> str:
        namespace, name = match.group(1), match.group(2)
        published = self.namespaces.get(namespace)
        if published is None:
            available = ", ".join(sorted(self.namespaces)) or "none"
            raise UnresolvedVariableError(
                f"action {action}: {field} refers to {match.group(0)}, but no earlier action published namespace "
                f"{namespace!r} (published so far: {available}); give the producing action that Namespace, or fix "
                "the reference"
            )
        if name not in published:
            names = ", ".join(sorted(published)) or "none"
            raise UnresolvedVariableError(
                f"action {action}: {field} refers to {match.group(0)}, but namespace {namespace!r} has no variable "
                f"{name!r} (it has: {names})"
            )
        return published[name]
