"""Payment event processor: SQS batches of PaymentCreated events. Handler: ``processor.handler``.

Each SQS message body is a full EventBridge event (the rule targets the queue without input
transformation). A record moves its payment from ``pending`` to ``processed`` with a conditional
update; a duplicate delivery (payment already processed) succeeds without changing anything. A record
that cannot be processed (malformed body, not a PaymentCreated event, unknown payment, event that
does not match the payment) is reported in ``batchItemFailures``: SQS redelivers only that record and
moves it to the dead-letter queue after maxReceiveCount. The rest of the batch is unaffected.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import init_phase
import payment_events
import payments_store
import runtime_config
import telemetry
import validation
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

CONFIG = runtime_config.RuntimeConfig(runtime_config.PROCESSOR_VARIABLES)
logger, tracer, metrics = telemetry.observability("payments-processor", CONFIG.get("ENVIRONMENT"))
dynamodb_client = telemetry.Clients()("dynamodb")
store = payments_store.PaymentsStore(dynamodb_client, CONFIG.get("PAYMENTS_TABLE_NAME"))

# Report failures record by record, even when the whole batch fails (no exception, no batch retry).
batch_processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class PoisonMessageError(ValueError):
    """The record is not a well-formed PaymentCreated event; retrying it cannot help."""


def parse_payment_created(body: str) -> dict[str, Any]:
    """The event detail of an SQS body holding an EventBridge PaymentCreated event, checked."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError, RecursionError):
        raise PoisonMessageError("message body is not JSON") from None
    if not isinstance(event, dict):
        raise PoisonMessageError("message body is not a JSON object")
    if event.get("source") != payment_events.SOURCE or event.get("detail-type") != payment_events.DETAIL_TYPE:
        raise PoisonMessageError("message is not a PaymentCreated event from payments.api")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise PoisonMessageError("event has no detail object")
    try:
        payment_id = validation.normalize_payment_id(detail.get("payment_id"))
        validation.check_currency(detail.get("currency"))
        validation.check_amount(detail.get("amount"), detail["currency"])
        validation.check_merchant_id(detail.get("merchant_id"))
    except validation.ValidationError as exc:
        raise PoisonMessageError(f"event detail field {exc.field} is invalid") from None
    return {
        "payment_id": payment_id,
        "amount": detail["amount"],
        "currency": detail["currency"],
        "merchant_id": detail["merchant_id"],
    }


def record_handler(record: SQSRecord) -> None:
    try:
        expected = parse_payment_created(record.body)
        transitioned = store.mark_processed(
            expected, dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
    except Exception as exc:
        metrics.add_metric(name="RecordFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "Record failed; it will be retried and then dead-lettered",
            extra={"message_id": record.message_id, "reason": str(exc), "error_type": type(exc).__name__},
        )
        raise
    if transitioned:
        metrics.add_metric(name="PaymentProcessed", unit=MetricUnit.Count, value=1)
        logger.info("Payment processed", extra={"payment_id": expected["payment_id"]})
    else:
        metrics.add_metric(name="DuplicateDelivery", unit=MetricUnit.Count, value=1)
        logger.info("Payment already processed; nothing to do", extra={"payment_id": expected["payment_id"]})


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        CONFIG.require()
    except runtime_config.ConfigurationError:
        # Fail the whole invocation: SQS retries the batch (and dead-letters it eventually); no
        # record is processed against a misconfigured function.
        metrics.add_metric(name="ConfigurationError", unit=MetricUnit.Count, value=1)
        logger.exception("The function is misconfigured")
        raise
    return process_partial_response(
        event=event, record_handler=record_handler, processor=batch_processor, context=context
    )


init_phase.done()  # the last statement: everything above is the init phase
