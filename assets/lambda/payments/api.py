"""Payment API function: API Gateway REST proxy integration (payload v1). Handler: ``api.handler``.

Routes (dispatched on the event's ``resource`` and ``httpMethod``):
- ``POST /payments``      create a payment, idempotent on the ``Idempotency-Key`` header;
- ``GET /payments/{id}``  read a payment.

Creating a payment has three side effects, each exactly once per key: the payment item (conditional
put), the audit object (conditional put, deterministic key) and the PaymentCreated event (last, and
only if the item does not record it as published). The payment id is derived from the merchant and
the key, so a retry after a partial failure finds and completes the same payment instead of creating
another. The contract is docs/api.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import init_phase
import audit_log
import payment_events
import payments_store
import runtime_config
import telemetry
import validation
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
# Stable prefix of the idempotency record ids (the Powertools default embeds the Lambda function name,
# which changes when the function is replaced; records must survive that).
IDEMPOTENCY_KEY_PREFIX = "payments-api.create_payment"
REPLAYED_HEADER = "Idempotent-Replayed"

CONFIG = runtime_config.RuntimeConfig(runtime_config.API_VARIABLES)
logger, tracer, metrics = telemetry.observability("payments-api", CONFIG.get("ENVIRONMENT"))
clients = telemetry.Clients()
dynamodb_client = clients("dynamodb")  # every request reads or writes DynamoDB: created at import
# The audit bucket and the event bus are written by POST only: their clients are created by the first
# create (a cold start that reads skips them), as the module attributes `s3_client` and `events_client`.
LAZY_CLIENTS = {"s3_client": "s3", "events_client": "events"}

store = payments_store.PaymentsStore(dynamodb_client, CONFIG.get("PAYMENTS_TABLE_NAME"))


def __getattr__(name: str) -> Any:
    """`s3_client` and `events_client` on first access; afterwards plain module attributes."""
    service = LAZY_CLIENTS.get(name)
    if service is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    client = globals()[name] = clients(service)
    return client


def _client(name: str) -> Any:
    """The module's client `name` (one of LAZY_CLIENTS), created on first use; a replacement set on the
    module (a test's fake) is used as is."""
    return globals().get(name) or __getattr__(name)


def _mark_replayed(response: dict[str, Any], _record: Any) -> dict[str, Any]:
    """Idempotency response hook: called only when the response comes from the idempotency store."""
    return {**response, "replayed": True}


persistence_layer = DynamoDBPersistenceLayer(
    table_name=CONFIG.get("IDEMPOTENCY_TABLE_NAME"), boto3_client=dynamodb_client
)
idempotency_config = IdempotencyConfig(
    event_key_jmespath="idempotency_key",
    payload_validation_jmespath="body",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
    hash_function="sha256",
    response_hook=_mark_replayed,
)


class ApiError(Exception):
    """An error response other than a 400 validation error or a 500."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        metric: str = "RequestFailed",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers
        self.metric = metric


class _Invocation:
    """Per-request state handed to the idempotent function (never part of the idempotency hash)."""

    def __init__(self, event: dict[str, Any], context: Any) -> None:
        self.request_id: str = getattr(context, "aws_request_id", None) or "unknown"
        request_context = event.get("requestContext") or {}
        identity = request_context.get("identity") or {}
        # The API uses IAM (SigV4) authorization: the caller is an IAM identity.
        self.caller = {
            "user_arn": identity.get("userArn"),
            "account_id": identity.get("accountId"),
            "caller": identity.get("caller"),
            "source_ip": identity.get("sourceIp"),
            "user_agent": identity.get("userAgent"),
            "api_request_id": request_context.get("requestId"),
        }
        self.request: dict[str, Any] | None = None
        self.lock_held = False


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _json(value: Any) -> str:
    """Response bodies: compact, fields in their natural order (replays reuse the stored string)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _response(status: int, body: str, request_id: str, extra_headers: dict[str, str] | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store", "X-Request-Id": request_id}
    if extra_headers:
        headers.update(extra_headers)
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def _error(
    status: int,
    code: str,
    message: str,
    request_id: str,
    *,
    field: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = _json({"error": {"code": code, "message": message, "field": field}})
    return _response(status, body, request_id, extra_headers)


def _header_values(event: dict[str, Any], name: str) -> list[str]:
    """All values of a header, matched case-insensitively (multiValueHeaders preferred)."""
    name = name.lower()
    multi = event.get("multiValueHeaders") or {}
    values = [value for key, items in multi.items() if key.lower() == name for value in items or ()]
    if values:
        return values
    single = event.get("headers") or {}
    return [value for key, value in single.items() if key.lower() == name and value is not None]


def _key_reused(message: str) -> ApiError:
    return ApiError(
        422, "idempotency_key_reused", message, field=validation.IDEMPOTENCY_KEY_HEADER, metric="IdempotencyKeyReused"
    )


@idempotent_function(
    data_keyword_argument="request",
    persistence_store=persistence_layer,
    config=idempotency_config,
    key_prefix=IDEMPOTENCY_KEY_PREFIX,
)
def create_payment(*, request: dict[str, Any], invocation: _Invocation) -> dict[str, Any]:
    """Create the payment and its side effects. Runs only while holding the idempotency record.

    Any exception makes Powertools delete the idempotency record (so a retry can run again).
    """
    invocation.lock_held = True
    body = request["body"]
    idempotency_key = request["idempotency_key"]
    now = _utc_now()
    payment_id = validation.derive_payment_id(body["merchant_id"], idempotency_key)
    logger.append_keys(payment_id=payment_id)
    tracer.put_annotation(key="payment_id", value=payment_id)

    candidate = {
        "payment_id": payment_id,
        "status": payments_store.STATUS_PENDING,
        "amount": body["amount"],
        "currency": body["currency"],
        "merchant_id": body["merchant_id"],
        "created_at": now,
        "description": body.get("description"),
        "metadata": body.get("metadata"),
        "source": body["source"],
        "source_fingerprint": audit_log.source_fingerprint(body["source"]),
        "idempotency_key_hash": _sha256(idempotency_key),
        "request_hash": _sha256(validation.canonical_json(body)),
        "request_id": invocation.request_id,
        "environment": CONFIG.get("ENVIRONMENT"),
    }
    # 1. The payment item; never overwritten. An existing item with this id was created by an earlier
    #    attempt with the same merchant and key: continue it if it was the same request.
    created, payment = store.put_new(candidate)
    if not created and payment.get("request_hash") != candidate["request_hash"]:
        raise _key_reused("Idempotency-Key was already used by this merchant for a different payment")

    # 2. The audit object, once (conditional write on a deterministic key).
    record = audit_log.build_record(
        payment, caller=invocation.caller, request_id=invocation.request_id, recorded_at=now
    )
    audit_written = audit_log.write_once(
        _client("s3_client"),
        CONFIG.get("AUDIT_BUCKET_NAME"),
        audit_log.object_key(payment),
        validation.canonical_json(record).encode("utf-8"),
    )

    # 3. The event, last; recorded on the item so that a later retry does not publish it again.
    event_published = False
    if not payment.get("event_published_at"):
        payment_events.publish_payment_created(_client("events_client"), CONFIG.get("EVENT_BUS_NAME"), payment)
        store.mark_event_published(payment_id, _utc_now())
        event_published = True

    if created:
        metrics.add_metric(name="PaymentCreated", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PaymentCreationResumed", unit=MetricUnit.Count, value=1)
    return {
        "status_code": 201,
        "body": _json(payments_store.to_public(payment)),
        # Nothing new was written: an earlier attempt had completed the payment.
        "replayed": not (created or audit_written or event_published),
    }


def _create(event: dict[str, Any], invocation: _Invocation) -> dict[str, Any]:
    validation.check_content_type(_header_values(event, validation.CONTENT_TYPE_HEADER))
    idempotency_key = validation.check_idempotency_key(_header_values(event, validation.IDEMPOTENCY_KEY_HEADER))
    raw = validation.decode_body(event.get("body"), bool(event.get("isBase64Encoded")))
    body = validation.validate_create_payment(validation.parse_json(raw))

    invocation.request = {"idempotency_key": idempotency_key, "body": body}
    result = create_payment(request=invocation.request, invocation=invocation)
    headers = None
    if result.get("replayed"):
        headers = {REPLAYED_HEADER: "true"}
        metrics.add_metric(name="PaymentReplayed", unit=MetricUnit.Count, value=1)
    return _response(result["status_code"], result["body"], invocation.request_id, headers)


def _read(event: dict[str, Any], invocation: _Invocation) -> dict[str, Any]:
    payment_id = validation.normalize_payment_id((event.get("pathParameters") or {}).get("id"))
    payment = store.get(payment_id)
    if payment is None:
        raise ApiError(404, "payment_not_found", "No payment with this id", metric="PaymentNotFound")
    metrics.add_metric(name="PaymentRead", unit=MetricUnit.Count, value=1)
    return _response(200, _json(payments_store.to_public(payment)), invocation.request_id)


_ROUTES = {("POST", "/payments"): _create, ("GET", "/payments/{id}"): _read}
_RESOURCES = {"/payments": "POST", "/payments/{id}": "GET"}


def _dispatch(event: dict[str, Any], invocation: _Invocation) -> dict[str, Any]:
    route = _ROUTES.get((event.get("httpMethod"), event.get("resource")))
    if route is not None:
        return route(event, invocation)
    allowed = _RESOURCES.get(event.get("resource"))
    if allowed:
        raise ApiError(405, "method_not_allowed", f"Use {allowed} on this resource", headers={"Allow": allowed})
    raise ApiError(404, "route_not_found", "No such route")


def _release_idempotency_record(invocation: _Invocation, exc: Exception) -> None:
    """Release the idempotency record when Powertools could not (it failed to save or delete it).

    Only when this request holds the record (its function body ran): a record held by a concurrent
    request is never touched. Deleting a record whose payment completed is safe: the retry finds
    every side effect already done and replays.
    """
    if not (invocation.lock_held and isinstance(exc, IdempotencyPersistenceLayerError)):
        return
    try:
        persistence_layer.delete_record(data=invocation.request, exception=exc)
    except Exception:
        logger.exception("Could not release the idempotency record; it expires with the in-progress timeout")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invocation = _Invocation(event, context)
    request_id = invocation.request_id
    try:
        CONFIG.require()
        idempotency_config.register_lambda_context(context)
        return _dispatch(event, invocation)
    except validation.ValidationError as exc:
        metrics.add_metric(name="RequestRejected", unit=MetricUnit.Count, value=1)
        logger.info("Rejected invalid request", extra={"error_code": exc.code, "field": exc.field})
        return _error(400, exc.code, exc.message, request_id, field=exc.field)
    except IdempotencyValidationError:
        error = _key_reused("Idempotency-Key was already used with a different request body")
    except IdempotencyAlreadyInProgressError:
        error = ApiError(
            409,
            "request_in_progress",
            "A request with this Idempotency-Key is still in progress; retry later",
            field=validation.IDEMPOTENCY_KEY_HEADER,
            headers={"Retry-After": "1"},
            metric="IdempotencyInProgress",
        )
    except ApiError as exc:
        error = exc
    except Exception as exc:
        metrics.add_metric(name="UnexpectedError", unit=MetricUnit.Count, value=1)
        logger.exception("Unexpected error")
        _release_idempotency_record(invocation, exc)
        message = f"An unexpected error occurred; it is safe to retry. Request id: {request_id}"
        return _error(500, "internal_error", message, request_id)
    metrics.add_metric(name=error.metric, unit=MetricUnit.Count, value=1)
    logger.info("Request refused", extra={"status": error.status, "error_code": error.code})
    return _error(error.status, error.code, error.message, request_id, field=error.field, extra_headers=error.headers)


init_phase.done()  # the last statement: everything above is the init phase
