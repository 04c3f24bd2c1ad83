"""Payment API and its side effects: create, replay, conflict, bad input, read, audit, event, processing.

The checks run in file order and share the payment created first. Smoke data is marked: merchant
`smoke-<run id>`, metadata `{"purpose": "smoke-test", "smoke_run": <run id>}`, idempotency keys
`smoke-<run id>-...`; the last check deletes every payment, idempotency record and audit object it
created (a payment the processor has not reached yet is left alone, so a late event cannot end in the
dead-letter queue, and reported).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from product import contract
from product.contract import Output
from tests.smoke.api_client import ApiClient, Response
from tests.smoke.support import eventually
from tests.smoke.target import Target

# The payment API keeps its idempotency records under this prefix (assets/lambda/payments/api.py,
# Powertools' `key_prefix#sha256(json(key))`); used only to delete the suite's own records.
IDEMPOTENCY_KEY_PREFIX = "payments-api.create_payment"
SMOKE_TAG = os.environ.get(contract.SMOKE_TAG_VARIABLE, contract.SMOKE_TAG)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ERROR_FIELDS = {"code", "message", "field"}


@dataclass
class Flow:
    run_id: str
    merchant_id: str
    created: dict[str, dict[str, Any]] = field(default_factory=dict)  # payment id -> {key, created_at}
    first: Response | None = None
    body: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    processed: set[str] = field(default_factory=set)
    cleaned: bool = False

    def new_key(self, purpose: str) -> str:
        return f"smoke-{self.run_id}-{purpose}"[:255]

    def remember(self, response: Response, key: str) -> None:
        if response.status == 201:
            payment = response.json()
            self.created.setdefault(payment["id"], {"key": key, "created_at": payment["created_at"]})


def _body(flow: Flow, amount: int = 1250) -> dict[str, Any]:
    tag_key, _, tag_value = SMOKE_TAG.partition("=")
    return {
        "amount": amount,
        "currency": "USD",
        "merchant_id": flow.merchant_id,
        "source": f"tok_smoke_{flow.run_id}",
        "description": "post-deploy smoke test",
        "metadata": {
            tag_key or contract.SMOKE_TAG_KEY: tag_value or contract.SMOKE_TAG_VALUE,
            "smoke_run": flow.run_id,
        },
    }


def _error(response: Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_FIELDS, f"not the error shape: {body}"
    return body["error"]


@pytest.fixture(scope="module")
def flow(run_id: str, target: Target, aws, pytestconfig: pytest.Config):
    state = Flow(run_id=run_id, merchant_id=f"smoke-{run_id}"[:64])
    yield state
    if not state.cleaned:  # the cleanup check did not run or failed half-way: best effort, no assertion
        _cleanup(state, target, aws, float(pytestconfig.getoption("--processing-timeout")))


@pytest.fixture(scope="module")
def created(flow: Flow, api: ApiClient) -> Response:
    flow.body = _body(flow)
    flow.key = flow.new_key("create")
    response = api.create(flow.body, flow.key)
    flow.remember(response, flow.key)
    flow.first = response
    return response


def _method(target: Target, http_method: str) -> str:
    return next(
        lid for lid, _ in target.of_type("AWS::ApiGateway::Method") if target.prop(lid, "HttpMethod") == http_method
    )


def _api_function(target: Target) -> str:
    name = target.outputs[Output.PAYMENT_FUNCTION_NAME]
    return target.find("AWS::Lambda::Function", FunctionName=name)


def test_unsigned_request_rejected(target: Target, api: ApiClient, subject) -> None:
    """A request without a SigV4 signature is refused (403) by IAM authorization"""
    subject(_method(target, "GET"), "GET /payments/{id}")
    response = api.request("GET", f"payments/{uuid.uuid4()}", sign=False)
    assert response.status == 403, response.describe()


def test_create_payment(created: Response, flow: Flow, target: Target, subject) -> None:
    """POST /payments creates a pending payment (201)"""
    subject(_method(target, "POST"), "POST /payments")
    subject(_api_function(target), target.outputs[Output.PAYMENT_FUNCTION_NAME])
    assert created.status == 201, created.describe()
    assert (created.header("content-type") or "").startswith("application/json")
    assert created.header("x-request-id"), "no X-Request-Id header"
    payment = created.json()
    assert UUID.match(payment["id"]), payment
    assert payment["status"] == "pending"
    assert {k: payment[k] for k in ("amount", "currency", "merchant_id")} == {
        k: flow.body[k] for k in ("amount", "currency", "merchant_id")
    }
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", payment["created_at"]), payment["created_at"]
    assert "source" not in payment


def test_replay_returns_first_response(created: Response, flow: Flow, api: ApiClient, target: Target, subject) -> None:
    """The same key and body again: the first response, byte for byte, marked Idempotent-Replayed"""
    subject(_method(target, "POST"), "POST /payments")
    assert created.status == 201, "no payment was created"
    replay = api.create(flow.body, flow.key)
    assert replay.status == 201, replay.describe()
    assert replay.body == created.body
    assert (replay.header("idempotent-replayed") or "").lower() == "true"


def test_key_reuse_with_other_body(created: Response, flow: Flow, api: ApiClient, target: Target, subject) -> None:
    """The same key with a different body is refused (422) and writes nothing"""
    subject(_method(target, "POST"), "POST /payments")
    assert created.status == 201, "no payment was created"
    response = api.create({**flow.body, "amount": flow.body["amount"] + 1}, flow.key)
    assert response.status == 422, response.describe()
    assert _error(response)["code"] == "idempotency_key_reused"
    assert api.read(created.json()["id"]).json()["amount"] == flow.body["amount"]


BAD_INPUTS = {
    "missing-idempotency-key": lambda body: (body, None, "application/json"),
    "malformed-json": lambda _body: ('{"amount": 1250,', "k", "application/json"),
    "wrong-content-type": lambda body: (json.dumps(body), "k", "text/plain"),
    "unknown-field": lambda body: ({**body, "card_number": "4242424242424242"}, "k", "application/json"),
    "amount-not-integer": lambda body: ({**body, "amount": 12.5}, "k", "application/json"),
    "unsupported-currency": lambda body: ({**body, "currency": "XXX"}, "k", "application/json"),
    "body-over-16-kib": lambda body: ({**body, "description": "x" * 17_000}, "k", "application/json"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_rejected(case: str, flow: Flow, api: ApiClient, target: Target, subject) -> None:
    """Bad input is refused with 400 and the contract's error body"""
    subject(_method(target, "POST"), "POST /payments")
    payload, key, content_type = BAD_INPUTS[case](_body(flow))
    response = api.create(payload, None if key is None else flow.new_key(f"bad-{case}"), content_type=content_type)
    flow.remember(response, "unexpected")
    assert response.status == 400, response.describe()
    error = _error(response)
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"], error


