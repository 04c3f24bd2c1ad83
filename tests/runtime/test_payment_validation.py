"""Validation rules in isolation (no AWS): header and body rules, exponent rule, property tests."""

from __future__ import annotations

import json
import string

import pytest
import validation
from hypothesis import given
from hypothesis import strategies as st
from payments_testkit import property_settings
from sample_request import VALID_BODY

SUPPORTED = sorted(validation.CURRENCY_EXPONENTS)


def body_with(**changes):
    body = dict(VALID_BODY)
    body.update(changes)
    return body


def rejected_field(body) -> str | None:
    with pytest.raises(validation.ValidationError) as caught:
        validation.validate_create_payment(body)
    return caught.value.field


# --- Content-Type and Idempotency-Key --------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json; charset=utf8",
        "application/json;",
    ],
)
def test_json_content_types_are_accepted(value):
    validation.check_content_type([value])


@pytest.mark.parametrize(
    "values", [[], ["text/json"], ["application/json; charset=utf-16"], ["application/json", "text/plain"]]
)
def test_other_content_types_are_rejected(values):
    with pytest.raises(validation.ValidationError) as caught:
        validation.check_content_type(values)
    assert caught.value.field == "Content-Type"


@pytest.mark.parametrize("key", ["a", " ", "k" * 255, string.printable[:95], "order-1001/attempt~2"])
def test_printable_ascii_keys_up_to_255_are_accepted(key):
    assert validation.check_idempotency_key([key]) == key


def test_a_header_repeated_with_the_same_value_counts_once():
    assert validation.check_idempotency_key(["k1", "k1"]) == "k1"
    validation.check_content_type(["application/json", "application/json"])


_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=100)
_NOT_PRINTABLE_ASCII = st.characters(blacklist_categories=(), blacklist_characters=[chr(c) for c in range(0x20, 0x7F)])


@property_settings()
@given(prefix=_PRINTABLE, bad=_NOT_PRINTABLE_ASCII, suffix=_PRINTABLE)
def test_keys_with_any_non_printable_or_non_ascii_character_are_rejected(prefix, bad, suffix):
    key = prefix + bad + suffix
    with pytest.raises(validation.ValidationError) as caught:
        validation.check_idempotency_key([key])
    assert caught.value.field == "Idempotency-Key"


# --- Body decoding ---------------------------------------------------------------------------------


def test_a_body_of_exactly_16_kib_is_accepted_and_one_byte_more_is_not():
    text = json.dumps(VALID_BODY)
    exact = text + " " * (validation.MAX_BODY_BYTES - len(text.encode()))
    assert len(validation.decode_body(exact, False)) == 16 * 1024
    with pytest.raises(validation.ValidationError) as caught:
        validation.decode_body(exact + " ", False)
    assert caught.value.code == "body_too_large"


def test_the_size_limit_counts_utf8_bytes_not_characters():
    text = '{"description": "' + "é" * 8200 + '"}'  # 8,200 characters, 16,400+ bytes
    assert len(text) < validation.MAX_BODY_BYTES
    with pytest.raises(validation.ValidationError) as caught:
        validation.decode_body(text, False)
    assert caught.value.code == "body_too_large"


def test_base64_bodies_are_decoded():
    assert validation.decode_body("eyJhIjogMX0=", True) == b'{"a": 1}'


def test_duplicate_keys_are_recorded_on_nested_objects_too():
    parsed = validation.parse_json(b'{"metadata": {"a": "1", "a": "2", "b": "3", "b": "4"}}')
    assert parsed["metadata"].duplicate_keys == ("a", "b")


def test_non_finite_constants_never_become_numbers():
    parsed = validation.parse_json(b'{"amount": NaN}')
    assert not isinstance(parsed["amount"], (int, float))
    assert repr(parsed["amount"]) == "NaN"


# --- Body fields -----------------------------------------------------------------------------------


def test_a_valid_body_is_normalised_to_known_fields():
    result = validation.validate_create_payment(dict(VALID_BODY))
    assert result == VALID_BODY
    assert type(result) is dict
    assert type(result["metadata"]) is dict


def test_optional_fields_may_be_absent():
    body = {name: VALID_BODY[name] for name in validation.REQUIRED_FIELDS}
    assert validation.validate_create_payment(body) == body


@pytest.mark.parametrize(
    ("amount", "currency", "major"),
    [
        (1, "USD", "0.01"),
        (1250, "USD", "12.50"),
        (99_999_999, "USD", "999999.99"),
        (1250, "JPY", "1250"),
        (99_999_999, "KRW", "99999999"),
        (1, "KWD", "0.001"),
        (1250, "BHD", "1.250"),
    ],
)
def test_amounts_are_minor_units_rendered_with_the_iso_exponent(amount, currency, major):
    validation.check_amount(amount, currency)
    assert validation.format_major_amount(amount, currency) == major


