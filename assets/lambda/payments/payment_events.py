"""PaymentCreated events on the payment event bus (EventBridge)."""

from __future__ import annotations

from typing import Any

import validation

SOURCE = "payments.api"
DETAIL_TYPE = "PaymentCreated"
DETAIL_FIELDS = ("payment_id", "amount", "currency", "merchant_id", "created_at")


class EventPublishError(Exception):
    """EventBridge accepted the call but rejected the entry (FailedEntryCount > 0)."""


def detail_of(payment: dict[str, Any]) -> dict[str, Any]:
    return {name: payment[name] for name in DETAIL_FIELDS}


def publish_payment_created(events_client: Any, bus_name: str, payment: dict[str, Any]) -> None:
    response = events_client.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": validation.canonical_json(detail_of(payment)),
            }
        ]
    )
    if response.get("FailedEntryCount", 0):
        entry = (response.get("Entries") or [{}])[0]
        reason = f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        raise EventPublishError(f"PutEvents rejected the PaymentCreated entry: {reason}")
