"""The one error for configuration that cannot be deployed (CDK-free): raised by the product, the delivery
pipeline and the app, caught once in `pipeline_app.py`. Its message says what is wrong and how to fix it."""

from __future__ import annotations


class ConfigurationError(ValueError):
    """A knob, option, setting or environment name that cannot be deployed; the message says how to fix it."""


class UnknownEnvironmentError(ConfigurationError, KeyError):
    """An environment name that has no profile."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])
