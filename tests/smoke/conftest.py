"""Post-deploy smoke suite of one stage: boto3 + pytest, one code base for AWS and the local emulator.

Run it with `scripts/smoke --stage <env>` (the pipeline's smoke step and the rehearsal) or
`scripts/smoke --stack-name <name>` (the catalog launch helper). Options:
  --stage NAME           environment the stack must be (checked against its Environment output)
  --stack-name NAME      the stack to check (else STACK_NAME, else found from the output variables)
  --smoke-html PATH      the readable report; --smoke-summary PATH: the same as JSON
  --processing-timeout S how long the event processor may take to mark a payment processed (default 90)

Against the emulator the rehearsal sets SMOKE_NOT_EMULATED_FILE: a check whose subject the emulator did
not create is skipped as 'not emulated: <type> <name> (...)'. Without that file nothing is ever skipped.
Smoke data: merchant `smoke-<run id>`, metadata `{"purpose": "smoke-test", "smoke_run": <run id>}`;
the suite deletes what it created (payment items, idempotency records, audit objects) at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config

from product.contract import RUN_ID_VARIABLE, STAGE_VARIABLE, Output
from tests.smoke.api_client import ApiClient
from tests.smoke.report import SmokeReport
from tests.smoke.target import Target, TargetError, resolve_target, session_from_environment

_TARGET = pytest.StashKey[Any]()
_SESSION = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smoke", "post-deploy smoke suite")
    group.addoption(
        "--stage", default=os.environ.get(STAGE_VARIABLE), help="environment of the stack (dev, staging...)"
    )
    group.addoption("--stack-name", default=None, help="CloudFormation stack to check (default: STACK_NAME)")
    group.addoption("--smoke-html", default=None, type=Path, help="write the HTML report here")
    group.addoption("--smoke-summary", default=None, type=Path, help="write the JSON summary here")
    group.addoption("--processing-timeout", default=90.0, type=float, help="seconds to wait for 'processed'")


def _run_id() -> str:
    return os.environ.get(RUN_ID_VARIABLE) or (
        dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smoke: post-deploy checks against a deployed stage (tests/smoke)")
    config.stash[_SESSION] = None
    config.stash[_TARGET] = None
    config.smoke_run_id = _run_id()  # type: ignore[attr-defined]  # one run id per session, on the config
    html_path, summary_path = config.getoption("--smoke-html"), config.getoption("--smoke-summary")
    if html_path or summary_path:
        config.pluginmanager.register(
            SmokeReport(html_path, summary_path, lambda: report_context(config)), "smoke-report"
        )


def aws_session(config: pytest.Config) -> Any:
    if config.stash[_SESSION] is None:
        config.stash[_SESSION] = session_from_environment()
    return config.stash[_SESSION]


def target_of(config: pytest.Config) -> Target:
    """The target stack, resolved once; a usage problem ends the run (exit 4) with the reason."""
    if config.stash[_TARGET] is None:
        try:
            config.stash[_TARGET] = resolve_target(
                aws_session(config),
                stack_name=config.getoption("--stack-name"),
                stage=config.getoption("--stage"),
                environ=os.environ,
            )
        except TargetError as error:
            config.stash[_TARGET] = error
    resolved = config.stash[_TARGET]
    if isinstance(resolved, Exception):
        pytest.exit(f"smoke: {resolved}", returncode=pytest.ExitCode.USAGE_ERROR)
    return resolved


def report_context(config: pytest.Config) -> dict[str, Any]:
    resolved = config.stash.get(_TARGET, None)
    context: dict[str, Any] = {"run_id": config.smoke_run_id, "stage": config.getoption("--stage")}  # type: ignore[attr-defined]  # set in pytest_configure
    if isinstance(resolved, Exception):
        context["target_error"] = str(resolved)
    elif resolved is not None:
        context.update(
            stage=resolved.stage,
            stack_name=resolved.stack_name,
            account=resolved.account,
            region=resolved.region,
            endpoint=resolved.endpoint or "AWS (default endpoints)",
            api_url=resolved.outputs.get(Output.API_URL),
            not_emulated=resolved.not_emulated.document,
        )
    return context


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.smoke)


# --- fixtures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Target:
    return target_of(pytestconfig)


@pytest.fixture(scope="session")
def aws(pytestconfig: pytest.Config, target: Target) -> Callable[..., Any]:
    """`aws("dynamodb")`: a client in the target's region (created once per service). `max_attempts=2`
    for a call an emulator may not implement (it answers 500, which botocore would retry with backoff)."""
    session = aws_session(pytestconfig)
    clients: dict[tuple[str, int | None], Any] = {}

    def client(service: str, *, max_attempts: int | None = None) -> Any:
        if (service, max_attempts) not in clients:
            config = Config(retries={"mode": "standard", "max_attempts": max_attempts}) if max_attempts else None
            clients[service, max_attempts] = session.client(service, region_name=target.region, config=config)
        return clients[service, max_attempts]

    return client


@pytest.fixture(scope="session")
def run_id(pytestconfig: pytest.Config) -> str:
    return pytestconfig.smoke_run_id  # type: ignore[attr-defined]  # set in pytest_configure


@pytest.fixture(scope="session")
def api(pytestconfig: pytest.Config, target: Target) -> ApiClient:
    url = target.outputs.get(Output.API_URL)
    if not url:
        pytest.fail("the stage has no ApiUrl output (nor API_URL variable)")
    return ApiClient(url, aws_session(pytestconfig), target.region)


@pytest.fixture
def subject(request: pytest.FixtureRequest, target: Target) -> Callable[..., str]:
    """`subject(logical_id, name)`: record the resource a check looks at; skip as 'not emulated' when the
    emulator did not create it. Returns the resource's physical id."""

    def declare(logical_id: str, name: str | None = None) -> str:
        resource_type = target.resources.get(logical_id, {}).get("Type", "?")
        physical = target.physical_ids.get(logical_id, "")
        skipped = target.not_emulated.skipped.get(logical_id)
        label = name or (skipped.name if skipped else None) or physical or logical_id
        request.node.user_properties.append(("resource", f"{resource_type} {label}"))
        if skipped is not None:
            pytest.skip(f"not emulated: {resource_type} {label} ({skipped.reason})")
        return physical

    return declare


@pytest.fixture
def note(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`note("...")`: add a line to the check's 'resource' column (kept in the JUnit properties too)."""

    def add(text: str) -> None:
        request.node.user_properties.append(("resource", text))

    return add


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over what the deployed template holds (outputs, alarms, topics, log groups...)."""
    source = getattr(metafunc.function, "smoke_params", None)
    if source is None:
        return
    argname, build = source
    target = target_of(metafunc.config)
    values = build(target)
    metafunc.parametrize(argname, [v for v, _ in values], ids=[i for _, i in values])
