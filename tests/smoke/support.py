"""Helpers shared by the smoke checks (no pytest fixtures here: see conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from tests.smoke.target import Target

T = TypeVar("T")


class SmokeWarning(UserWarning):
    """Something to act on that does not fail the stage (e.g. a cost-allocation tag not active yet).

    The HTML report and summary.json show it on the check; pytest lists it in its warnings summary."""


def params_from_target(argname: str, build: Callable[[Target], list[tuple[Any, str]]]) -> Callable[[T], T]:
    """Parametrize a check with `build(target)` -> [(value, id)], from the deployed template at collection."""

    def decorate(function: T) -> T:
        function.smoke_params = (argname, build)  # type: ignore[attr-defined]  # read back by conftest at collection
        return function

    return decorate


def eventually(
    probe: Callable[[], T], done: Callable[[T], bool], *, timeout_s: float, interval_s: float = 0.5
) -> tuple[T, float]:
    """Call `probe` until `done(result)` or the timeout; returns the last result and the seconds waited."""
    started = time.monotonic()
    while True:
        result = probe()
        waited = time.monotonic() - started
        if done(result) or waited >= timeout_s:
            return result, waited
        time.sleep(min(interval_s, max(0.0, timeout_s - waited)))


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
