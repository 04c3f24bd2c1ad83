"""Audit objects in the audit bucket: one per payment, written exactly once.

The bucket is versioned with KMS default encryption (applied by S3; nothing to pass here). The key
is deterministic (`audit/YYYY/MM/DD/<payment_id>.json`, date of the payment's `created_at`) and the
write is conditional (`If-None-Match: *`), so a retry after a partial failure never adds a second
version. The payment-method token is never written: only a SHA-256 fingerprint of it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import validation
from botocore.exceptions import ClientError

_FINGERPRINT_PREFIX = b"payments-source-v1:"


def source_fingerprint(source: str) -> str:
    """SHA-256 (domain-separated) of the payment-method token, for correlation without the token."""
    return "sha256:" + hashlib.sha256(_FINGERPRINT_PREFIX + source.encode("utf-8")).hexdigest()


def object_key(payment: dict[str, Any]) -> str:
    created_at = payment["created_at"]  # YYYY-MM-DDTHH:MM:SS.mmmZ
    return f"audit/{created_at[0:4]}/{created_at[5:7]}/{created_at[8:10]}/{payment['payment_id']}.json"


def build_record(
    payment: dict[str, Any], *, caller: dict[str, Any], request_id: str, recorded_at: str
) -> dict[str, Any]:
    """Who / what / when / request id. Built from the stored item, which holds no clear token here."""
    what = {
        "action": "PaymentCreated",
        "payment_id": payment["payment_id"],
        "amount": payment["amount"],
        "amount_major": validation.format_major_amount(payment["amount"], payment["currency"]),
        "currency": payment["currency"],
        "currency_exponent": validation.CURRENCY_EXPONENTS[payment["currency"]],
        "status": payment["status"],
        "source_fingerprint": payment["source_fingerprint"],
        "description": payment.get("description"),
        "metadata": payment.get("metadata"),
    }
    return {
        "schema_version": 1,
        "who": {"merchant_id": payment["merchant_id"], **caller},
        "what": what,
        "when": payment["created_at"],
        "recorded_at": recorded_at,
        "request_id": request_id,
        "idempotency_key_hash": payment["idempotency_key_hash"],
        "environment": payment["environment"],
    }


def write_once(s3_client: Any, bucket: str, key: str, body: bytes) -> bool:
    """Create the object; returns False (and leaves the object alone) if it already exists."""
    try:
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
            return False
        raise
    return True
