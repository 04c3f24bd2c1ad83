"""The launch helper (product/catalog/launch.py), offline: moto for the look-ups it supports, Stubber for the rest."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from product.catalog import launch
from product.catalog.launch import LaunchError, LaunchRequest, Progress
from product.catalog.parameters import COST_MONITOR, GUARDDUTY, NAME_SUFFIX, PROFILE, SHIELD

REGION = "us-east-1"
STACK_ARN = "arn:aws:cloudformation:us-east-1:111111111111:stack/SC-111111111111-pp-abc123/1f2e3d4c"
DECLARED = [
    {
        "ParameterKey": PROFILE,
        "DefaultValue": "dev",
        "Description": "profile",
        "ParameterConstraints": {"AllowedValues": ["dev", "staging", "prod"]},
    },
    {
        "ParameterKey": NAME_SUFFIX,
        "Description": "suffix of every physical name",
        "ParameterConstraints": {
            "AllowedPattern": "^[a-z][a-z0-9-]{1,19}$",
            "ConstraintDescription": "a lower-case letter, then 1-19 lower-case letters",
        },
    },
    *(
        {
            "ParameterKey": o.parameter,
            "DefaultValue": "false",
            "ParameterConstraints": {"AllowedValues": ["false", "true"]},
        }
        for o in (GUARDDUTY, SHIELD, COST_MONITOR)
    ),
]


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", REGION),
    ):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


class Clock:
    """A clock that advances only when the helper sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def out() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    sc = boto3.client("servicecatalog", region_name=REGION)
    cfn = boto3.client("cloudformation", region_name=REGION)
    with Stubber(sc) as sc_stub, Stubber(cfn) as cfn_stub:
        yield sc, sc_stub, cfn, cfn_stub
        sc_stub.assert_no_pending_responses()
        cfn_stub.assert_no_pending_responses()


