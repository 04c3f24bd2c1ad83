"""Environment configuration shared by the payment Lambda functions.

Variables are read once, at module import. A missing variable does not break the import (so the module
can always be loaded and the failure reported properly); it is raised as a :class:`ConfigurationError`
naming the variable(s) when a handler calls :meth:`RuntimeConfig.require`.

`ENVIRONMENT` is the name of the profile the product was built from; which names exist is the product's
knowledge (`product/profiles.py`), checked at synth for every function, so the functions keep no copy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

API_VARIABLES = ("PAYMENTS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "AUDIT_BUCKET_NAME", "EVENT_BUS_NAME", "ENVIRONMENT")
PROCESSOR_VARIABLES = ("PAYMENTS_TABLE_NAME", "ENVIRONMENT")


class ConfigurationError(RuntimeError):
    """The function is deployed without a required environment variable."""


class RuntimeConfig:
    """A snapshot of the required environment variables, taken at import time."""

    def __init__(self, names: tuple[str, ...], environ: Mapping[str, str] | None = None) -> None:
        source = os.environ if environ is None else environ
        self._values = {name: source.get(name, "").strip() for name in names}
        missing = [name for name, value in self._values.items() if not value]
        self.error = ("missing required environment variable(s): " + ", ".join(missing)) if missing else None

    def require(self) -> None:
        """Raise :class:`ConfigurationError` if any variable was missing at import."""
        if self.error:
            raise ConfigurationError(self.error)

    def get(self, name: str) -> str:
        """The value read at import ("" when it was missing)."""
        return self._values[name]
