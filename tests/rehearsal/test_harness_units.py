"""Fast tests of the harness parts (no emulator, no CDK): safety, assembly discovery, the local gateway's
SigV4 and proxy-event translation, the SQS poller's batch semantics, the smoke suite's template resolver
and report."""

from __future__ import annotations

import gc
import io
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from rehearsal import __main__ as cli
from rehearsal import cdk_cli
from rehearsal.assembly import stacks
from rehearsal.event_sources import QueueMapping, SqsPoller
from rehearsal.faults import parse_faults
from rehearsal.gateway import LocalRestApi, Route, _route_pattern, fixed_callers
from rehearsal.lambda_runtime import load_handler
from rehearsal.safety import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    UnsafeEnvironmentError,
    check_caller_environment,
    emulator_environment,
)
from tests.check_synth import CHECK_SYNTH_STATUS, copy_of_checks_assembly, wait_for_synth
from tests.rehearsal.conftest import synthesized_once
from tests.smoke import target as smoke_target
from tests.smoke.api_client import ApiClient
from tests.smoke.report import render_html

# --- safety ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "environ",
    [
        {"AWS_ACCESS_KEY_ID": "AKIAREALKEYEXAMPLE01"},
        {"AWS_PROFILE": "production"},
        {"AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjE..."},
        {"AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"},
        {"AWS_ENDPOINT_URL": "https://dynamodb.us-east-1.amazonaws.com"},
        {"AWS_ENDPOINT_URL_S3": "http://10.0.0.5:4566"},
    ],
    ids=["access-key", "profile", "session-token", "web-identity", "aws-endpoint", "remote-endpoint"],
)
def test_refuses_real_credentials_and_remote_endpoints(environ: dict[str, str]) -> None:
    with pytest.raises(UnsafeEnvironmentError, match="refusing to rehearse"):
        check_caller_environment(environ)


