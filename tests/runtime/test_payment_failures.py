"""Unexpected failures: 500 with a request id and no detail, the idempotency record released, and a
retry with the same key completing the payment with exactly one of each side effect."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from payments_testkit import AUDIT_BUCKET, EVENT_BUS, IDEMPOTENCY_TABLE, PAYMENTS_TABLE, FakeLambdaContext, sqs_event
from sample_request import VALID_BODY

INTERNAL_WORDS = ("Throttl", "ClientError", "Traceback", PAYMENTS_TABLE, IDEMPOTENCY_TABLE, AUDIT_BUCKET, EVENT_BUS)


def client_error(operation: str, code: str = "ProvisionedThroughputExceededException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"injected {code} for {EVENT_BUS}"}}, operation)


def fail_once(monkeypatch, client, operation: str, *, when=lambda _kwargs: True, error=None):
    """Make `client.<operation>` raise once (for calls matching `when`), then behave normally."""
    original = getattr(client, operation)
    calls = {"failed": 0}

    def failing(**kwargs):
        if not calls["failed"] and when(kwargs):
            calls["failed"] += 1
            raise error or client_error(operation)
        return original(**kwargs)

    monkeypatch.setattr(client, operation, failing)
    return calls


def on_table(name):
    return lambda kwargs: kwargs.get("TableName") == name


def assert_internal_error(response) -> None:
    assert response.status == 500
    assert response.body == {"error": {"code": "internal_error", "message": response.error["message"], "field": None}}
    assert response.request_id in response.error["message"]
    assert response.headers["X-Request-Id"] == response.request_id
    for word in INTERNAL_WORDS:
        assert word not in response.raw_body


def assert_retry_completes(client, aws, *, replayed: bool = False) -> None:
    retry = client.post(VALID_BODY, key="order-1001")
    assert retry.status == 201, retry.body
    assert ("Idempotent-Replayed" in retry.headers) is replayed
    aws.assert_one_of_each()
    assert client.post(VALID_BODY, key="order-1001").headers["Idempotent-Replayed"] == "true"


def test_payment_write_failure_is_500_then_the_retry_succeeds(client, aws, api, monkeypatch):
    calls = fail_once(monkeypatch, api.dynamodb_client, "put_item", when=on_table(PAYMENTS_TABLE))

    response = client.post(VALID_BODY, key="order-1001")

    assert calls["failed"] == 1
    assert_internal_error(response)
    aws.assert_nothing_written()  # includes: the idempotency record was released
    assert_retry_completes(client, aws)


def test_audit_write_failure_is_500_then_the_retry_completes_the_same_payment(client, aws, api, monkeypatch):
    fail_once(monkeypatch, api.s3_client, "put_object", error=client_error("PutObject", "InternalError"))

    response = client.post(VALID_BODY, key="order-1001")

    assert_internal_error(response)
    (item,) = aws.payment_items()  # the item was written before the failure
    assert aws.audit_versions() == []
    assert aws.events_published() == []
    assert aws.idempotency_records() == []
    assert_retry_completes(client, aws)
    (after,) = aws.payment_items()
    after.pop("event_published_at")
    assert after == item  # the same payment (same created_at), completed, not a new one


def test_event_entry_rejected_by_eventbridge_is_500_then_one_event(client, aws, api, monkeypatch):
    original = api.events_client.put_events
    rejected = {"count": 0}

    def put_events(**kwargs):
        if not rejected["count"]:
            rejected["count"] += 1
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}
        return original(**kwargs)

    monkeypatch.setattr(api.events_client, "put_events", put_events)

    response = client.post(VALID_BODY, key="order-1001")

    assert_internal_error(response)
    assert len(aws.payment_items()) == 1
    assert len(aws.audit_versions()) == 1
    assert aws.events_published() == []
    assert aws.idempotency_records() == []
    assert_retry_completes(client, aws)


def test_event_call_failure_is_500_then_one_event(client, aws, api, monkeypatch):
    fail_once(monkeypatch, api.events_client, "put_events", error=client_error("PutEvents", "InternalException"))
    assert_internal_error(client.post(VALID_BODY, key="order-1001"))
    assert_retry_completes(client, aws)


def test_failure_to_record_the_published_event_republishes_it_once_on_retry(client, aws, api, monkeypatch, processor):
    """The one at-least-once window: the event went out but recording that failed. The retry
    publishes again; the processor makes a single transition for both deliveries."""
    fail_once(monkeypatch, api.dynamodb_client, "update_item", when=on_table(PAYMENTS_TABLE))

    assert_internal_error(client.post(VALID_BODY, key="order-1001"))
    retry = client.post(VALID_BODY, key="order-1001")

    assert retry.status == 201
    assert len(aws.payment_items()) == 1
    assert len(aws.audit_versions()) == 1
    messages = aws.sqs_messages()
    assert len(messages) == 2
    result = processor.handler(sqs_event([message["Body"] for message in messages]), FakeLambdaContext())
    assert result == {"batchItemFailures": []}
    assert aws.payment_item(retry.body["id"])["status"] == {"S": "processed"}


def test_failure_to_save_the_idempotent_response_is_500_and_the_record_is_released(client, aws, api, monkeypatch):
    fail_once(monkeypatch, api.dynamodb_client, "update_item", when=on_table(IDEMPOTENCY_TABLE))

    response = client.post(VALID_BODY, key="order-1001")

    assert_internal_error(response)
    aws.assert_one_of_each()  # every side effect happened before the failure
    assert aws.idempotency_records() == []  # released by the function (Powertools leaves it in progress)
    # The retry finds every side effect done: nothing new is written, the payment is replayed.
    assert_retry_completes(client, aws, replayed=True)


def test_failure_to_release_after_an_error_is_retried_by_the_function(client, aws, api, monkeypatch):
    fail_once(monkeypatch, api.s3_client, "put_object", error=client_error("PutObject", "InternalError"))
    fail_once(monkeypatch, api.dynamodb_client, "delete_item", when=on_table(IDEMPOTENCY_TABLE))

    assert_internal_error(client.post(VALID_BODY, key="order-1001"))
    assert aws.idempotency_records() == []
    assert_retry_completes(client, aws)


def test_when_the_record_cannot_be_released_at_all_the_key_frees_at_the_in_progress_timeout(
    client, aws, api, monkeypatch, caplog
):
    fail_once(monkeypatch, api.s3_client, "put_object", error=client_error("PutObject", "InternalError"))
    original_delete = api.dynamodb_client.delete_item

    def delete_item(**kwargs):
        if kwargs.get("TableName") == IDEMPOTENCY_TABLE:
            raise client_error("DeleteItem")
        return original_delete(**kwargs)

    monkeypatch.setattr(api.dynamodb_client, "delete_item", delete_item)

    # The failing invocation had 1 s left: its in-progress record expires then.
    started = time.monotonic()
    response = client.post(VALID_BODY, key="order-1001", context=FakeLambdaContext(remaining_millis=1000))
    assert_internal_error(response)
    assert any(record.getMessage().startswith("Could not release the idempotency record") for record in caplog.records)
    assert len(aws.idempotency_records()) == 1
    assert client.post(VALID_BODY, key="order-1001").status == 409  # still in progress

    monkeypatch.setattr(api.dynamodb_client, "delete_item", original_delete)
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert_retry_completes(client, aws)


def test_idempotency_store_failure_before_any_work_is_500_and_writes_nothing(client, aws, api, monkeypatch):
    fail_once(monkeypatch, api.dynamodb_client, "put_item", when=on_table(IDEMPOTENCY_TABLE))

    assert_internal_error(client.post(VALID_BODY, key="order-1001"))
    aws.assert_nothing_written()
    assert_retry_completes(client, aws)


def test_read_failure_is_500(client, aws, api, monkeypatch):
    created = client.post(VALID_BODY, key="order-1001")
    fail_once(monkeypatch, api.dynamodb_client, "get_item")

    response = client.get(created.body["id"])

    assert_internal_error(response)
    assert client.get(created.body["id"]).status == 200


def test_an_unexpected_exception_is_logged_with_detail_but_answered_without(client, aws, api, monkeypatch, caplog):
    def explode(_item):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api.store, "put_new", explode)
    response = client.post(VALID_BODY, key="order-1001")

    assert_internal_error(response)
    assert "secret internal detail" not in response.raw_body
    (error,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert error.getMessage() == "Unexpected error"
    assert str(error.exc_info[1]) == "secret internal detail"
    aws.assert_nothing_written()


@pytest.mark.parametrize("status", ["failed", "refunded"])
def test_payment_in_another_state_is_still_readable(status, client, aws):
    created = client.post(VALID_BODY, key="order-1001")
    aws.dynamodb.update_item(
        TableName=PAYMENTS_TABLE,
        Key={"payment_id": {"S": created.body["id"]}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )
    assert client.get(created.body["id"]).body["status"] == status
