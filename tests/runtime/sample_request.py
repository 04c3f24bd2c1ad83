"""A valid create-payment body: the runtime tests' baseline and the handler benchmark's request.

Dependency-free on purpose, so `bench/handler.py` can use it without importing moto or hypothesis.
"""

from __future__ import annotations

from typing import Any

VALID_BODY: dict[str, Any] = {
    "amount": 1250,
    "currency": "USD",
    "merchant_id": "merchant_42",
    "source": "tok_visa_4242424242424242",
    "description": "Order #1001",
    "metadata": {"order_id": "1001", "channel": "web"},
}
