"""The payments table (partition key `payment_id`, no sort key), through the low-level DynamoDB client.

Items are (de)serialised by hand: the attribute set is small and fixed, and this avoids the cost of
the generic TypeSerializer on the request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Mapping

STATUS_PENDING = "pending"
STATUS_PROCESSED = "processed"

_STRING_ATTRIBUTES = (
    "payment_id",
    "status",
    "currency",
    "merchant_id",
    "created_at",
    "description",
    "source",
    "source_fingerprint",
    "idempotency_key_hash",
    "request_hash",
    "request_id",
    "environment",
    "event_published_at",
    "processed_at",
)
_PUBLIC_FIELDS = ("status", "amount", "currency", "merchant_id", "created_at")


class PaymentStateError(Exception):
    """A transition was asked for a payment that does not exist or is not in the expected state."""


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def to_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, value in item.items():
        if value is None:
            continue
        if name == "amount":
            attributes[name] = {"N": str(value)}
        elif name == "metadata":
            attributes[name] = {"M": {key: {"S": text} for key, text in value.items()}}
        else:
            attributes[name] = {"S": value}
    return attributes


def from_attribute_values(attributes: Mapping[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, value in attributes.items():
        if name == "amount":
            item[name] = int(value["N"])
        elif name == "metadata":
            item[name] = {key: text["S"] for key, text in value["M"].items()}
        elif "S" in value:
            item[name] = value["S"]
    return item


def to_public(item: Mapping[str, Any]) -> dict[str, Any]:
    """The payment as the API returns it."""
    public = {"id": item["payment_id"]}
    public.update((name, item[name]) for name in _PUBLIC_FIELDS)
    return public


class PaymentsStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def put_new(self, item: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
        """Write `item` unless a payment with its id exists; never overwrites.

        Returns (True, item) when written, (False, existing item) when the id was already taken.
        """
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_attribute_values(item),
                ConditionExpression="attribute_not_exists(payment_id)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            existing = exc.response.get("Item")
            found = from_attribute_values(existing) if existing else self.get(item["payment_id"])
            if found is None:  # deleted between the two calls; cannot happen without manual deletes
                raise PaymentStateError(f"payment {item['payment_id']} vanished during creation") from exc
            return False, found
        return True, dict(item)

    def get(self, payment_id: str) -> dict[str, Any] | None:
        response = self._client.get_item(
            TableName=self._table_name, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
        )
        attributes = response.get("Item")
        return from_attribute_values(attributes) if attributes else None

    def mark_event_published(self, payment_id: str, published_at: str) -> None:
        self._client.update_item(
            TableName=self._table_name,
            Key={"payment_id": {"S": payment_id}},
            UpdateExpression="SET event_published_at = :published_at",
            ConditionExpression="attribute_exists(payment_id)",
            ExpressionAttributeValues={":published_at": {"S": published_at}},
        )

    def mark_processed(self, expected: Mapping[str, Any], processed_at: str) -> bool:
        """Move a payment from pending to processed, if it matches `expected` (from the event).

        Returns True when this call made the transition, False when the payment was already
        processed (a duplicate delivery: nothing changes). Raises PaymentStateError when the payment
        does not exist, does not match the event, or is in another state.
        """
        payment_id = expected["payment_id"]
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key={"payment_id": {"S": payment_id}},
                UpdateExpression="SET #status = :processed, processed_at = :processed_at",
                ConditionExpression=(
                    "#status = :pending AND amount = :amount AND currency = :currency AND merchant_id = :merchant_id"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":processed": {"S": STATUS_PROCESSED},
                    ":pending": {"S": STATUS_PENDING},
                    ":processed_at": {"S": processed_at},
                    ":amount": {"N": str(expected["amount"])},
                    ":currency": {"S": expected["currency"]},
                    ":merchant_id": {"S": expected["merchant_id"]},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            # With ALL_OLD, DynamoDB returns the item whenever it exists (no GetItem needed).
            old = exc.response.get("Item")
            if not old:
                raise PaymentStateError(f"payment {payment_id} does not exist") from exc
            current = from_attribute_values(old)
            if any(current.get(name) != expected[name] for name in ("amount", "currency", "merchant_id")):
                raise PaymentStateError(f"payment {payment_id} does not match the event") from exc
            if current.get("status") == STATUS_PROCESSED:
                return False
            raise PaymentStateError(f"payment {payment_id} is {current.get('status')!r}, not pending") from exc
        return True
