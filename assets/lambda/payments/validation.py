"""Request validation for the payment API (and the checks the event processor reuses).

Handwritten rather than schema-driven so that every rejection names the offending `field` precisely
and the module imports in well under a millisecond. `schemas/create_payment.json` (draft 4, used by
API Gateway as the request model) expresses the same rules; tests/runtime checks that both agree.

Amounts and currency exponents
------------------------------
`amount` is always an integer number of the currency's *minor unit*, where the minor unit is
10**-exponent of the major unit as per ISO 4217: 1234 USD (exponent 2) is 12.34 USD, 1234 JPY
(exponent 0, a zero-decimal currency whose minor unit is the whole yen) is 1234 JPY, 1234 KWD
(exponent 3) is 1.234 KWD. The same integer range, 1 to 99,999,999 minor units (eight digits, as card
networks use), applies to every currency, so the largest payment is 999,999.99 USD, 99,999,999 JPY or
99,999.999 KWD. There is no per-currency cap and no conversion; the exponent is used to render the
amount in major units (see :func:`format_major_amount`, written to the audit record).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Any

# ISO 4217 alphabetic code -> exponent (number of minor-unit digits).
CURRENCY_EXPONENTS: dict[str, int] = {
    # Two-decimal currencies.
    "AUD": 2,
    "BRL": 2,
    "CAD": 2,
    "CHF": 2,
    "CNY": 2,
    "CZK": 2,
    "DKK": 2,
    "EUR": 2,
    "GBP": 2,
    "HKD": 2,
    "INR": 2,
    "MXN": 2,
    "NOK": 2,
    "NZD": 2,
    "PLN": 2,
    "SEK": 2,
    "SGD": 2,
    "USD": 2,
    "ZAR": 2,
    # Zero-decimal currencies: the minor unit is the whole unit.
    "CLP": 0,
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    # Three-decimal currencies.
    "BHD": 3,
    "JOD": 3,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
}

AMOUNT_MIN = 1
AMOUNT_MAX = 99_999_999
MERCHANT_ID_MAX = 64
SOURCE_MAX = 128
DESCRIPTION_MAX = 500
METADATA_MAX_KEYS = 20
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
IDEMPOTENCY_KEY_MAX = 255
MAX_BODY_BYTES = 16 * 1024

REQUIRED_FIELDS = ("amount", "currency", "merchant_id", "source")
OPTIONAL_FIELDS = ("description", "metadata")
ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
CONTENT_TYPE_HEADER = "Content-Type"

_MERCHANT_ID_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{MERCHANT_ID_MAX}}}")
_PRINTABLE_ASCII_RE = re.compile(rf"[\x20-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UTF8_CHARSETS = ("utf-8", "utf8")


class ValidationError(Exception):
    """Bad input: the API answers 400 with this code, message and field (None: not about one field)."""

    def __init__(self, field: str | None, message: str, code: str = "invalid_field") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


class _JsonObject(dict):
    """A parsed JSON object that remembers keys which appeared more than once."""

    duplicate_keys: tuple[str, ...] = ()


class _NonFinite:
    """Stands for NaN / Infinity / -Infinity, which are not JSON but which json.loads accepts."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    obj = _JsonObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        duplicates = []
        for key, _ in pairs:
            if key in seen and key not in duplicates:
                duplicates.append(key)
            seen.add(key)
        obj.duplicate_keys = tuple(duplicates)
    return obj


_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs, parse_constant=_NonFinite)


def _quoted(name: str, limit: int = 64) -> str:
    """A client-supplied name for an error message: quoted, and shortened if long."""
    return json.dumps(name if len(name) <= limit else name[:limit] + "...", ensure_ascii=False)


# --- Headers -------------------------------------------------------------------------------------


def check_content_type(values: list[str]) -> None:
    """Accept `application/json`, optionally with a UTF-8 `charset` parameter (nothing else)."""
    problem = f"{CONTENT_TYPE_HEADER} must be application/json (optionally with charset=utf-8)"
    if len(set(values)) != 1:  # missing, or repeated with different values
        raise ValidationError(CONTENT_TYPE_HEADER, problem, "invalid_content_type")
    media_type, *parameters = values[0].split(";")
    if media_type.strip().lower() != "application/json":
        raise ValidationError(CONTENT_TYPE_HEADER, problem, "invalid_content_type")
    for parameter in parameters:
        if not parameter.strip():
            continue
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() not in _UTF8_CHARSETS:
            raise ValidationError(CONTENT_TYPE_HEADER, problem, "invalid_content_type")


def check_idempotency_key(values: list[str]) -> str:
    """The single Idempotency-Key value: 1 to 255 printable ASCII characters (0x20-0x7E)."""
    if not values:
        raise ValidationError(
            IDEMPOTENCY_KEY_HEADER, f"{IDEMPOTENCY_KEY_HEADER} header is required", "missing_idempotency_key"
        )
    if len(set(values)) != 1:
        raise ValidationError(
            IDEMPOTENCY_KEY_HEADER, f"{IDEMPOTENCY_KEY_HEADER} header must be sent once", "invalid_idempotency_key"
        )
    if not _PRINTABLE_ASCII_RE.fullmatch(values[0]):
        raise ValidationError(
            IDEMPOTENCY_KEY_HEADER,
            f"{IDEMPOTENCY_KEY_HEADER} must be 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters",
            "invalid_idempotency_key",
        )
    return values[0]


# --- Body ----------------------------------------------------------------------------------------