# -- look-ups against moto -----------------------------------------------------------------------------
@mock_aws
def test_find_product_by_name() -> None:
    sc = boto3.client("servicecatalog", region_name=REGION)
    created = sc.create_product(
        Name="Payment Processing",
        Owner="Payment Platform Team",
        ProductType="CLOUD_FORMATION_TEMPLATE",
        ProvisioningArtifactParameters={
            "Name": "v1",
            "Info": {"LoadTemplateFromURL": "https://example.com/t.json"},
            "Type": "CLOUD_FORMATION_TEMPLATE",
        },
        IdempotencyToken="t1",
    )
    product_id = created["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    product = launch.find_product(sc, "Payment Processing")
    assert product["ProductViewSummary"]["ProductId"] == product_id
    # moto lists no provisioning artifacts in DescribeProduct: the "unknown version" path
    with pytest.raises(LaunchError, match=r"no launchable version 'v1'; versions: none"):
        launch.find_version(product, "v1")


def test_find_product_by_id(stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    """Service Catalog ids start with prod- (moto's do not, hence a stub)."""
    sc, stub, _, _ = stubbed
    stub.add_response(
        "describe_product", {"ProductViewSummary": {"ProductId": "prod-abc", "Name": "Payments"}}, {"Id": "prod-abc"}
    )
    assert launch.find_product(sc, "prod-abc")["ProductViewSummary"]["Name"] == "Payments"


@mock_aws
def test_unknown_product_is_a_clear_input_error() -> None:
    sc = boto3.client("servicecatalog", region_name=REGION)
    with pytest.raises(LaunchError, match=r"no product 'Payments' is visible .* portfolio's principals") as error:
        launch.find_product(sc, "Payments")
    assert error.value.exit_code == launch.EXIT_INPUT


# -- versions, launch paths and parameters (Stubber) -----------------------------------------------------
PRODUCT = {
    "ProductViewSummary": {"ProductId": "prod-1", "Name": "Payment Processing"},
    "ProvisioningArtifacts": [
        {"Id": "pa-1", "Name": "v1", "Guidance": "DEPRECATED"},
        {"Id": "pa-2", "Name": "v2", "Guidance": "DEFAULT"},
    ],
}


def test_version_resolves_to_its_provisioning_artifact() -> None:
    assert launch.find_version(PRODUCT, "v2") == "pa-2"


@pytest.mark.parametrize(
    ("version", "message"),
    [("v3", r"no launchable version 'v3'; versions: v1, v2"), ("v1", r"version 'v1' is deprecated: launch one of v2")],
)
def test_unknown_or_deprecated_versions(version: str, message: str) -> None:
    with pytest.raises(LaunchError, match=message) as error:
        launch.find_version(PRODUCT, version)
    assert error.value.exit_code == launch.EXIT_INPUT


@pytest.mark.parametrize(
    ("paths", "portfolio", "message"),
    [
        ([], None, "your role is not associated with a portfolio"),
        ([{"Id": "port-1", "Name": "A"}, {"Id": "port-2", "Name": "B"}], None, r"several portfolios \(A, B\)"),
        ([{"Id": "port-1", "Name": "A"}], "Payments", r"no launch path through portfolio 'Payments'; yours: A"),
    ],
)
def test_launch_path_problems(
    stubbed: tuple[Any, Stubber, Any, Stubber], paths: list[dict[str, str]], portfolio: str | None, message: str
) -> None:
    sc, stub, _, _ = stubbed
    stub.add_response("list_launch_paths", {"LaunchPathSummaries": paths}, {"ProductId": "prod-1"})
    with pytest.raises(LaunchError, match=message):
        launch.find_launch_path(sc, "prod-1", portfolio)


def test_launch_path_of_the_chosen_portfolio(stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    sc, stub, _, _ = stubbed
    paths = [{"Id": "port-1", "Name": "A"}, {"Id": "port-2", "Name": "B"}]
    stub.add_response("list_launch_paths", {"LaunchPathSummaries": paths}, {"ProductId": "prod-1"})
    assert launch.find_launch_path(sc, "prod-1", "B") == "port-2"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({PROFILE: "qa", NAME_SUFFIX: "team-a"}, r"EnvironmentProfile='qa' is not one of dev, staging, prod"),
        ({NAME_SUFFIX: "Team_A"}, r"NameSuffix='Team_A' is invalid: a lower-case letter"),
        ({PROFILE: "dev"}, r"NameSuffix is required"),
        ({NAME_SUFFIX: "team-a", "Colour": "blue"}, r"unknown parameter 'Colour' .*this version's parameters: "),
    ],
)
def test_parameters_are_checked_against_the_versions_constraints(
    stubbed: tuple[Any, Stubber, Any, Stubber], parameters: dict[str, str], message: str
) -> None:
    sc, stub, _, _ = stubbed
    stub.add_response(
        "describe_provisioning_parameters",
        {"ProvisioningArtifactParameters": DECLARED},
        {"ProductId": "prod-1", "ProvisioningArtifactId": "pa-1", "PathId": "port-1"},
    )
    with pytest.raises(LaunchError, match=message) as error:
        launch.check_parameters(sc, "prod-1", "pa-1", "port-1", parameters)
    assert error.value.exit_code == launch.EXIT_INPUT


# -- provisioning, waiting, failures, termination (Stubber) ---------------------------------------------
def _stub_lookups(stub: Stubber) -> None:
    stub.add_response(
        "describe_product",
        {
            "ProductViewSummary": {"ProductId": "prod-1", "Name": "Payment Processing"},
            "ProvisioningArtifacts": [{"Id": "pa-1", "Name": "v1"}],
        },
        {"Name": "Payment Processing"},
    )
    stub.add_response(
        "list_launch_paths",
        {"LaunchPathSummaries": [{"Id": "port-1", "Name": "Payment Platform"}]},
        {"ProductId": "prod-1"},
    )
    stub.add_response(
        "describe_provisioning_parameters",
        {"ProvisioningArtifactParameters": DECLARED},
        {"ProductId": "prod-1", "ProvisioningArtifactId": "pa-1", "PathId": "port-1"},
    )


def _record(
    status: str, *, outputs: list[dict[str, str]] | None = None, errors: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    detail = {"RecordId": "rec-1", "Status": status, "ProvisionedProductId": "pp-1", "RecordErrors": errors or []}
    return {"RecordDetail": detail, **({"RecordOutputs": outputs} if outputs else {})}


def _event(event_id: str, status: str, logical_id: str, reason: str = "") -> dict[str, Any]:
    event = {
        "EventId": event_id,
        "StackId": STACK_ARN,
        "StackName": "SC-111111111111-pp-abc123",
        "Timestamp": "2026-01-01T00:00:00Z",
        "ResourceStatus": status,
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::DynamoDB::Table",
    }
    return {**event, "ResourceStatusReason": reason} if reason else event


REQUEST = LaunchRequest(
    product="Payment Processing",
    version="v1",
    name="payment-team-a",
    parameters={PROFILE: "prod", NAME_SUFFIX: "team-a"},
    tags={"cost-center": "CC-1001"},
)


def test_provision_waits_shows_progress_and_returns_outputs(
    stubbed: tuple[Any, Stubber, Any, Stubber], clock: Clock, out: io.StringIO
) -> None:
    sc, stub, cfn, cfn_stub = stubbed
    _stub_lookups(stub)
    stub.add_response(
        "provision_product",
        _record("CREATED"),
        {
            "ProductId": "prod-1",
            "ProvisioningArtifactId": "pa-1",
            "PathId": "port-1",
            "ProvisionedProductName": "payment-team-a",
            "ProvisionToken": ANY,
            "ProvisioningParameters": [{"Key": PROFILE, "Value": "prod"}, {"Key": NAME_SUFFIX, "Value": "team-a"}],
            "Tags": [{"Key": "cost-center", "Value": "CC-1001"}],
        },
    )
    stub.add_response("describe_record", _record("IN_PROGRESS"), {"Id": "rec-1"})
    stub.add_response(
        "search_provisioned_products",
        {"ProvisionedProducts": [{"Id": "pp-1", "PhysicalId": STACK_ARN}]},
        {"Filters": {"SearchQuery": ["id:pp-1"]}},
    )
    cfn_stub.add_response(
        "describe_stack_events",
        {"StackEvents": [_event("e1", "CREATE_IN_PROGRESS", "Payments")]},
        {"StackName": STACK_ARN},
    )
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": "https://api.example.com/prod/"},
        {"OutputKey": "Environment", "OutputValue": "prod"},
    ]
    stub.add_response("describe_record", _record("SUCCEEDED", outputs=outputs), {"Id": "rec-1"})
    cfn_stub.add_response(
        "describe_stack_events",
        {"StackEvents": [_event("e2", "CREATE_COMPLETE", "Payments"), _event("e1", "CREATE_IN_PROGRESS", "Payments")]},
        {"StackName": STACK_ARN},
    )
    record = launch.provision(sc, REQUEST, Progress(out, clock=clock), cfn=cfn, sleep=clock.sleep, poll_s=15)
    assert launch.outputs_of(record) == {"ApiUrl": "https://api.example.com/prod/", "Environment": "prod"}
    assert record["StackArn"] == STACK_ARN
    log = out.getvalue()
    assert "record IN_PROGRESS" in log and "record SUCCEEDED" in log and "[   15s]" in log
    assert log.count("CREATE_IN_PROGRESS   Payments") == 1 and "CREATE_COMPLETE" in log


def test_failed_provisioning_explains_itself_with_the_stack_events(
    stubbed: tuple[Any, Stubber, Any, Stubber], clock: Clock, out: io.StringIO
) -> None:
    sc, stub, cfn, cfn_stub = stubbed
    _stub_lookups(stub)
    stub.add_response("provision_product", _record("CREATED"), None)
    failed = _record("FAILED", errors=[{"Code": "ProvisioningFailed", "Description": "stack rolled back"}])
    stub.add_response("describe_record", failed, {"Id": "rec-1"})
    stub.add_response(
        "search_provisioned_products", {"ProvisionedProducts": [{"Id": "pp-1", "PhysicalId": STACK_ARN}]}, None
    )
    events = {
        "StackEvents": [
            _event("e3", "ROLLBACK_COMPLETE", "SC-111111111111-pp-abc123"),
            _event("e2", "CREATE_FAILED", "Payments", 'Resource handler returned message: "Table already exists"'),
            _event("e1", "CREATE_IN_PROGRESS", "Payments"),
        ]
    }
    cfn_stub.add_response("describe_stack_events", events, {"StackName": STACK_ARN})
    cfn_stub.add_response("describe_stack_events", events, {"StackName": STACK_ARN})
    with pytest.raises(LaunchError) as error:
        launch.provision(sc, REQUEST, Progress(out, clock=clock), cfn=cfn, sleep=clock.sleep)
    assert error.value.exit_code == launch.EXIT_FAILED
    message = str(error.value)
    assert "ProvisioningFailed: stack rolled back" in message
    assert (
        'CREATE_FAILED Payments (AWS::DynamoDB::Table): Resource handler returned message: "Table already exists"'
        in (message)
    )
    assert "ROLLBACK_COMPLETE" not in message  # only the events that explain the failure


def test_missing_permission_says_what_was_being_done(
    stubbed: tuple[Any, Stubber, Any, Stubber], out: io.StringIO
) -> None:
    sc, stub, _, _ = stubbed
    _stub_lookups(stub)
    denied = "User is not authorized to perform: servicecatalog:ProvisionProduct"
    stub.add_client_error("provision_product", service_error_code="AccessDeniedException", service_message=denied)
    with pytest.raises(
        LaunchError, match=r"missing permission while provisioning the product \(ProvisionProduct\)"
    ) as e:
        launch.provision(sc, REQUEST, Progress(out))
    assert e.value.exit_code == launch.EXIT_PERMISSION
    assert "catalog.principals" in str(e.value)


def test_waiting_gives_up_after_the_timeout(
    stubbed: tuple[Any, Stubber, Any, Stubber], clock: Clock, out: io.StringIO
) -> None:
    sc, stub, _, _ = stubbed
    for _ in range(3):
        stub.add_response("describe_record", _record("IN_PROGRESS"), {"Id": "rec-1"})
    with pytest.raises(LaunchError, match=r"record rec-1 still IN_PROGRESS after 30 s") as error:
        launch.wait_for_record(sc, "rec-1", Progress(out, clock=clock), timeout_s=30, poll_s=15, sleep=clock.sleep)
    assert error.value.exit_code == launch.EXIT_TIMEOUT


def test_terminate_waits_for_the_record(
    stubbed: tuple[Any, Stubber, Any, Stubber], clock: Clock, out: io.StringIO
) -> None:
    sc, stub, _, _ = stubbed
    stub.add_response(
        "terminate_provisioned_product",
        _record("CREATED"),
        {"ProvisionedProductName": "payment-team-a", "TerminateToken": ANY},
    )
    stub.add_response("describe_record", _record("SUCCEEDED"), {"Id": "rec-1"})
    stub.add_response("search_provisioned_products", {"ProvisionedProducts": []}, None)
    launch.terminate(sc, "payment-team-a", Progress(out, clock=clock), sleep=clock.sleep)
    assert "terminated" in out.getvalue()


def test_terminating_an_unknown_product(stubbed: tuple[Any, Stubber, Any, Stubber], out: io.StringIO) -> None:
    sc, stub, _, _ = stubbed
    stub.add_client_error("terminate_provisioned_product", service_error_code="ResourceNotFoundException")
    with pytest.raises(LaunchError, match="no provisioned product named 'payment-gone'"):
        launch.terminate(sc, "payment-gone", Progress(out))


# -- smoke suite -------------------------------------------------------------------------------------------
def test_smoke_runs_the_suite_against_the_stack(tmp_path: Path, out: io.StringIO) -> None:
    command = tmp_path / "smoke"
    command.write_text("#!/bin/sh\n")
    calls: list[list[str]] = []

    def runner(arguments: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(arguments)
        assert kwargs["env"]["AWS_REGION"] == "eu-west-1"
        return subprocess.CompletedProcess(arguments, 0)

    launch.run_smoke("SC-111111111111-pp-abc123", region="eu-west-1", out=out, command=command, runner=runner)
    assert calls == [[str(command), "--stack-name", "SC-111111111111-pp-abc123"]]


def test_smoke_failure_and_absence_are_clear(tmp_path: Path, out: io.StringIO) -> None:
    with pytest.raises(LaunchError, match=r"smoke suite entry .*missing-smoke not found") as error:
        launch.run_smoke("stack", region=None, out=out, command=tmp_path / "missing-smoke")
    assert error.value.exit_code == launch.EXIT_SMOKE
    command = tmp_path / "smoke"
    command.write_text("#!/bin/sh\nexit 1\n")
    with pytest.raises(LaunchError, match=r"smoke suite failed against stack \(exit 1\)"):
        launch.run_smoke(
            "stack", region=None, out=out, command=command, runner=lambda a, **_: subprocess.CompletedProcess(a, 1)
        )


def test_stack_name_from_its_arn() -> None:
    assert launch.stack_name(STACK_ARN) == "SC-111111111111-pp-abc123"


# -- command line --------------------------------------------------------------------------------------
def test_cli_builds_the_launch_request() -> None:
    args = launch.parser().parse_args(
        [
            "launch",
            "--version",
            "v2",
            "--profile",
            "staging",
            "--suffix",
            "team-b",
            "--shield",
            "--tag",
            "owner=payments-team",
            "--parameter",
            "X=1",
        ]
    )
    request = launch.request_from(args)
    assert request.name == "payment-team-b" and request.version == "v2"
    assert request.parameters == {
        PROFILE: "staging",
        NAME_SUFFIX: "team-b",
        GUARDDUTY.parameter: "false",
        SHIELD.parameter: "true",
        COST_MONITOR.parameter: "false",
        "X": "1",
    }
    assert request.tags == {"owner": "payments-team"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["launch", "--profile", "dev", "--suffix", "a1"], "the following arguments are required: --version"),
        (
            ["launch", "--version", "v1", "--profile", "dev", "--suffix", "a1", "--tag", "owner"],
            "'owner' is not KEY=VALUE",
        ),
        (["terminate", "--name", "bad name!"], "is not a provisioned product name"),
        (["deploy"], "invalid choice: 'deploy'"),
    ],
)
def test_bad_cli_input_gets_a_clear_message(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as error:
        launch.main(argv)
    assert error.value.code == 2
    assert message in capsys.readouterr().err


def test_main_reports_errors_with_exit_codes(
    monkeypatch: pytest.MonkeyPatch, stubbed: tuple[Any, Stubber, Any, Stubber]
) -> None:
    sc, stub, cfn, _ = stubbed
    monkeypatch.setattr(launch, "clients", lambda _region: (sc, cfn))
    stub.add_client_error("get_provisioned_product_outputs", service_error_code="ResourceNotFoundException")
    err = io.StringIO()
    assert launch.main(["outputs", "--name", "payment-gone"], out=io.StringIO(), err=err) == launch.EXIT_INPUT
    assert err.getvalue() == "error: no provisioned product named 'payment-gone'\n"


def test_main_prints_outputs(monkeypatch: pytest.MonkeyPatch, stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    sc, stub, cfn, _ = stubbed
    monkeypatch.setattr(launch, "clients", lambda _region: (sc, cfn))
    stub.add_response(
        "get_provisioned_product_outputs",
        {"Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "u"}]},
        {"ProvisionedProductName": "payment-team-a"},
    )
    out = io.StringIO()
    assert launch.main(["outputs", "--name", "payment-team-a"], out=out) == 0
    assert out.getvalue().split() == ["ApiUrl", "u"]


def test_launch_with_terminate_after_cleans_up_even_when_the_smoke_suite_is_missing(
    monkeypatch: pytest.MonkeyPatch, stubbed: tuple[Any, Stubber, Any, Stubber], tmp_path: Path
) -> None:
    sc, stub, cfn, cfn_stub = stubbed
    monkeypatch.setattr(launch, "SMOKE_COMMAND", tmp_path / "no-smoke")
    monkeypatch.setattr(launch, "POLL_S", 0)
    monkeypatch.setattr(launch.time, "sleep", lambda _: None)
    _stub_lookups(stub)
    stub.add_response("provision_product", _record("CREATED"), None)
    stub.add_response("describe_record", _record("SUCCEEDED"), {"Id": "rec-1"})
    stub.add_response(
        "search_provisioned_products", {"ProvisionedProducts": [{"Id": "pp-1", "PhysicalId": STACK_ARN}]}, None
    )
    cfn_stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ARN})
    stub.add_response("terminate_provisioned_product", _record("CREATED"), None)
    stub.add_response("describe_record", _record("SUCCEEDED"), {"Id": "rec-1"})
    stub.add_response("search_provisioned_products", {"ProvisionedProducts": []}, None)
    args = launch.parser().parse_args(
        ["launch", "--version", "v1", "--profile", "dev", "--suffix", "team-a", "--smoke", "--terminate-after"]
    )
    out = io.StringIO()
    with pytest.raises(LaunchError, match="smoke suite entry"):
        launch.run(args, sc, cfn, out)
    assert "terminated" in out.getvalue()
