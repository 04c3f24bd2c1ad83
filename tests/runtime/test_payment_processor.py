"""The event processor: pending -> processed once, partial batch failures, poison messages."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError
from payments_testkit import PAYMENTS_TABLE, FakeLambdaContext, sqs_event
from sample_request import VALID_BODY


def create(client, key: str, **changes) -> dict:
    response = client.post({**VALID_BODY, **changes}, key=key)
    assert response.status == 201
    return response.body


def process(processor, bodies: list[str]) -> dict:
    return processor.handler(sqs_event(bodies), FakeLambdaContext(function_name="payment-processor-test"))


def eventbridge_event(detail, **overrides) -> str:
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "PaymentCreated",
        "source": "payments.api",
        "account": "111111111111",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    event.update(overrides)
    return json.dumps(event)


def status_of(aws, payment_id: str) -> str:
    return aws.payment_item(payment_id)["status"]["S"]


def test_published_events_move_their_payments_to_processed(client, aws, processor):
    first, second = create(client, "order-1"), create(client, "order-2", amount=5, currency="JPY")
    bodies = [message["Body"] for message in aws.sqs_messages()]
    assert len(bodies) == 2

    assert process(processor, bodies) == {"batchItemFailures": []}

    assert status_of(aws, first["id"]) == "processed"
    assert status_of(aws, second["id"]) == "processed"
    assert client.get(first["id"]).body["status"] == "processed"


def test_a_duplicate_delivery_changes_nothing(client, aws, processor):
    payment = create(client, "order-1")
    (body,) = [message["Body"] for message in aws.sqs_messages()]

    assert process(processor, [body, body]) == {"batchItemFailures": []}  # twice in one batch
    item = aws.payment_item(payment["id"])
    assert process(processor, [body]) == {"batchItemFailures": []}  # and again later

    assert aws.payment_item(payment["id"]) == item  # processed_at unchanged: one transition
    assert item["status"] == {"S": "processed"}


POISON = {
    "not-json": "this is not json",
    "json-array": "[1, 2]",
    "json-null": "null",
    "other-source": eventbridge_event({"payment_id": str(uuid.uuid4())}, source="payments.other"),
    "other-detail-type": eventbridge_event({"payment_id": str(uuid.uuid4())}, **{"detail-type": "PaymentFailed"}),
    "no-detail": eventbridge_event(None),
    "detail-not-object": eventbridge_event("payment"),
    "bad-payment-id": eventbridge_event(
        {"payment_id": "nope", "amount": 1, "currency": "USD", "merchant_id": "m", "created_at": "x"}
    ),
    "bad-amount": eventbridge_event(
        {"payment_id": str(uuid.uuid4()), "amount": "1", "currency": "USD", "merchant_id": "m"}
    ),
    "bad-currency": eventbridge_event(
        {"payment_id": str(uuid.uuid4()), "amount": 1, "currency": "usd", "merchant_id": "m"}
    ),
    "bad-merchant": eventbridge_event(
        {"payment_id": str(uuid.uuid4()), "amount": 1, "currency": "USD", "merchant_id": "m m"}
    ),
    "unknown-payment": eventbridge_event(
        {"payment_id": str(uuid.uuid4()), "amount": 1, "currency": "USD", "merchant_id": "m"}
    ),
}


def test_poison_messages_fail_alone_and_the_good_records_succeed(client, aws, processor):
    good = create(client, "order-1")
    (good_body,) = [message["Body"] for message in aws.sqs_messages()]
    bodies = [*POISON.values(), good_body]

    result = process(processor, bodies)

    failed = {failure["itemIdentifier"] for failure in result["batchItemFailures"]}
    assert failed == {f"msg-{index}" for index in range(len(POISON))}
    assert status_of(aws, good["id"]) == "processed"


@pytest.mark.parametrize(
    "tamper", [{"amount": 1}, {"currency": "EUR"}, {"merchant_id": "merchant_43"}], ids=lambda t: next(iter(t))
)
def test_an_event_that_does_not_match_its_payment_fails(tamper, client, aws, processor):
    payment = create(client, "order-1")
    (body,) = [message["Body"] for message in aws.sqs_messages()]
    event = json.loads(body)
    event["detail"].update(tamper)

    result = process(processor, [json.dumps(event)])

    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert status_of(aws, payment["id"]) == "pending"


def test_a_payment_in_an_unexpected_state_fails(client, aws, processor):
    payment = create(client, "order-1")
    (body,) = [message["Body"] for message in aws.sqs_messages()]
    aws.dynamodb.update_item(
        TableName=PAYMENTS_TABLE,
        Key={"payment_id": {"S": payment["id"]}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "failed"}},
    )
    assert process(processor, [body]) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert status_of(aws, payment["id"]) == "failed"


def test_a_batch_where_every_record_fails_is_reported_not_raised(aws, processor):
    result = process(processor, ["x", "y"])
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}, {"itemIdentifier": "msg-1"}]}


def test_a_dynamodb_error_fails_only_that_record(client, aws, processor, monkeypatch):
    first, second = create(client, "order-1"), create(client, "order-2")
    bodies = [message["Body"] for message in aws.sqs_messages()]
    failing_id = json.loads(bodies[0])["detail"]["payment_id"]
    original = processor.dynamodb_client.update_item

    def update_item(**kwargs):
        if kwargs["Key"]["payment_id"]["S"] == failing_id:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")
        return original(**kwargs)

    monkeypatch.setattr(processor.dynamodb_client, "update_item", update_item)

    assert process(processor, bodies) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    statuses = {payment["id"]: status_of(aws, payment["id"]) for payment in (first, second)}
    assert sorted(statuses.values()) == ["pending", "processed"]
    assert statuses[failing_id] == "pending"
