"""Module-level behaviour: environment configuration, and the defensive paths of the store, audit and
event helpers (driven with small fakes where moto cannot produce the condition)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid

import audit_log
import payment_events
import payments_store
import pytest
import runtime_config
import telemetry
from botocore.exceptions import ClientError
from payments_testkit import ASSET_ROOT, FUNCTION_ENV, FakeLambdaContext, rest_event, sqs_event
from sample_request import VALID_BODY

# --- Environment -----------------------------------------------------------------------------------


def load_fresh(module_name: str):
    """Import a handler module again (a new module object), as a cold start would."""
    spec = importlib.util.spec_from_file_location(f"{module_name}_{uuid.uuid4().hex}", ASSET_ROOT / f"{module_name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Counts the collections that start once init_phase is imported, in a fresh interpreter (a cold start).
_INIT_PHASE_PROBE = """
import gc, json, sys
during_init = []
gc.callbacks.append(lambda phase, info: phase == "start" and "init_phase" in sys.modules and during_init.append(1))
import {module}
print(json.dumps({{"collections": len(during_init), "collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}}))
"""


@pytest.mark.parametrize("module_name", ["api", "processor"])
def test_a_function_inits_without_garbage_collection_then_freezes_what_it_made(module_name):
    """Each full collection during the import walks every object boto3 and Powertools made (about 200
    collections without the pause); afterwards collection is back on and skips the init's objects."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_ENDPOINT_URL")}
    env |= FUNCTION_ENV | {"PYTHONPATH": str(ASSET_ROOT)}
    probe = subprocess.run(
        [sys.executable, "-c", _INIT_PHASE_PROBE.format(module=module_name)],
        cwd=ASSET_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(probe.stdout.splitlines()[-1])
    assert report["collections"] == 0
    assert report["collecting"] is True
    assert report["frozen"] > 50_000


def test_a_cold_start_creates_only_the_dynamodb_client_and_the_rest_on_first_use():
    api = load_fresh("api")
    assert "s3_client" not in vars(api) and "events_client" not in vars(api)
    s3_client = api.s3_client
    assert s3_client.meta.service_model.service_name == "s3"
    assert api.s3_client is s3_client is api.clients("s3")  # then kept for the process
    with pytest.raises(AttributeError, match="no attribute 'sqs_client'"):
        _ = api.sqs_client


def test_clients_created_later_use_the_environment_the_function_imported_with(monkeypatch):
    """A local host may set the function's environment only while it imports (the rehearsal does)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "imported-with")
    clients = telemetry.Clients()
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "changed-later")
    events = clients("events")
    assert events.meta.endpoint_url == "http://127.0.0.1:4566"
    assert events.meta.region_name == "eu-west-1"
    assert events._request_signer._credentials.access_key == "imported-with"


def test_config_names_every_missing_variable():
    config = runtime_config.RuntimeConfig(runtime_config.API_VARIABLES, {"ENVIRONMENT": "dev", "EVENT_BUS_NAME": " "})
    with pytest.raises(runtime_config.ConfigurationError) as caught:
        config.require()
    message = str(caught.value)
    for name in ("PAYMENTS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "AUDIT_BUCKET_NAME", "EVENT_BUS_NAME"):
        assert name in message
    assert "ENVIRONMENT" not in message


def test_config_requires_the_environment_name():
    """Which names are valid is checked at synth (tests/unit/test_knobs.py); here only that one is set."""
    values = dict.fromkeys(runtime_config.PROCESSOR_VARIABLES, "x") | {"ENVIRONMENT": " "}
    config = runtime_config.RuntimeConfig(runtime_config.PROCESSOR_VARIABLES, values)
    with pytest.raises(
        runtime_config.ConfigurationError, match=r"missing required environment variable\(s\): ENVIRONMENT$"
    ):
        config.require()


def test_config_accepts_a_complete_environment():
    values = dict.fromkeys(runtime_config.API_VARIABLES, "x") | {"ENVIRONMENT": "prod"}
    config = runtime_config.RuntimeConfig(runtime_config.API_VARIABLES, values)
    config.require()
    assert config.get("ENVIRONMENT") == "prod"


def test_api_without_a_variable_imports_and_answers_500_naming_it_in_the_log(aws, monkeypatch, caplog):
    monkeypatch.delenv("AUDIT_BUCKET_NAME")
    api = load_fresh("api")
    event = rest_event(
        "POST",
        "/payments",
        "/payments",
        headers={"Content-Type": "application/json", "Idempotency-Key": "k"},
        body="{}",
    )
    context = FakeLambdaContext()

    result = api.handler(event, context)

    assert result["statusCode"] == 500
    assert context.aws_request_id in result["body"]
    assert "AUDIT_BUCKET_NAME" not in result["body"]
    (error,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert isinstance(error.exc_info[1], runtime_config.ConfigurationError)
    assert "missing required environment variable(s): AUDIT_BUCKET_NAME" in str(error.exc_info[1])
    aws.assert_nothing_written()


def test_processor_without_a_variable_raises_naming_it(aws, monkeypatch):
    monkeypatch.delenv("PAYMENTS_TABLE_NAME")
    processor = load_fresh("processor")
    with pytest.raises(runtime_config.ConfigurationError, match="PAYMENTS_TABLE_NAME"):
        processor.handler(sqs_event(["{}"]), FakeLambdaContext())


# --- Store -----------------------------------------------------------------------------------------


class FakeDynamoDB:
    """Answers from a script: each call pops the next outcome (an exception or a response)."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, dict]] = []

    def _next(self, name, kwargs):
        self.calls.append((name, kwargs))
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def put_item(self, **kwargs):
        return self._next("put_item", kwargs)

    def get_item(self, **kwargs):
        return self._next("get_item", kwargs)

    def update_item(self, **kwargs):
        return self._next("update_item", kwargs)


def condition_failed(item=None) -> ClientError:
    response = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}}
    if item is not None:
        response["Item"] = item
    return ClientError(response, "PutItem")


PAYMENT = {
    "payment_id": "6f1c1c1e-1111-5222-8333-444455556666",
    "status": "pending",
    "amount": 1250,
    "currency": "USD",
    "merchant_id": "merchant_42",
    "created_at": "2026-01-01T00:00:00.000Z",
    "metadata": {"a": "b"},
}


def test_item_attribute_values_round_trip():
    attributes = payments_store.to_attribute_values({**PAYMENT, "description": None})
    assert "description" not in attributes
    assert payments_store.from_attribute_values(attributes) == PAYMENT


def test_put_new_reads_the_existing_item_when_the_condition_failure_does_not_return_it():
    stored = payments_store.to_attribute_values(PAYMENT)
    fake = FakeDynamoDB(condition_failed(), {"Item": stored})
    created, item = payments_store.PaymentsStore(fake, "t").put_new(PAYMENT)
    assert (created, item) == (False, PAYMENT)
    assert [name for name, _ in fake.calls] == ["put_item", "get_item"]


def test_put_new_of_an_item_that_vanished_is_an_error():
    fake = FakeDynamoDB(condition_failed(), {})
    with pytest.raises(payments_store.PaymentStateError, match="vanished"):
        payments_store.PaymentsStore(fake, "t").put_new(PAYMENT)


def test_put_new_propagates_other_errors():
    error = ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "PutItem")
    with pytest.raises(ClientError):
        payments_store.PaymentsStore(FakeDynamoDB(error), "t").put_new(PAYMENT)


def test_mark_processed_propagates_other_errors():
    error = ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "UpdateItem")
    with pytest.raises(ClientError):
        payments_store.PaymentsStore(FakeDynamoDB(error), "t").mark_processed(PAYMENT, "now")


def test_mark_processed_of_a_missing_payment_is_an_error():
    with pytest.raises(payments_store.PaymentStateError, match="does not exist"):
        payments_store.PaymentsStore(FakeDynamoDB(condition_failed()), "t").mark_processed(PAYMENT, "now")


# --- Audit and events ------------------------------------------------------------------------------


class FakeS3:
    def __init__(self, error):
        self.error = error

    def put_object(self, **_kwargs):
        raise self.error


def test_audit_write_once_treats_an_existing_object_as_written():
    error = ClientError(
        {"Error": {"Code": "PreconditionFailed", "Message": "At least one precondition failed"}}, "PutObject"
    )
    assert audit_log.write_once(FakeS3(error), "bucket", "key", b"{}") is False


def test_audit_write_once_propagates_other_errors():
    error = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")
    with pytest.raises(ClientError):
        audit_log.write_once(FakeS3(error), "bucket", "key", b"{}")


def test_audit_keys_are_dated_by_creation():
    assert audit_log.object_key(PAYMENT) == f"audit/2026/01/01/{PAYMENT['payment_id']}.json"


def test_source_fingerprints_are_stable_and_do_not_contain_the_token():
    fingerprint = audit_log.source_fingerprint(VALID_BODY["source"])
    assert fingerprint == audit_log.source_fingerprint(VALID_BODY["source"])
    assert VALID_BODY["source"] not in fingerprint
    assert fingerprint != audit_log.source_fingerprint(VALID_BODY["source"] + "x")


class FakeEvents:
    def __init__(self, response):
        self.response = response
        self.entries = None

    def put_events(self, Entries):  # noqa: N803 (the boto3 parameter name)
        self.entries = Entries
        return self.response


def test_publish_raises_when_eventbridge_rejects_the_entry():
    fake = FakeEvents({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]})
    with pytest.raises(payment_events.EventPublishError, match="InternalFailure"):
        payment_events.publish_payment_created(fake, "bus", PAYMENT)


def test_publish_sends_exactly_the_contract_detail():
    fake = FakeEvents({"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]})
    payment_events.publish_payment_created(fake, "bus", {**PAYMENT, "source": "tok_secret"})
    (entry,) = fake.entries
    assert entry["EventBusName"] == "bus"
    assert entry["Source"] == "payments.api"
    assert entry["DetailType"] == "PaymentCreated"
    assert "tok_secret" not in entry["Detail"]
