"""POST /payments: the 201, its side effects (item, audit object, event) and idempotent replays."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid

import pytest
import validation
from payments_testkit import AUDIT_BUCKET, PAYMENTS_TABLE, FakeLambdaContext, rest_event
from sample_request import VALID_BODY

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
PUBLIC_FIELDS = {"id", "status", "amount", "currency", "merchant_id", "created_at"}


def test_create_returns_201_with_the_payment(client, aws):
    context = FakeLambdaContext()
    response = client.post(VALID_BODY, key="order-1001", context=context)

    assert response.status == 201
    assert set(response.body) == PUBLIC_FIELDS
    assert response.body["id"] == validation.derive_payment_id("merchant_42", "order-1001")
    assert response.body["status"] == "pending"
    assert response.body["amount"] == 1250
    assert response.body["currency"] == "USD"
    assert response.body["merchant_id"] == "merchant_42"
    assert ISO_UTC.fullmatch(response.body["created_at"])
    assert "Idempotent-Replayed" not in response.headers
    assert response.headers["X-Request-Id"] == context.aws_request_id


def test_the_item_is_written_with_its_attributes(client, aws):
    response = client.post(VALID_BODY, key="order-1001")
    item = aws.payment_item(response.body["id"])

    assert item["status"] == {"S": "pending"}
    assert item["amount"] == {"N": "1250"}
    assert item["currency"] == {"S": "USD"}
    assert item["merchant_id"] == {"S": "merchant_42"}
    assert item["created_at"] == {"S": response.body["created_at"]}
    assert item["description"] == {"S": "Order #1001"}
    assert item["metadata"] == {"M": {"order_id": {"S": "1001"}, "channel": {"S": "web"}}}
    assert item["idempotency_key_hash"] == {"S": hashlib.sha256(b"order-1001").hexdigest()}
    assert item["source_fingerprint"]["S"].startswith("sha256:")
    assert item["environment"] == {"S": "dev"}
    assert "event_published_at" in item


def test_the_audit_object_records_who_what_when_and_the_request_id(client, aws):
    context = FakeLambdaContext()
    response = client.post(VALID_BODY, key="order-1001", context=context)
    payment_id, created_at = response.body["id"], response.body["created_at"]

    objects = aws.audit_objects()
    key = f"audit/{created_at[:4]}/{created_at[5:7]}/{created_at[8:10]}/{payment_id}.json"
    assert list(objects) == [key]
    record = json.loads(objects[key])
    assert record["who"]["merchant_id"] == "merchant_42"
    assert record["who"]["user_arn"].endswith(":assumed-role/checkout/session")
    assert record["who"]["source_ip"] == "198.51.100.7"
    assert record["what"]["action"] == "PaymentCreated"
    assert record["what"]["payment_id"] == payment_id
    assert record["what"]["amount"] == 1250
    assert record["what"]["amount_major"] == "12.50"
    assert record["what"]["source_fingerprint"].startswith("sha256:")
    assert record["when"] == created_at
    assert record["request_id"] == context.aws_request_id
    # The bucket's default encryption applies (the function does not override it).
    head = aws.s3.head_object(Bucket=AUDIT_BUCKET, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ContentType"] == "application/json"


@pytest.mark.parametrize(
    "source",
    [
        "tok_visa_4242424242424242",
        "pm_" + uuid.uuid4().hex,
        "src_ünïcødé_tøkén_Ω",
        "t" * 128,
        'tok_with_"quotes"_and_\\backslash',
    ],
    ids=["card-token", "random", "unicode", "128-chars", "json-escapes"],
)
def test_the_audit_object_never_contains_the_source_token(source, client, aws):
    response = client.post({**VALID_BODY, "source": source})
    assert response.status == 201

    (raw,) = aws.audit_objects().values()
    text = raw.decode("utf-8")
    assert source not in text
    assert json.dumps(source) not in text  # nor its JSON-escaped form
    assert json.dumps(source, ensure_ascii=True)[1:-1] not in text
    assert source.encode("utf-8") not in raw
    # Nor in the event or the response.
    assert source not in json.dumps(aws.events_published())
    assert source not in response.raw_body


def test_one_payment_created_event_is_published_on_the_bus(client, aws):
    response = client.post(VALID_BODY)

    (event,) = aws.events_published()
    assert event["source"] == "payments.api"
    assert event["detail-type"] == "PaymentCreated"
    assert event["detail"] == {
        "payment_id": response.body["id"],
        "amount": 1250,
        "currency": "USD",
        "merchant_id": "merchant_42",
        "created_at": response.body["created_at"],
    }


def test_the_test_world_is_account_111111111111_in_us_east_1(aws):
    arn = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn.startswith("arn:aws:sqs:us-east-1:111111111111:")


def test_the_idempotency_record_is_kept_for_24_hours(client, aws):
    before = time.time()
    client.post(VALID_BODY, key="order-1001")

    (record,) = aws.idempotency_records()
    assert record["status"] == {"S": "COMPLETED"}
    assert before + 86_400 - 5 <= int(record["expiration"]["N"]) <= time.time() + 86_400 + 5
    assert record["id"]["S"].startswith("payments-api.create_payment#")


def test_replay_returns_the_identical_status_and_body_with_the_replayed_header(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    replay = client.post(VALID_BODY, key="order-1001")

    assert replay.status == first.status == 201
    assert replay.raw_body == first.raw_body
    assert replay.headers["Idempotent-Replayed"] == "true"
    aws.assert_one_of_each()


def test_a_semantically_identical_body_is_a_replay(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    reordered = json.dumps(dict(reversed(list(VALID_BODY.items()))), indent=2)
    replay = client.post(raw=reordered, key="order-1001")

    assert replay.status == 201
    assert replay.raw_body == first.raw_body
    assert replay.headers["Idempotent-Replayed"] == "true"
    aws.assert_one_of_each()


def test_replay_returns_the_first_body_even_after_processing(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    aws.dynamodb.update_item(
        TableName=PAYMENTS_TABLE,
        Key={"payment_id": {"S": first.body["id"]}},
        UpdateExpression="SET #s = :p",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":p": {"S": "processed"}},
    )
    replay = client.post(VALID_BODY, key="order-1001")
    assert replay.raw_body == first.raw_body
    assert replay.body["status"] == "pending"


@pytest.mark.parametrize(
    "changes",
    [{"amount": 1251}, {"description": "Order #1002"}, {"metadata": {}}, {"merchant_id": "merchant_43"}],
    ids=["amount", "description", "metadata", "merchant"],
)
def test_same_key_different_body_is_422_and_writes_nothing(changes, client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    records_before = aws.idempotency_records()

    response = client.post({**VALID_BODY, **changes}, key="order-1001")

    assert response.status == 422
    assert response.error == {
        "code": "idempotency_key_reused",
        "message": response.error["message"],
        "field": "Idempotency-Key",
    }
    aws.assert_one_of_each()
    assert aws.idempotency_records() == records_before
    # The original request still replays.
    assert client.post(VALID_BODY, key="order-1001").raw_body == first.raw_body


def test_header_names_are_case_insensitive(client, aws):
    event = rest_event(
        "POST",
        "/payments",
        "/payments",
        headers={"content-type": "application/json; charset=UTF-8", "IDEMPOTENCY-KEY": "order-1001"},
        body=json.dumps(VALID_BODY),
    )
    response = client.invoke(event)
    assert response.status == 201
    assert response.body["id"] == validation.derive_payment_id("merchant_42", "order-1001")


def test_single_value_headers_without_multi_value_headers_are_read(client, aws):
    event = rest_event(
        "POST",
        "/payments",
        "/payments",
        headers={"Content-Type": "application/json", "Idempotency-Key": "order-1001"},
        body=json.dumps(VALID_BODY),
    )
    event["multiValueHeaders"] = None
    assert client.invoke(event).status == 201


def test_base64_encoded_bodies_are_accepted(client, aws):
    event = rest_event(
        "POST",
        "/payments",
        "/payments",
        headers={"Content-Type": "application/json", "Idempotency-Key": "order-1001"},
        body=base64.b64encode(json.dumps(VALID_BODY).encode()).decode(),
        is_base64_encoded=True,
    )
    assert client.invoke(event).status == 201


def test_a_body_of_exactly_16_kib_is_accepted(client, aws):
    text = json.dumps(VALID_BODY)
    response = client.post(raw=text + " " * (16 * 1024 - len(text.encode())))
    assert response.status == 201


@pytest.mark.parametrize(("currency", "major"), [("JPY", "99999999"), ("KWD", "99999.999"), ("USD", "999999.99")])
def test_the_maximum_amount_in_zero_two_and_three_decimal_currencies(currency, major, client, aws):
    response = client.post({**VALID_BODY, "amount": 99_999_999, "currency": currency})
    assert response.status == 201
    (raw,) = aws.audit_objects().values()
    assert json.loads(raw)["what"]["amount_major"] == major


def test_minimal_body_without_optional_fields(client, aws):
    body = {"amount": 1, "currency": "EUR", "merchant_id": "m", "source": "t"}
    response = client.post(body)
    assert response.status == 201
    item = aws.payment_item(response.body["id"])
    assert "description" not in item
    assert "metadata" not in item


def test_different_keys_create_different_payments(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    second = client.post(VALID_BODY, key="order-1002")
    assert first.body["id"] != second.body["id"]
    assert len(aws.payment_items()) == 2
    assert len(aws.audit_versions()) == 2
    assert len(aws.events_published()) == 2


def test_same_key_reused_after_the_idempotency_window_replays_the_same_payment(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    aws.delete_idempotency_records()  # what the 24-hour TTL does

    again = client.post(VALID_BODY, key="order-1001")

    assert again.status == 201
    assert again.raw_body == first.raw_body
    assert again.headers["Idempotent-Replayed"] == "true"
    aws.assert_one_of_each()


def test_same_key_reused_after_the_window_for_another_payment_is_422(client, aws):
    client.post(VALID_BODY, key="order-1001")
    aws.delete_idempotency_records()

    response = client.post({**VALID_BODY, "amount": 999}, key="order-1001")

    assert response.status == 422
    assert response.error["code"] == "idempotency_key_reused"
    assert response.error["field"] == "Idempotency-Key"
    aws.assert_one_of_each()
    assert aws.idempotency_records() == []  # released: nothing pending under this key


def test_the_same_key_for_another_merchant_after_the_window_is_another_payment(client, aws):
    first = client.post(VALID_BODY, key="order-1001")
    aws.delete_idempotency_records()
    second = client.post({**VALID_BODY, "merchant_id": "merchant_43"}, key="order-1001")
    assert second.status == 201
    assert second.body["id"] != first.body["id"]