def test_the_supported_currencies_have_iso_exponents():
    assert validation.CURRENCY_EXPONENTS["USD"] == 2
    assert validation.CURRENCY_EXPONENTS["JPY"] == 0
    assert validation.CURRENCY_EXPONENTS["KRW"] == 0
    assert validation.CURRENCY_EXPONENTS["KWD"] == 3
    assert all(len(code) == 3 and code.isupper() and code.isalpha() for code in SUPPORTED)
    assert set(validation.CURRENCY_EXPONENTS.values()) == {0, 2, 3}


@property_settings()
@given(currency=st.sampled_from(SUPPORTED), amount=st.integers(validation.AMOUNT_MIN, validation.AMOUNT_MAX))
def test_property_every_in_range_integer_is_accepted_in_every_currency(currency, amount):
    result = validation.validate_create_payment(body_with(amount=amount, currency=currency))
    assert result["amount"] == amount
    assert result["currency"] == currency


@property_settings()
@given(
    currency=st.sampled_from(SUPPORTED),
    amount=st.one_of(
        st.integers(max_value=validation.AMOUNT_MIN - 1), st.integers(min_value=validation.AMOUNT_MAX + 1)
    ),
)
def test_property_out_of_range_integers_are_rejected_with_field_amount(currency, amount):
    assert rejected_field(body_with(amount=amount, currency=currency)) == "amount"


@property_settings()
@given(
    currency=st.sampled_from(SUPPORTED),
    amount=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(validation.AMOUNT_MIN, validation.AMOUNT_MAX).map(float),
        st.booleans(),
        st.integers(validation.AMOUNT_MIN, validation.AMOUNT_MAX).map(str),
        st.none(),
        st.lists(st.integers(), max_size=2),
    ),
)
def test_property_non_integer_amounts_are_rejected_with_field_amount(currency, amount):
    assert rejected_field(body_with(amount=amount, currency=currency)) == "amount"


@property_settings()
@given(
    currency=st.one_of(
        st.text(max_size=5).filter(lambda code: code not in validation.CURRENCY_EXPONENTS),
        st.sampled_from(SUPPORTED).map(str.lower),
        st.integers(),
        st.none(),
    ),
    amount=st.integers(validation.AMOUNT_MIN, validation.AMOUNT_MAX),
)
def test_property_unsupported_currencies_are_rejected_with_field_currency(currency, amount):
    assert rejected_field(body_with(amount=amount, currency=currency)) == "currency"


@property_settings(max_examples=50)
@given(amount=st.integers(validation.AMOUNT_MIN, validation.AMOUNT_MAX), currency=st.sampled_from(SUPPORTED))
def test_property_major_amount_round_trips(amount, currency):
    major = validation.format_major_amount(amount, currency)
    assert int(major.replace(".", "")) == amount
    assert len(major.partition(".")[2]) == validation.CURRENCY_EXPONENTS[currency]


@property_settings()
@given(merchant_id=st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"))
def test_property_merchant_ids_of_the_allowed_alphabet_are_accepted(merchant_id):
    validation.check_merchant_id(merchant_id)


# --- Payment ids -----------------------------------------------------------------------------------


def test_payment_ids_are_deterministic_per_merchant_and_key():
    first = validation.derive_payment_id("merchant_42", "key-1")
    assert first == validation.derive_payment_id("merchant_42", "key-1")
    assert first != validation.derive_payment_id("merchant_43", "key-1")
    assert first != validation.derive_payment_id("merchant_42", "key-2")
    assert validation.normalize_payment_id(first.upper()) == first


@pytest.mark.parametrize(
    "value", [None, "", "abc", "284d9212f6935e74a5c2f4f8488b2293", "284d9212-f693-5e74-a5c2-f4f8488b229g", 42]
)
def test_malformed_payment_ids_are_rejected_with_field_id(value):
    with pytest.raises(validation.ValidationError) as caught:
        validation.normalize_payment_id(value)
    assert caught.value.field == "id"


def test_client_supplied_names_in_messages_are_quoted_and_shortened():
    with pytest.raises(validation.ValidationError) as caught:
        validation.validate_create_payment({**VALID_BODY, "x" * 1000: 1})
    assert caught.value.field == "x" * 1000
    assert caught.value.message == 'Unknown field "' + "x" * 64 + '..."'
