"""Guards that keep the rehearsal away from real AWS: loopback endpoints and dummy credentials only.

The rehearsal refuses to start when the caller's environment carries anything that could make a
client reach AWS with real credentials (access keys, a profile, web-identity or container credentials)
or point at a non-loopback endpoint. Child processes (the CDK CLI, the smoke suite) get an environment
built from scratch for the emulator, with the shared config and credentials files switched off.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from urllib.parse import urlparse

DUMMY_ACCESS_KEY_ID = "rehearsal"
DUMMY_SECRET_ACCESS_KEY = "rehearsal-secret"
# Variables through which an AWS SDK (Python or JavaScript) can pick up real credentials.
CREDENTIAL_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)
# Removed from every child environment, whatever their value.
STRIPPED_PREFIXES = ("AWS_", "CDK_DEFAULT_", "MOTO_")
_SESSION_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
DUMMY_VALUES = {
    "AWS_ACCESS_KEY_ID": {DUMMY_ACCESS_KEY_ID, "testing"},
    "AWS_SECRET_ACCESS_KEY": {DUMMY_SECRET_ACCESS_KEY, "testing"},
    "AWS_SESSION_TOKEN": {"testing"},
    "AWS_SECURITY_TOKEN": {"testing"},
}


class UnsafeEnvironmentError(RuntimeError):
    """The rehearsal would risk using real AWS credentials or a non-loopback endpoint."""


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_caller_environment(environ: Mapping[str, str], *, emulator_access_key_id: str | None = None) -> None:
    """Raise UnsafeEnvironmentError naming every variable that makes the run unsafe.

    `emulator_access_key_id`: a session the emulator issued itself (a build's service role); its key, secret
    and token are allowed when every AWS endpoint is loopback, since they are valid nowhere else."""
    problems = []
    issued = (
        emulator_access_key_id is not None
        and environ.get("AWS_ACCESS_KEY_ID") == emulator_access_key_id
        and is_loopback_url(environ.get("AWS_ENDPOINT_URL", ""))
    )
    for name in CREDENTIAL_VARIABLES:
        value = environ.get(name)
        if issued and name in _SESSION_VARIABLES:
            continue
        if value and value not in DUMMY_VALUES.get(name, set()):
            problems.append(f"{name} is set")
    for name, value in environ.items():
        if name.startswith("AWS_ENDPOINT_URL") and value and not is_loopback_url(value):
            problems.append(f"{name}={value} is not a loopback endpoint")
    if problems:
        unset = " ".join(f"-u {p.split(' ', 1)[0].split('=', 1)[0]}" for p in problems)
        raise UnsafeEnvironmentError(
            "refusing to rehearse: " + "; ".join(problems) + ". The rehearsal runs on an embedded emulator "
            "with dummy credentials and must never be able to reach AWS with real ones. Run it from a shell "
            f"without them, e.g. `env {unset} make run`."
        )


def emulator_environment(base: Mapping[str, str], *, endpoint: str, account: str, region: str) -> dict[str, str]:
    """`base` without any AWS/CDK credentials or endpoints, plus the emulator's endpoint and dummy identity."""
    if not is_loopback_url(endpoint):
        raise UnsafeEnvironmentError(f"emulator endpoint {endpoint} is not a loopback address")
    port = urlparse(endpoint).port
    env = {k: v for k, v in base.items() if not k.startswith(STRIPPED_PREFIXES)}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            # Without it moto reads the host `127` of 127.0.0.1 as a bucket name when CloudFormation fetches
            # a template from S3 (the CDK CLI uploads templates there).
            "AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION": f"http://localhost:{port}",
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "CDK_DEFAULT_ACCOUNT": account,
            "CDK_DEFAULT_REGION": region,
            # The CDK CLI (2.1100+) otherwise posts usage events to cdk-cli-telemetry.us-east-1.api.aws from a
            # detached process: an AWS endpoint the loopback ones above do not cover (seen from the Assets build).
            "CDK_DISABLE_CLI_TELEMETRY": "true",
        }
    )
    return env