def decode_body(body: str | None, is_base64_encoded: bool) -> bytes:
    """The raw request body bytes, at most MAX_BODY_BYTES long."""
    if body is None or body == "":
        raise ValidationError(None, "A JSON request body is required", "missing_body")
    if is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(None, "The request body is not valid base64", "malformed_body") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates cannot come from a real request, but be total
            raise ValidationError(None, "The request body is not valid UTF-8", "malformed_body") from None
    if len(raw) > MAX_BODY_BYTES:
        raise ValidationError(None, f"The request body must be at most {MAX_BODY_BYTES} bytes", "body_too_large")
    return raw


def parse_json(raw: bytes) -> Any:
    """Parse UTF-8 JSON; duplicate keys are recorded and NaN/Infinity become :class:`_NonFinite`."""
    try:
        text = raw.decode("utf-8")
        return _DECODER.decode(text)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValidationError(None, "The request body is not valid JSON", "malformed_json") from None


def validate_create_payment(body: Any) -> dict[str, Any]:
    """Check a parsed create-payment body; return a plain, normalised copy (known fields only)."""
    if not isinstance(body, dict):
        raise ValidationError(None, "The request body must be a JSON object", "invalid_body")
    duplicates = getattr(body, "duplicate_keys", ())
    if duplicates:
        message = f"Field {_quoted(duplicates[0])} appears more than once"
        raise ValidationError(duplicates[0], message, "duplicate_field")
    unknown = sorted(key for key in body if key not in ALLOWED_FIELDS)
    if unknown:
        raise ValidationError(unknown[0], f"Unknown field {_quoted(unknown[0])}", "unknown_field")
    for name in REQUIRED_FIELDS:
        if name not in body:
            raise ValidationError(name, f"{name} is required", "missing_field")

    check_amount_type(body["amount"])
    check_currency(body["currency"])
    check_amount(body["amount"], body["currency"])
    check_merchant_id(body["merchant_id"])
    source = body["source"]
    if not isinstance(source, str) or not 1 <= len(source) <= SOURCE_MAX:
        raise ValidationError("source", f"source must be a string of 1 to {SOURCE_MAX} characters")

    result: dict[str, Any] = {name: body[name] for name in REQUIRED_FIELDS}
    if "description" in body:
        description = body["description"]
        if not isinstance(description, str) or len(description) > DESCRIPTION_MAX:
            raise ValidationError(
                "description", f"description must be a string of at most {DESCRIPTION_MAX} characters"
            )
        result["description"] = description
    if "metadata" in body:
        result["metadata"] = _check_metadata(body["metadata"])
    return result


def _check_metadata(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise ValidationError("metadata", "metadata must be an object of string values")
    if getattr(metadata, "duplicate_keys", ()):
        raise ValidationError(
            "metadata", f"metadata key {_quoted(metadata.duplicate_keys[0])} appears more than once", "duplicate_field"
        )
    if len(metadata) > METADATA_MAX_KEYS:
        raise ValidationError("metadata", f"metadata may have at most {METADATA_MAX_KEYS} keys")
    for key, value in metadata.items():
        if not 1 <= len(key) <= METADATA_KEY_MAX:
            raise ValidationError("metadata", f"metadata keys must be 1 to {METADATA_KEY_MAX} characters")
        if not isinstance(value, str) or len(value) > METADATA_VALUE_MAX:
            raise ValidationError(
                "metadata", f"metadata values must be strings of at most {METADATA_VALUE_MAX} characters"
            )
    return dict(metadata)


# --- Field rules (shared with the event processor) -----------------------------------------------


def check_amount_type(amount: Any) -> None:
    # bool is a subclass of int, and 10.0 is a float: both are rejected by the exact type test.
    if type(amount) is not int:
        raise ValidationError("amount", "amount must be an integer number of minor units (e.g. cents)")


def check_currency(currency: Any) -> None:
    if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
        raise ValidationError("currency", "currency must be a supported ISO 4217 code, e.g. USD, EUR, JPY")


def check_amount(amount: Any, currency: str) -> None:
    """Range check in minor units of `currency` (same integer range for every exponent)."""
    check_amount_type(amount)
    if not AMOUNT_MIN <= amount <= AMOUNT_MAX:
        raise ValidationError(
            "amount", f"amount must be between {AMOUNT_MIN} and {AMOUNT_MAX:,} minor units of {currency}"
        )


def check_merchant_id(merchant_id: Any) -> None:
    if not isinstance(merchant_id, str) or not _MERCHANT_ID_RE.fullmatch(merchant_id):
        raise ValidationError(
            "merchant_id", f"merchant_id must be 1 to {MERCHANT_ID_MAX} characters of A-Z, a-z, 0-9, _ or -"
        )


def normalize_payment_id(value: Any) -> str:
    """A payment id is a UUID in canonical textual form (any letter case); returns it lower-cased."""
    if isinstance(value, str):
        candidate = value.lower()
        if _UUID_RE.fullmatch(candidate):
            return candidate
    raise ValidationError("id", "id must be a payment id (a UUID such as 0b9e5c1e-...)", "invalid_field")


def format_major_amount(amount: int, currency: str) -> str:
    """Render minor units in major units using the ISO 4217 exponent: (1234, USD) -> "12.34"."""
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent == 0:
        return str(amount)
    whole, fraction = divmod(amount, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for fingerprints and response bodies."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# Fixed namespace for payment ids: uuid5(namespace, merchant_id + "\n" + idempotency key).
PAYMENT_ID_NAMESPACE = uuid.UUID("b316caeb-7ce5-43f4-afdd-8cfb4e20aa0e")


def derive_payment_id(merchant_id: str, idempotency_key: str) -> str:
    """Deterministic payment id. merchant_id cannot contain a newline, so the pair is unambiguous."""
    return str(uuid.uuid5(PAYMENT_ID_NAMESPACE, f"{merchant_id}\n{idempotency_key}"))
