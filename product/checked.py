"""Checks the app relies on at synth, as exceptions: `cdk synth` runs it under `python -O` (cdk.json), which
strips `assert` statements, so an assert in code the app imports would check nothing where it matters."""

from __future__ import annotations

from typing import TypeVar

from constructs import IConstruct

_T = TypeVar("_T")


def narrowed(value: object, kind: type[_T], what: str) -> _T:
    """`value`, which must be a `kind`; a TypeError naming `what` otherwise."""
    if not isinstance(value, kind):
        raise TypeError(f"{what} is {type(value).__name__}, not {kind.__name__}")
    return value


def l1_of(construct: IConstruct, kind: type[_T]) -> _T:
    """The CloudFormation element an L2 construct wraps (its default child), which must be a `kind`."""
    return narrowed(construct.node.default_child, kind, f"the default child of {construct.node.path}")


def present(value: _T | None, what: str) -> _T:
    """`value`, which must not be None; a ValueError naming `what` otherwise."""
    if value is None:
        raise ValueError(f"{what} is missing")
    return value
