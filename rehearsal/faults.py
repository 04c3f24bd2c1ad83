"""Faults injected into served functions, to prove that a broken stage stops the run (`--fault`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FAULTS_ENV = "REHEARSAL_FAULTS"


def _http_500(_event: Any) -> dict[str, Any]:
    body = '{"error":{"code":"internal_error","message":"fault injected by the rehearsal","field":null}}'
    return {"statusCode": 500, "headers": {"Content-Type": "application/json"}, "body": body}


def _function_error(_event: Any) -> Any:
    raise RuntimeError("fault injected by the rehearsal")


FAULTS: dict[str, Callable[[Any], Any]] = {"http-500": _http_500, "error": _function_error}


def parse_faults(specs: list[str]) -> dict[str, Callable[[Any], Any]]:
    """["payment-api-staging=http-500", ...] -> {function name: fault}."""
    faults = {}
    for spec in specs:
        name, _, kind = spec.partition("=")
        if kind not in FAULTS or not name:
            raise ValueError(f"fault {spec!r}: use FUNCTION=KIND with KIND one of {', '.join(FAULTS)}")
        faults[name] = FAULTS[kind]
    return faults
