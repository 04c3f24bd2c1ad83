"""The bad-input corpus (and a valid corpus) for POST /payments, shared by the handler and schema tests.

Each bad case is one request that must be answered 400 with the given error `field` and `code`.
`kind` says which layer the rule belongs to:
- "header":   a header rule (Idempotency-Key, Content-Type); not a body-schema matter;
- "envelope": the body as bytes (missing, too large, not decodable, not parseable as JSON);
- "body":     a parseable JSON document that the draft-4 request schema must also reject,
              unless `schema_gap` says the rule cannot be expressed in the API Gateway subset of
              draft 4 (then the schema accepts and only the function rejects).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from sample_request import VALID_BODY

KEY = "corpus-key-0001"
_SAME = object()


def with_(**changes: Any) -> dict[str, Any]:
    body = dict(VALID_BODY)
    body.update(changes)
    return body


def without(name: str) -> dict[str, Any]:
    return {key: value for key, value in VALID_BODY.items() if key != name}


def raw_with(fragment: str) -> str:
    """VALID_BODY as JSON text with a raw fragment (e.g. '"amount": NaN') replacing one member."""
    name = fragment.split('"')[1]
    members = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in VALID_BODY.items() if k != name]
    return "{" + ", ".join([fragment, *members]) + "}"


@dataclass(frozen=True)
class BadCase:
    id: str
    field: str | None
    code: str
    kind: str = "body"
    body: Any = field(default=_SAME)
    raw: str | None = None
    key: str | None = KEY
    content_type: str | None = "application/json"
    multi_value_headers: dict[str, list[str]] | None = None
    base64_body: bytes | None = None
    raw_is_base64: bool = False
    schema_gap: bool = False

    def event_args(self) -> dict[str, Any]:
        """Keyword arguments for payments_testkit.rest_event."""
        headers: dict[str, str] = {}
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        if self.key is not None:
            headers["Idempotency-Key"] = self.key
        if self.base64_body is not None:
            return {
                "headers": headers,
                "body": base64.b64encode(self.base64_body).decode("ascii"),
                "is_base64_encoded": True,
            }
        multi = None
        if self.multi_value_headers is not None:
            multi = {name: [value] for name, value in headers.items()}
            multi.update(self.multi_value_headers)
        return {
            "headers": headers,
            "multi_value_headers": multi,
            "body": self.text(),
            "is_base64_encoded": self.raw_is_base64,
        }

    def text(self) -> str | None:
        if self.raw is not None:
            return self.raw
        body = VALID_BODY if self.body is _SAME else self.body
        return None if body is None else json.dumps(body)

    @property
    def retry_key(self) -> str:
        """The key a corrected retry uses: the same one when it was valid."""
        return KEY if self.field == "Idempotency-Key" else (self.key or KEY)


def _h(id: str, field: str, code: str, **kwargs: Any) -> BadCase:
    return BadCase(id=id, field=field, code=code, kind="header", **kwargs)


def _e(id: str, code: str, **kwargs: Any) -> BadCase:
    return BadCase(id=id, field=None, code=code, kind="envelope", **kwargs)


def _f(id: str, field: str, body: Any = _SAME, code: str = "invalid_field", **kwargs: Any) -> BadCase:
    return BadCase(id=id, field=field, code=code, body=body, **kwargs)


IK, CT = "Idempotency-Key", "Content-Type"
_TOO_BIG = '{"amount": 1250, "currency": "USD", "merchant_id": "m", "source": "t", "description": "%s"}' % (
    "x" * 16_400
)

BAD_CASES: list[BadCase] = [
    # Headers.
    _h("key-missing", IK, "missing_idempotency_key", key=None),
    _h("key-empty", IK, "invalid_idempotency_key", key=""),
    _h("key-256-chars", IK, "invalid_idempotency_key", key="k" * 256),
    _h("key-non-ascii", IK, "invalid_idempotency_key", key="clé-0001"),
    _h("key-tab", IK, "invalid_idempotency_key", key="key\t0001"),
    _h("key-del-char", IK, "invalid_idempotency_key", key="key\x7f0001"),
    _h("key-sent-twice", IK, "invalid_idempotency_key", multi_value_headers={IK: [KEY, "other-key"]}),
    _h("content-type-missing", CT, "invalid_content_type", content_type=None),
    _h("content-type-text-plain", CT, "invalid_content_type", content_type="text/plain"),
    _h("content-type-form", CT, "invalid_content_type", content_type="application/x-www-form-urlencoded"),
    _h("content-type-latin1", CT, "invalid_content_type", content_type="application/json; charset=iso-8859-1"),
    _h("content-type-extra-param", CT, "invalid_content_type", content_type="application/json; version=2"),
    _h("content-type-problem-json", CT, "invalid_content_type", content_type="application/problem+json"),
    _h(
        "content-type-sent-twice",
        CT,
        "invalid_content_type",
        multi_value_headers={CT: ["application/json", "text/plain"]},
    ),
    # The body as bytes.
    _e("body-missing", "missing_body", body=None),
    _e("body-empty", "missing_body", raw=""),
    _e("body-over-16-kib", "body_too_large", raw=_TOO_BIG),
    _e("body-truncated-json", "malformed_json", raw='{"amount": 1250,'),
    _e("body-trailing-garbage", "malformed_json", raw=json.dumps(VALID_BODY) + " x"),
    _e("body-single-quotes", "malformed_json", raw="{'amount': 1250}"),
    _e("body-invalid-base64", "malformed_body", raw="%%% not base64 %%%", raw_is_base64=True),
    _e("body-invalid-utf8", "malformed_json", base64_body=b'{"amount": 1250, "source": "\xff\xfe"}'),
    _e("body-lone-surrogate", "malformed_body", raw='{"source": "\ud800"}'),
    _e("body-nested-5000-deep", "malformed_json", raw="[" * 5000 + "]" * 5000),
    _e("body-5000-digit-integer", "malformed_json", raw=raw_with('"amount": ' + "9" * 5000)),
    # Parseable JSON that is not a payment.
    _f("body-array", None, raw="[]", code="invalid_body"),
    _f("body-string", None, raw='"payment"', code="invalid_body"),
    _f("body-null", None, raw="null", code="invalid_body"),
    _f("body-number", None, raw="42", code="invalid_body"),
    _f("unknown-field", "foo", with_(foo=1), code="unknown_field"),
    _f("unknown-field-case", "Amount", with_(Amount=1250), code="unknown_field"),
    _f("unknown-field-before-bad-amount", "zzz", with_(zzz=1, amount="1"), code="unknown_field"),
    _f(
        "duplicate-amount",
        "amount",
        raw=raw_with('"amount": 1250, "amount": 1250'),
        code="duplicate_field",
        schema_gap=True,
    ),
    # amount
    _f("amount-missing", "amount", without("amount"), code="missing_field"),
    _f("amount-string", "amount", with_(amount="1250")),
    _f("amount-fraction", "amount", with_(amount=12.5)),
    _f("amount-integral-float", "amount", raw=raw_with('"amount": 10.0')),
    _f("amount-exponent", "amount", raw=raw_with('"amount": 1e3')),
    _f("amount-true", "amount", with_(amount=True)),
    _f("amount-false", "amount", with_(amount=False)),
    _f("amount-null", "amount", with_(amount=None)),
    _f("amount-nan", "amount", raw=raw_with('"amount": NaN')),
    _f("amount-infinity", "amount", raw=raw_with('"amount": Infinity')),
    _f("amount-minus-infinity", "amount", raw=raw_with('"amount": -Infinity')),
    _f("amount-zero", "amount", with_(amount=0)),
    _f("amount-negative", "amount", with_(amount=-100)),
    _f("amount-above-max", "amount", with_(amount=100_000_000)),
    _f("amount-above-max-jpy", "amount", with_(amount=100_000_000, currency="JPY")),
    _f("amount-array", "amount", with_(amount=[1250])),
    # currency
    _f("currency-missing", "currency", without("currency"), code="missing_field"),
    _f("currency-lowercase", "currency", with_(currency="usd")),
    _f("currency-unsupported", "currency", with_(currency="XYZ")),
    _f("currency-two-letters", "currency", with_(currency="US")),
    _f("currency-numeric-code", "currency", with_(currency=840)),
    _f("currency-trailing-space", "currency", with_(currency="USD ")),
    _f("currency-null", "currency", with_(currency=None)),
    # merchant_id
    _f("merchant-missing", "merchant_id", without("merchant_id"), code="missing_field"),
    _f("merchant-empty", "merchant_id", with_(merchant_id="")),
    _f("merchant-65-chars", "merchant_id", with_(merchant_id="m" * 65)),
    _f("merchant-space", "merchant_id", with_(merchant_id="merchant 42")),
    _f("merchant-trailing-newline", "merchant_id", with_(merchant_id="merchant_42\n")),
    _f("merchant-non-ascii", "merchant_id", with_(merchant_id="mérchant")),
    _f("merchant-number", "merchant_id", with_(merchant_id=42)),
    # source
    _f("source-missing", "source", without("source"), code="missing_field"),
    _f("source-empty", "source", with_(source="")),
    _f("source-129-chars", "source", with_(source="t" * 129)),
    _f("source-number", "source", with_(source=4242)),
    _f("source-null", "source", with_(source=None)),
    # description
    _f("description-501-chars", "description", with_(description="d" * 501)),
    _f("description-null", "description", with_(description=None)),
    _f("description-number", "description", with_(description=7)),
    # metadata
    _f("metadata-array", "metadata", with_(metadata=["a"])),
    _f("metadata-string", "metadata", with_(metadata="a=b")),
    _f("metadata-null", "metadata", with_(metadata=None)),
    _f("metadata-21-keys", "metadata", with_(metadata={f"k{i}": "v" for i in range(21)})),
    _f("metadata-key-41-chars", "metadata", with_(metadata={"k" * 41: "v"}), schema_gap=True),
    _f("metadata-empty-key", "metadata", with_(metadata={"": "v"}), schema_gap=True),
    _f("metadata-value-number", "metadata", with_(metadata={"a": 1})),
    _f("metadata-value-501-chars", "metadata", with_(metadata={"a": "v" * 501})),
    _f("metadata-value-object", "metadata", with_(metadata={"a": {"b": "c"}})),
    _f("metadata-value-null", "metadata", with_(metadata={"a": None})),
    _f(
        "metadata-duplicate-key",
        "metadata",
        raw=raw_with('"metadata": {"a": "1", "a": "2"}'),
        code="duplicate_field",
        schema_gap=True,
    ),
]

# Bodies every layer must accept.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "full": VALID_BODY,
    "required-only": {name: VALID_BODY[name] for name in ("amount", "currency", "merchant_id", "source")},
    "minimal": {"amount": 1, "currency": "EUR", "merchant_id": "m", "source": "t"},
    "max-amount-usd": with_(amount=99_999_999),
    "max-amount-jpy": with_(amount=99_999_999, currency="JPY"),
    "min-amount-kwd": with_(amount=1, currency="KWD"),
    "merchant-64-chars": with_(merchant_id="A-z_9" * 12 + "abcd"),
    "source-128-chars": with_(source="s" * 128),
    "source-unicode": with_(source="tok_ünïcødé"),
    "description-500-chars": with_(description="d" * 500),
    "description-empty": with_(description=""),
    "metadata-empty": with_(metadata={}),
    "metadata-20-keys-at-limits": with_(metadata={f"{i:02d}" + "k" * 38: "v" * 500 for i in range(20)}),
    "metadata-unicode": with_(metadata={"clé": "välue"}),
}
