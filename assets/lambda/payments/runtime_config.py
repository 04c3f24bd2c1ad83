"""Environment configuration shared by the payment Lambda functions.

Variables are read once, at module import. A missing or invalid variable does not break the import
(so the module can always be loaded and the failure reported properly); it is raised as a
:class:`ConfigurationError` naming the variable(s) when a handler calls :meth:`RuntimeConfig.require`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ENVIRONMENTS = ("dev", "staging", "prod")

API_VARIABLES = ("PAYMENTS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "AUDIT_BUCKET_NAME", "EVENT_BUS_NAME", "ENVIRONMENT")
PROCESSOR_VARIABLES = ("PAYMENTS_TABLE_NAME", "ENVIRONMENT")


class ConfigurationError(RuntimeError):
    """The function is deployed without a required environment variable (or with an invalid one)."""


class RuntimeConfig:
    """A snapshot of the required environment variables, taken at import time."""

    def __init__(self, names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> None:
        source = os.environ if environ is None else environ
        self._values = {name: source.get(name, "").strip() for name in names}
        missing = [name for name, value in self._values.items() if not value]
        problems = []
        if missing:
            problems.append("missing required environment variable(s): " + ", ".join(missing))
        environment = self._values.get("ENVIRONMENT")
        if environment and environment not in ENVIRONMENTS:
            allowed = ", ".join(ENVIRONMENTS)
            problems.append(f"environment variable ENVIRONMENT must be one of {allowed}, got {environment!r}")
        self.error = "; ".join(problems) or None

    def require(self) -> None:
        """Raise :class:`ConfigurationError` if any variable was missing or invalid at import."""
        if self.error:
            raise ConfigurationError(self.error)

    def get(self, name: str) -> str:
        """The value read at import ("" when it was missing)."""
        return self._values[name]