def test_accepts_a_clean_or_dummy_environment() -> None:
    check_caller_environment({})
    check_caller_environment({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    check_caller_environment({"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_REGION": "eu-west-1"})


def test_a_session_the_emulator_issued_is_allowed_only_with_loopback_endpoints() -> None:
    """A build runs with its service role's session (issued by the emulator); the same keys next to a remote
    endpoint, or keys the caller does not name as the emulator's, are refused."""
    session = {"AWS_ACCESS_KEY_ID": "ASIAEMULATOR", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    local = {**session, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}
    check_caller_environment(local, emulator_access_key_id="ASIAEMULATOR")
    with pytest.raises(UnsafeEnvironmentError, match="AWS_ACCESS_KEY_ID is set"):
        check_caller_environment(local)  # not named as the emulator's
    with pytest.raises(UnsafeEnvironmentError, match="AWS_ACCESS_KEY_ID is set"):
        check_caller_environment(local, emulator_access_key_id="ASIAOTHER")
    with pytest.raises(UnsafeEnvironmentError, match="AWS_ACCESS_KEY_ID is set"):
        check_caller_environment(session, emulator_access_key_id="ASIAEMULATOR")  # no endpoint: real AWS
    with pytest.raises(UnsafeEnvironmentError, match="is not a loopback endpoint"):
        check_caller_environment(
            {**local, "AWS_ENDPOINT_URL_S3": "https://s3.amazonaws.com"}, emulator_access_key_id="ASIAEMULATOR"
        )
    with pytest.raises(UnsafeEnvironmentError, match="AWS_PROFILE is set"):
        check_caller_environment({**local, "AWS_PROFILE": "prod"}, emulator_access_key_id="ASIAEMULATOR")


def test_child_environment_has_only_the_emulator_and_dummy_credentials() -> None:
    env = emulator_environment(
        {
            "PATH": "/bin",
            "AWS_PROFILE": "x",
            "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:1",
            "CDK_DEFAULT_ACCOUNT": "2",
            "CDK_DISABLE_CLI_TELEMETRY": "false",
        },
        endpoint="http://127.0.0.1:5000",
        account="111111111111",
        region="eu-west-1",
    )
    assert env["PATH"] == "/bin" and "AWS_PROFILE" not in env and "AWS_ENDPOINT_URL_SQS" not in env
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert env["AWS_ENDPOINT_URL_S3_FOR_CLOUDFORMATION"] == "http://localhost:5000"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY)
    assert env["CDK_DEFAULT_ACCOUNT"] == "111111111111" and env["AWS_REGION"] == "eu-west-1"
    assert env["CDK_DISABLE_CLI_TELEMETRY"] == "true"  # the CLI's telemetry would go to AWS, not the emulator
    with pytest.raises(UnsafeEnvironmentError):
        emulator_environment({}, endpoint="http://192.168.1.2:5000", account="1", region="us-east-1")


def test_command_refuses_before_doing_anything(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    assert cli.main(["--reuse-synth"]) == 2
    assert "AWS_PROFILE is set" in capsys.readouterr().err


def test_command_usage_errors() -> None:
    with pytest.raises(SystemExit, match="2"):
        cli.main(["--serve"])
    with pytest.raises(ValueError, match="KIND one of"):
        parse_faults(["payment-api-dev=explode"])


# --- assembly discovery -------------------------------------------------------------------------------


def _stack(directory: Path, artifact_id: str, display: str, outputs: dict[str, Any], types: list[str]) -> dict:
    template = {"Resources": {f"R{i}": {"Type": t} for i, t in enumerate(types)}, "Outputs": outputs}
    (directory / f"{artifact_id}.template.json").write_text(json.dumps(template))
    return {
        "type": "aws:cloudformation:stack",
        "environment": "aws://111111111111/us-east-1",
        "displayName": display,
        "properties": {"templateFile": f"{artifact_id}.template.json", "stackName": display.replace("/", "-")},
    }


def test_stacks_of_nested_assemblies_are_all_found(tmp_path: Path) -> None:
    env_output = {"Environment": {"Value": "dev"}}
    nested = tmp_path / "assembly-PaymentPipeline-dev"
    legacy = tmp_path / "assembly-dev"
    for directory in (nested, legacy):
        directory.mkdir()
    (nested / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "a": _stack(nested, "a", "PaymentPipeline/dev/PaymentStack", env_output, ["AWS::SNS::Topic"])
                }
            }
        )
    )
    (legacy / "manifest.json").write_text(
        json.dumps({"artifacts": {"b": _stack(legacy, "b", "dev/PaymentStack", env_output, ["AWS::SNS::Topic"])}})
    )
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "direct": _stack(tmp_path, "direct", "PaymentStack-dev", env_output, ["AWS::SNS::Topic"]),
                    "staging": _stack(
                        tmp_path, "staging", "x/staging/PaymentStack", {"Environment": {"Value": "staging"}}, []
                    ),
                    "catalog": _stack(tmp_path, "catalog", "PaymentCatalog", {}, ["AWS::ServiceCatalog::Portfolio"]),
                }
            }
        )
    )
    found = {s.display_name: s for s in stacks(tmp_path)}
    assert set(found) == {
        "PaymentPipeline/dev/PaymentStack",
        "dev/PaymentStack",
        "PaymentStack-dev",
        "x/staging/PaymentStack",
        "PaymentCatalog",
    }
    assert found["PaymentPipeline/dev/PaymentStack"].depth == 1 and found["PaymentCatalog"].depth == 0
    assert found["PaymentPipeline/dev/PaymentStack"].environment == "dev"
    assert found["PaymentStack-dev"].environment is None  # its path does not name the stage


# --- local gateway --------------------------------------------------------------------------------------


class _FakeFunction:
    def __init__(self, respond: Any) -> None:
        self.events: list[dict[str, Any]] = []
        self.respond = respond

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.respond(event)


class _FakeHost:
    def __init__(self, function: _FakeFunction, role_clients: dict[str, Any] | None = None) -> None:
        self._function = function
        self._role_clients = role_clients or {}
        self.asked: list[str] = []
        self.clients_asked: list[tuple[str, str]] = []

    def function(self, reference: str) -> _FakeFunction:
        self.asked.append(reference)
        return self._function

    def role_client(self, reference: str, service: str) -> Any:
        self.clients_asked.append((reference, service))
        return self._role_clients[service]