def test_bad_input_does_not_consume_key(flow: Flow, api: ApiClient, target: Target, subject) -> None:
    """After a 400 the same key still creates the payment (nothing was written)"""
    subject(_method(target, "POST"), "POST /payments")
    key = flow.new_key("retry-after-400")
    refused = api.create({**_body(flow, 990), "amount": 9.9}, key)
    assert refused.status == 400, refused.describe()
    accepted = api.create(_body(flow, 990), key)
    flow.remember(accepted, key)
    assert accepted.status == 201, accepted.describe()
    assert accepted.header("idempotent-replayed") is None, "the refused request consumed the key"


def test_read_payment(created: Response, api: ApiClient, target: Target, subject) -> None:
    """GET /payments/{id} returns the payment (200)"""
    subject(_method(target, "GET"), "GET /payments/{id}")
    assert created.status == 201, "no payment was created"
    payment = created.json()
    response = api.read(payment["id"])
    assert response.status == 200, response.describe()
    read = response.json()
    assert {k: v for k, v in read.items() if k != "status"} == {k: v for k, v in payment.items() if k != "status"}
    assert read["status"] in ("pending", "processed")


def test_read_unknown_payment(api: ApiClient, target: Target, subject) -> None:
    """GET of a well-formed unknown id is 404 payment_not_found"""
    subject(_method(target, "GET"), "GET /payments/{id}")
    response = api.read(str(uuid.uuid4()))
    assert response.status == 404, response.describe()
    assert _error(response)["code"] == "payment_not_found"


def test_read_malformed_id(api: ApiClient, target: Target, subject) -> None:
    """GET of a malformed id is 400 naming the id"""
    subject(_method(target, "GET"), "GET /payments/{id}")
    response = api.read("not-a-payment-id")
    assert response.status == 400, response.describe()
    assert _error(response)["field"] == "id"


def _audit_key(payment: dict[str, Any]) -> str:
    created_at = payment["created_at"]
    return f"audit/{created_at[0:4]}/{created_at[5:7]}/{created_at[8:10]}/{payment['id']}.json"


