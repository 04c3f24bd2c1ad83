"""Checks the app relies on at synth, as exceptions: `cdk synth` runs it under `python -O` (cdk.json), which
strips `assert` statements, so an assert in code the app imports would check nothing where it matters.

`what` names the value in the error, and `of` the construct it belongs to: that construct's path is read (a
jsii round trip) only when the check fails.
"""

from __future__ import annotations

from typing import TypeVar

from constructs import IConstruct

_T = TypeVar("_T")


def _described(what: str, of: IConstruct | None) -> str:
    return what if of is None else f"{what} of {of.node.path}"


def narrowed(value: object, kind: type[_T], what: str, *, of: IConstruct | None = None) -> _T:
    """`value`, which must be a `kind`; a TypeError naming `what` (of the construct `of`) otherwise."""
    if not isinstance(value, kind):
        raise TypeError(f"{_described(what, of)} is {type(value).__name__}, not {kind.__name__}")
    return value


def l1_of(construct: IConstruct, kind: type[_T]) -> _T:
    """The CloudFormation element an L2 construct wraps (its default child), which must be a `kind`."""
    return narrowed(construct.node.default_child, kind, "the default child", of=construct)


def present(value: _T | None, what: str, *, of: IConstruct | None = None) -> _T:
    """`value`, which must not be None; a ValueError naming `what` (of the construct `of`) otherwise."""
    if value is None:
        raise ValueError(f"{_described(what, of)} is missing")
    return value