@pytest.fixture
def gateway(tmp_path: Path):
    def respond(event: dict[str, Any]) -> dict[str, Any]:
        if event["body"] == "explode":
            raise RuntimeError("handler crashed")
        return {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Seen": event["path"]},
            "body": json.dumps({"ok": True}),
        }

    function = _FakeFunction(respond)
    arn = "arn:aws:lambda:us-east-1:111111111111:function:payment-api-dev:live"
    routes = [
        Route(m, r, _route_pattern(r), "AWS_IAM", arn, "res1")
        for m, r in (("POST", "/payments"), ("GET", "/payments/{id}"))
    ]
    with (tmp_path / "access.log").open("w") as log:
        api = LocalRestApi(
            api_id="abc123",
            stage="dev",
            routes=routes,
            functions=_FakeHost(function),
            region="us-east-1",
            account="111111111111",
            callers=fixed_callers(
                {DUMMY_ACCESS_KEY_ID: DUMMY_SECRET_ACCESS_KEY}, "arn:aws:iam::111111111111:user/rehearsal"
            ),
            log=log,
        ).start()
        yield api, function
        api.stop()


def _client(url: str, secret: str = DUMMY_SECRET_ACCESS_KEY, region: str = "us-east-1") -> ApiClient:
    session = boto3.session.Session(
        aws_access_key_id=DUMMY_ACCESS_KEY_ID, aws_secret_access_key=secret, region_name=region
    )
    return ApiClient(url, session, region)


def test_gateway_translates_a_signed_request_into_a_rest_proxy_event(gateway) -> None:
    api, function = gateway
    response = _client(api.url).request("GET", "payments/8d5c?x=1&x=2", headers={"Idempotency-Key": "k"})
    assert response.status == 201 and response.json() == {"ok": True}
    assert response.header("x-seen") == "/payments/8d5c" and response.header("x-amzn-requestid")
    event = function.events[-1]
    assert event["resource"] == "/payments/{id}" and event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "8d5c"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]} and event["queryStringParameters"] == {
        "x": "2"
    }
    assert event["headers"]["Idempotency-Key"] == "k" and event["multiValueHeaders"]["Idempotency-Key"] == ["k"]
    context = event["requestContext"]
    assert (context["stage"], context["apiId"], context["path"]) == ("dev", "abc123", "/dev/payments/8d5c")
    assert context["identity"]["accessKey"] == DUMMY_ACCESS_KEY_ID and context["identity"]["sourceIp"] == "127.0.0.1"
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_gateway_enforces_iam_authorization(gateway) -> None:
    api, function = gateway
    unsigned = _client(api.url).request("POST", "payments", body="{}", sign=False)
    assert unsigned.status == 403 and unsigned.json() == {"message": "Missing Authentication Token"}
    wrong_secret = _client(api.url, secret="not-the-secret").request("POST", "payments", body="{}")
    assert wrong_secret.status == 403 and "signature" in wrong_secret.json()["message"]
    wrong_region = _client(api.url, region="eu-west-1").request("POST", "payments", body="{}")
    assert wrong_region.status == 403 and "scoped" in wrong_region.json()["message"]
    assert function.events == []


def test_gateway_routes_like_api_gateway(gateway) -> None:
    api, _ = gateway
    client = _client(api.url)
    assert client.request("DELETE", "payments").status == 403  # method not defined on the resource
    assert client.request("GET", "refunds").status == 403  # no such resource
    assert _client(api.url.replace("/dev/", "/prod/")).request("POST", "payments", body="{}").status == 403
    crashed = client.request("POST", "payments", body="explode")
    assert crashed.status == 502 and crashed.json() == {"message": "Internal server error"}


# --- SQS poller -----------------------------------------------------------------------------------------


class _FakeSqs:
    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.messages = messages
        self.deleted: list[str] = []

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 - boto3's parameter names
        return {"QueueUrl": f"http://127.0.0.1/111111111111/{QueueName}"}

    def receive_message(self, **_kwargs: Any) -> dict[str, Any]:
        batch, self.messages = self.messages, []
        return {"Messages": batch}

    def delete_message_batch(self, Entries: list[dict[str, str]], **_kwargs: Any) -> None:  # noqa: N803
        self.deleted += [entry["ReceiptHandle"] for entry in Entries]


def _poller(sqs: _FakeSqs, respond: Any, tmp_path: Path) -> tuple[SqsPoller, _FakeFunction]:
    function = _FakeFunction(respond)
    mapping = QueueMapping(
        uuid="uuid-1",
        queue_arn="arn:aws:sqs:us-east-1:111111111111:payment-events-dev",
        function_arn="arn:aws:lambda:us-east-1:111111111111:function:payment-processor-dev",
        batch_size=10,
        report_item_failures=True,
    )
    log = (tmp_path / "poller.log").open("w")
    # The harness's client only looks the queue up; receiving and deleting go through the function's role.
    poller = SqsPoller(
        mapping, sqs=sqs, functions=_FakeHost(function, role_clients={"sqs": sqs}), region="us-east-1", log=log
    )
    return poller, function


