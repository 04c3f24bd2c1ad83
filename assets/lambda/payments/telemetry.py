"""What both payment functions set up the same way: Powertools Logger/Tracer/Metrics and boto3 clients."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config

DEFAULT_METRICS_NAMESPACE = "PaymentPlatform"
# Fail fast enough to answer within the function's timeout; standard retries for throttling.
CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def observability(default_service: str, environment: str) -> tuple[Logger, Tracer, Metrics]:
    """Logger, Tracer (patching boto3) and Metrics for the function's service, tagged with its environment."""
    service = os.environ.get("POWERTOOLS_SERVICE_NAME") or default_service
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
    metrics = Metrics(service=service, namespace=namespace)
    if environment:
        metrics.set_default_dimensions(environment=environment)
    return Logger(service=service), Tracer(service=service, patch_modules=("boto3",)), metrics


def clients(*services: str) -> tuple[Any, ...]:
    """One boto3 client per service from one session, created once at import by the caller."""
    session = boto3.session.Session()
    return tuple(session.client(service, config=CLIENT_CONFIG) for service in services)
