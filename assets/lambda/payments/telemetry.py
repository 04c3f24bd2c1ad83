"""What both payment functions set up the same way: Powertools Logger/Tracer/Metrics and boto3 clients."""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
import botocore.session
from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.config import Config

DEFAULT_METRICS_NAMESPACE = "PaymentPlatform"
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
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


class Clients:
    """boto3 clients from one session, each created on first use and then kept for the process.

    Creating a client loads its service model (S3's alone takes about 100 ms), so a function creates at
    import only what every request needs and the rest when first used. What a client takes from the
    process environment (credentials, region, endpoint overrides) is read once, here, at import: Lambda
    never changes the environment afterwards, and a local host may set it only while the function imports.
    Thread-safe: creating clients from one boto3 session concurrently is not.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._botocore = botocore.session.get_session()
        self._session = boto3.session.Session(botocore_session=self._botocore)
        self._session.get_credentials()  # resolved now; the session keeps them for every client
        self._region = self._session.region_name
        self._endpoints = {name: value for name, value in os.environ.items() if name.startswith(ENDPOINT_VARIABLE)}
        self._clients: dict[str, Any] = {}

    def _endpoint_url(self, service: str) -> str | None:
        """AWS_ENDPOINT_URL_<SERVICE ID>, else AWS_ENDPOINT_URL, as botocore reads them (None: neither)."""
        if not self._endpoints:
            return None
        service_id = self._botocore.get_service_model(service).service_id.replace(" ", "_").upper()
        return self._endpoints.get(f"{ENDPOINT_VARIABLE}_{service_id}") or self._endpoints.get(ENDPOINT_VARIABLE)

    def __call__(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    endpoint_url = self._endpoint_url(service)
                    client = self._clients[service] = self._session.client(
                        service, region_name=self._region, endpoint_url=endpoint_url, config=CLIENT_CONFIG
                    )
        return client