def _messages(count: int) -> list[dict[str, Any]]:
    return [{"MessageId": f"m{i}", "ReceiptHandle": f"h{i}", "Body": "{}", "Attributes": {}} for i in range(count)]


def test_poller_deletes_only_the_records_the_function_did_not_report_failed(tmp_path: Path) -> None:
    sqs = _FakeSqs(_messages(3))
    poller, function = _poller(sqs, lambda _event: {"batchItemFailures": [{"itemIdentifier": "m1"}]}, tmp_path)
    assert poller.poll_once() == 3
    assert sqs.deleted == ["h0", "h2"]
    record = function.events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":payment-events-dev")


def test_poller_keeps_the_whole_batch_when_the_function_fails(tmp_path: Path) -> None:
    sqs = _FakeSqs(_messages(2))

    def fail(_event: Any) -> Any:
        raise RuntimeError("function error")

    poller, _ = _poller(sqs, fail, tmp_path)
    assert poller.poll_once() == 2
    assert sqs.deleted == [] and poller.failed == 2


# --- smoke suite internals ------------------------------------------------------------------------------


def test_template_values_resolve_like_cloudformation() -> None:
    template = {
        "Parameters": {"Profile": {"Type": "String"}},
        "Mappings": {"Knobs": {"prod": {"Memory": 1024}}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Profile"}, "prod"]}},
        "Resources": {"Key": {"Type": "AWS::KMS::Key"}, "Queue": {"Type": "AWS::SQS::Queue"}},
    }
    target = smoke_target.Target(
        stack_name="s",
        stack_id="arn:aws:cloudformation:us-east-1:111111111111:stack/s/1",
        region="us-east-1",
        account="111111111111",
        partition="aws",
        stage="prod",
        outputs={},
        stack_outputs={},
        output_sources={},
        template=template,
        parameters={"Profile": "prod"},
        physical_ids={"Key": "k-1", "Queue": "https://sqs.us-east-1.amazonaws.com/111111111111/q"},
        resource_types={"Key": "AWS::KMS::Key", "Queue": "AWS::SQS::Queue"},
        not_emulated=smoke_target.NotEmulated(),
        endpoint=None,
    )
    assert target.resolve({"Fn::FindInMap": ["Knobs", {"Ref": "Profile"}, "Memory"]}) == 1024
    assert target.resolve({"Fn::GetAtt": ["Key", "Arn"]}) == "arn:aws:kms:us-east-1:111111111111:key/k-1"
    assert target.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws:sqs:us-east-1:111111111111:q"
    assert target.resolve({"Fn::Join": ["-", ["a", {"Ref": "AWS::Region"}]]}) == "a-us-east-1"
    assert target.resolve({"Fn::Sub": "${AWS::AccountId}/${Profile}"}) == "111111111111/prod"
    assert target.resolve({"Fn::If": ["IsProd", 3, 1]}) == 3
    assert target.output_references("missing") == set()


def test_report_is_escaped_and_self_contained() -> None:
    summary = {
        "generated_at": "2026-01-01T00:00:00+00:00",
        "duration_s": 1.0,
        "result": "failed",
        "executed": 1,
        "total": 2,
        "executed_percent": 50.0,
        "counts": {"passed": 0, "failed": 1, "not emulated": 1},
        "context": {"stage": "dev", "not_emulated": {"emulator": "moto", "skipped": [], "shims": []}},
        "checks": [
            {
                "nodeid": "t::a",
                "title": "<script>alert(1)</script>",
                "area": "x",
                "outcome": "failed",
                "duration_s": 0.1,
                "resources": ["AWS::X <b>"],
                "message": "boom <img src=x>",
            },
            {
                "nodeid": "t::b",
                "title": "b",
                "area": "x",
                "outcome": "not emulated",
                "duration_s": 0.0,
                "resources": [],
                "message": "not emulated: AWS::CloudWatch::Alarm payment-dev-api-5xx (...)",
            },
        ],
    }
    html = render_html(summary)
    assert "<script>" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert "not emulated: AWS::CloudWatch::Alarm payment-dev-api-5xx" in html


CONNECT_TIMEOUT_S = 0.9  # below the first SYN retransmission (1 s)


def test_gateway_serves_50_concurrent_connections_without_reset_or_5xx(tmp_path: Path) -> None:
    """50 clients connect at the same instant (a barrier), then each sends one request: every connection is
    accepted at once and answered by the function (201), none reset, refused or left waiting. A full listen
    backlog shows here (Linux, tcp_abort_on_overflow=0) as dropped SYNs that the client retries after 1 s,
    elsewhere as resets: so the connect must succeed within 0.9 s. 127.0.0.1 only; 50 connections, <= 60 s."""
    clients = 50
    function = _FakeFunction(lambda event: {"statusCode": 201, "body": event["body"]})
    arn = "arn:aws:lambda:us-east-1:111111111111:function:payment-api-dev:live"
    route = Route("POST", "/payments", _route_pattern("/payments"), "NONE", arn, "res1")
    barrier = threading.Barrier(clients, timeout=30)
    statuses: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    with (tmp_path / "access.log").open("w") as log:
        api = LocalRestApi(
            api_id="abc123",
            stage="dev",
            routes=[route],
            functions=_FakeHost(function),
            region="us-east-1",
            account="111111111111",
            callers=fixed_callers({}, "arn:aws:iam::111111111111:user/rehearsal"),
            log=log,
        ).start()
        host, port = api._server.server_address[:2]

        def client(index: int) -> None:
            try:
                barrier.wait()
                with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as connection:
                    connection.settimeout(30)
                    body = json.dumps({"n": index}).encode()
                    connection.sendall(
                        b"POST /dev/payments HTTP/1.1\r\nHost: local\r\nConnection: close\r\n"
                        + f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                    answer = b""
                    while chunk := connection.recv(65536):
                        answer += chunk
                with lock:
                    statuses.append(int(answer.split(b" ", 2)[1]))
            except (OSError, IndexError, ValueError, threading.BrokenBarrierError) as error:
                with lock:
                    errors.append(f"client {index}: {type(error).__name__}: {error}")

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        api.stop()
    assert not errors, errors[:5]
    assert statuses == [201] * clients, sorted(set(statuses))


@pytest.fixture
def harness_frozen() -> Iterator[Callable[[bool], None]]:
    """Sets whether the harness has frozen its start-up (tests/collector.py freezes a test process's), and
    restores the process's own state afterwards."""
    was_frozen = gc.get_freeze_count() > 0

    def set_frozen(frozen: bool) -> None:
        gc.unfreeze()
        if frozen:
            gc.freeze()

    yield set_frozen
    set_frozen(was_frozen)
    gc.enable()


def test_a_hosted_function_whose_init_fails_leaves_the_harness_collecting_garbage(
    tmp_path: Path, harness_frozen: Callable[[bool], None]
):
    """A function pauses collection and freezes its init (init_phase): the harness, one process for every
    function and the emulator, undoes both, even when the init raises."""
    harness_frozen(False)
    (tmp_path / "failing.py").write_text("import gc\ngc.disable()\ngc.freeze()\nraise RuntimeError('init failed')\n")
    with pytest.raises(RuntimeError, match="init failed"):
        load_handler(tmp_path, "failing.handler", {}, io.StringIO())
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_harness_that_froze_its_start_up_stays_frozen_after_hosting_a_function(
    tmp_path: Path, harness_frozen: Callable[[bool], None]
):
    harness_frozen(True)
    frozen = gc.get_freeze_count()
    (tmp_path / "fine.py").write_text(
        "import gc\ngc.disable()\ngc.freeze()\ngc.enable()\ndef handler(event, context):\n    return 1\n"
    )
    assert load_handler(tmp_path, "fine.handler", {}, io.StringIO())({}, None) == 1
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen


# --- the session's assembly under scripts/check -----------------------------------------------------------


def test_the_checks_assembly_is_taken_once_its_synth_has_written_its_status(tmp_path: Path) -> None:
    status = tmp_path / "synth.status"

    def finish() -> None:
        time.sleep(0.3)
        status.write_text(f"0 {tmp_path / 'cdk.out'}\n")

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        assert wait_for_synth(status, timeout_s=30) == tmp_path / "cdk.out"
    finally:
        writer.join()


def test_a_failed_check_synth_fails_the_session_and_names_its_log(tmp_path: Path) -> None:
    status = tmp_path / "synth.status"
    status.write_text(f"1 {tmp_path / 'cdk.out'}\n")
    with pytest.raises(pytest.fail.Exception, match=r"synth failed \(exit 1\).*reports/synth-and-lint.log"):
        wait_for_synth(status, timeout_s=30)


def test_a_check_synth_that_writes_no_status_fails_the_session_after_the_wait(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"wrote no .*synth.status in 0 s"):
        wait_for_synth(tmp_path / "synth.status", timeout_s=0.3)


def test_the_checks_assembly_is_copied_for_the_session_and_the_original_stays_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = tmp_path / "cdk.out"
    (written / "assembly-PaymentPipeline-dev").mkdir(parents=True)
    (written / "manifest.json").write_text("{}")
    (written / "assembly-PaymentPipeline-dev" / "manifest.json").write_text("{}")
    status = tmp_path / "synth.status"
    status.write_text(f"0 {written}\n")
    monkeypatch.setenv(CHECK_SYNTH_STATUS, str(status))
    copied = copy_of_checks_assembly(tmp_path / "session")
    assert copied == tmp_path / "session"
    assert (copied / "assembly-PaymentPipeline-dev" / "manifest.json").read_text() == "{}"
    (copied / "manifest.json").write_text('{"edited": true}')
    assert (written / "manifest.json").read_text() == "{}"


def test_outside_scripts_check_there_is_no_checks_assembly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHECK_SYNTH_STATUS, raising=False)
    assert copy_of_checks_assembly(tmp_path / "session") is None
    assert not (tmp_path / "session").exists()


# --- the session's assembly without scripts/check: the first worker synthesizes, the other waits ----------


def test_the_worker_that_finds_the_lock_taken_waits_for_the_others_synth(tmp_path: Path) -> None:
    (tmp_path / "rehearsal-synth.lock").touch()
    (tmp_path / "rehearsal-synth.status").write_text(f"0 {tmp_path / 'rehearsal-synth'}\n")
    assert synthesized_once(tmp_path) == tmp_path / "rehearsal-synth"
    (tmp_path / "rehearsal-synth.status").write_text(f"2 {tmp_path / 'rehearsal-synth'}\n")
    with pytest.raises(pytest.fail.Exception, match=r"another worker's synth failed \(exit 2\).*rehearsal-synth.log"):
        synthesized_once(tmp_path)


def test_the_synthesizing_worker_writes_its_status_even_when_the_synth_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def synth(*, outdir: Path, env: dict[str, str], log_file: Path) -> None:
        calls.append(outdir)
        if len(calls) > 1:
            raise cdk_cli.CdkError("`cdk synth` failed (exit 1)")

    monkeypatch.setattr(cdk_cli, "synth", synth)
    assert synthesized_once(tmp_path) == tmp_path / "rehearsal-synth"
    assert (tmp_path / "rehearsal-synth.status").read_text() == f"0 {tmp_path / 'rehearsal-synth'}\n"
    assert synthesized_once(tmp_path) == tmp_path / "rehearsal-synth"  # the lock is taken: waited, no second synth
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(cdk_cli.CdkError):
        synthesized_once(again)
    assert (again / "rehearsal-synth.status").read_text().startswith("1 ")
    assert len(calls) == 2


def test_a_function_imports_with_its_own_environment_and_the_host_environment_comes_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", "/host/ca.pem")
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111111111111")
    host = os.environ
    before = dict(os.environ)
    (tmp_path / "probe.py").write_text(
        "import os\nSEEN = dict(os.environ)\ndef handler(event, context):\n    return SEEN\n"
    )
    seen = load_handler(tmp_path, "probe.handler", {"TABLE_NAME": "payments"}, io.StringIO())({}, None)
    assert seen["TABLE_NAME"] == "payments" and "AWS_CA_BUNDLE" not in seen  # the host's AWS_* are stripped
    assert seen["MOTO_ACCOUNT_ID"] == "111111111111" and seen["PATH"] == before["PATH"]
    assert os.environ is host and dict(os.environ) == before


def test_a_thread_reading_the_environment_while_a_function_loads_never_meets_a_missing_key(tmp_path: Path) -> None:
    """Functions load in the servers' threads while tests and other threads read os.environ."""
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(0.3)\ndef handler(event, context):\n    return 1\n")
    errors: list[BaseException] = []
    loaded = threading.Event()

    def read_slowly() -> None:  # spans the whole load: the swap in, the import, the swap back
        try:
            while not loaded.is_set():
                environ = os.environ
                for name in environ:  # what Mapping.items() does, one key at a time
                    time.sleep(0.0002)
                    environ[name]
        except KeyError as error:
            errors.append(error)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        handler = load_handler(tmp_path, "slow.handler", {"TABLE_NAME": "payments"}, io.StringIO())
        time.sleep(0.05)
    finally:
        loaded.set()
        reader.join()
    assert handler({}, None) == 1
    assert not errors, f"a reader met a key deleted under it: {errors}"


# --- the CDK CLI's compile cache (rehearsal/node_compile_cache.cjs) --------------------------------------

BIG_MODULE = """
const helper = require("./helper");
module.exports = { sum: (a, b) => helper.add(a, b), here: __dirname, resolved: require.resolve("./helper") };
"""


def _run_with_cache(project: Path, cache: Path) -> tuple[str, str]:
    env = {**os.environ, "REHEARSAL_NODE_COMPILE_CACHE_TRACE": "1"}
    env.pop("NODE_OPTIONS", None)
    completed = subprocess.run(
        ["node", "main.js"],
        cwd=project,
        env=cdk_cli.with_compile_cache(env, directory=cache),
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout, completed.stderr


@pytest.fixture
def cli_like_project(tmp_path: Path) -> Path:
    """A main script requiring a 1 MB module (the size from which the preload caches) that requires another."""
    project = tmp_path / "project"
    (project / "lib").mkdir(parents=True)
    (project / "lib" / "helper.js").write_text("exports.add = (a, b) => a + b;\n")
    padding = "// " + "x" * 1_000_000 + "\n"
    (project / "lib" / "index.js").write_text("#!/usr/bin/env node\n" + BIG_MODULE + padding)
    (project / "main.js").write_text(
        'const lib = require("./lib");\nconsole.log(JSON.stringify([lib.sum(2, 3), lib.here, lib.resolved]));\n'
    )
    return project


def test_the_cli_is_compiled_once_then_runs_from_the_cache_unchanged(cli_like_project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first, first_trace = _run_with_cache(cli_like_project, cache)
    second, second_trace = _run_with_cache(cli_like_project, cache)
    lib = cli_like_project / "lib"
    assert json.loads(first) == json.loads(second) == [5, str(lib), str(lib / "helper.js")]
    assert first_trace.startswith("node compile cache: miss ") and str(lib / "index.js") in first_trace
    assert second_trace.startswith("node compile cache: hit ")
    assert "helper.js" not in first_trace + second_trace  # small modules compile as Node compiles them
    assert len(list(cache.glob("*.v8"))) == 1 and not list(cache.glob("*.partial"))


def test_a_corrupt_cache_entry_is_rejected_recompiled_and_stored_again(cli_like_project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _run_with_cache(cli_like_project, cache)
    (entry,) = cache.glob("*.v8")
    entry.write_bytes(b"not V8 code cache data")
    output, trace = _run_with_cache(cli_like_project, cache)
    assert json.loads(output)[0] == 5
    assert trace.startswith("node compile cache: rejected ")
    assert _run_with_cache(cli_like_project, cache)[1].startswith("node compile cache: hit ")


def test_a_cache_that_cannot_be_written_costs_only_the_speed(cli_like_project: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    for _ in range(2):
        output, trace = _run_with_cache(cli_like_project, blocked / "cache")
        assert json.loads(output)[0] == 5 and trace.startswith("node compile cache: miss ")


def test_the_preload_joins_the_callers_node_options() -> None:
    env = cdk_cli.with_compile_cache({"NODE_OPTIONS": "--max-old-space-size=4096"}, directory=Path("/cache"))
    assert env["NODE_OPTIONS"] == f'--max-old-space-size=4096 --require "{cdk_cli.COMPILE_CACHE_PRELOAD}"'
    assert env["REHEARSAL_NODE_COMPILE_CACHE"] == "/cache"
    assert cdk_cli.with_compile_cache({}, directory=Path("/cache"))["NODE_OPTIONS"].startswith("--require ")


def test_a_checkout_path_node_options_cannot_quote_runs_the_cli_without_the_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cdk_cli, "COMPILE_CACHE_PRELOAD", Path('/work/a "quoted" checkout/rehearsal/preload.cjs'))
    assert cdk_cli.with_compile_cache({"PATH": "/bin"}, directory=Path("/cache")) == {"PATH": "/bin"}