def test_audit_object(created: Response, flow: Flow, target: Target, aws, subject) -> None:
    """One audit object per payment: who, what, when, request id, and never the payment token"""
    bucket = target.outputs[Output.AUDIT_BUCKET_NAME]
    subject(target.find("AWS::S3::Bucket", BucketName=bucket), bucket)
    assert created.status == 201, "no payment was created"
    payment = created.json()
    key = _audit_key(payment)
    s3 = aws("s3")
    versions = [v for v in s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", []) if v["Key"] == key]
    assert len(versions) == 1, f"{len(versions)} versions of s3://{bucket}/{key} (the replay must not add one)"
    raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert flow.body["source"].encode() not in raw, "the audit object holds the payment token in clear"
    record = json.loads(raw)
    assert record["what"]["payment_id"] == payment["id"]
    assert record["who"]["merchant_id"] == flow.merchant_id
    assert record["when"] == payment["created_at"]
    assert record.get("request_id"), "no request id"
    assert record["environment"] == target.stage


def test_payment_created_published(created: Response, target: Target, aws, subject) -> None:
    """The PaymentCreated event was published on the payment bus (recorded on the payment item)"""
    bus = target.outputs[Output.EVENT_BUS_NAME]
    subject(next(lid for lid, _ in target.of_type("AWS::Events::EventBus") if target.physical_ids[lid] == bus), bus)
    assert created.status == 201, "no payment was created"
    item = (
        aws("dynamodb")
        .get_item(
            TableName=target.outputs[Output.PAYMENTS_TABLE_NAME],
            Key={"payment_id": {"S": created.json()["id"]}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    assert item is not None, "the payment item is missing"
    assert "event_published_at" in item, "the API did not record publishing PaymentCreated"


def test_processor_marks_processed(
    created: Response, flow: Flow, api: ApiClient, *, target: Target, subject, pytestconfig: pytest.Config, note
) -> None:
    """The event processor moves the payment to processed within the bounded wait"""
    processor = target.outputs[Output.PROCESSOR_FUNCTION_NAME]
    subject(target.find("AWS::Lambda::Function", FunctionName=processor), processor)
    subject(next(lid for lid, _ in target.of_type("AWS::Lambda::EventSourceMapping")))
    assert created.status == 201, "no payment was created"
    timeout = float(pytestconfig.getoption("--processing-timeout"))
    payment_id = created.json()["id"]
    response, waited = eventually(
        lambda: api.read(payment_id),
        lambda r: r.status == 200 and r.json().get("status") == "processed",
        timeout_s=timeout,
    )
    note(f"waited {waited:.1f} s of {timeout:.0f} s")
    assert response.status == 200 and response.json()["status"] == "processed", (
        f"not processed after {timeout:.0f} s: {response.describe()}"
    )
    flow.processed.add(payment_id)


def _idempotency_record_id(key: str) -> str:
    return f"{IDEMPOTENCY_KEY_PREFIX}#{hashlib.sha256(json.dumps(key).encode()).hexdigest()}"


def _cleanup(flow: Flow, target: Target, aws, timeout_s: float) -> list[str]:
    """Delete what the suite created; returns what was left (and why)."""
    left = []
    dynamodb = aws("dynamodb")
    table = target.outputs[Output.PAYMENTS_TABLE_NAME]
    for payment_id, info in flow.created.items():
        item, _ = eventually(
            lambda pid=payment_id: dynamodb.get_item(
                TableName=table, Key={"payment_id": {"S": pid}}, ConsistentRead=True
            ).get("Item"),
            lambda found: found is None or found.get("status", {}).get("S") == "processed",
            timeout_s=0 if payment_id in flow.processed else timeout_s,
        )
        if item is not None and item.get("status", {}).get("S") != "processed":
            left.append(f"{payment_id} (not processed yet: left so its event does not end in the dead-letter queue)")
            continue
        dynamodb.delete_item(TableName=table, Key={"payment_id": {"S": payment_id}})
        if info["key"] != "unexpected":
            dynamodb.delete_item(
                TableName=target.outputs[Output.IDEMPOTENCY_TABLE_NAME],
                Key={"id": {"S": _idempotency_record_id(info["key"])}},
            )
        # The audit object stays: it is the trail that this (smoke) payment happened; tagged by its metadata.
    flow.cleaned = True
    return left


def test_smoke_data_cleaned_up(
    flow: Flow, api: ApiClient, target: Target, *, aws, subject, note, pytestconfig: pytest.Config
) -> None:
    """Smoke data deleted: payment items and idempotency records (audit objects stay as the audit trail)"""
    subject(target.find("AWS::DynamoDB::Table", TableName=target.outputs[Output.PAYMENTS_TABLE_NAME]))
    left = _cleanup(flow, target, aws, float(pytestconfig.getoption("--processing-timeout")))
    note(f"{len(flow.created)} smoke payments of merchant {flow.merchant_id}")
    assert not left, "left in place: " + "; ".join(left)
    for payment_id in flow.created:
        assert api.read(payment_id).status == 404, f"{payment_id} still readable after cleanup"
