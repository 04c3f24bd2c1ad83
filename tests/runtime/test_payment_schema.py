"""The draft-4 request schema (API Gateway model) and the function's checks agree on the corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import validation
from payments_corpus import BAD_CASES, VALID_BODIES, BadCase

SCHEMA_PATH = Path(validation.__file__).resolve().parent / "schemas" / "create_payment.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
# The subset of draft 4 that API Gateway request models take (plus the two annotations).
ALLOWED_KEYWORDS = {
    "$schema",
    "title",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
    "enum",
    "maxProperties",
}
schema_validate = fastjsonschema.compile(SCHEMA)
BODY_CASES = [case for case in BAD_CASES if case.kind == "body"]


def keywords(schema: dict[str, Any]) -> set[str]:
    found = set(schema)
    for sub in schema.get("properties", {}).values():
        found |= keywords(sub)
    if isinstance(schema.get("additionalProperties"), dict):
        found |= keywords(schema["additionalProperties"])
    return found


def schema_accepts(document: Any) -> bool:
    try:
        schema_validate(document)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def code_accepts(text: str) -> bool:
    try:
        validation.validate_create_payment(validation.parse_json(text.encode("utf-8")))
    except validation.ValidationError:
        return False
    return True


def test_the_schema_is_a_valid_draft_4_schema():
    jsonschema = pytest.importorskip("jsonschema")
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator.check_schema(SCHEMA)


def test_the_schema_uses_only_keywords_api_gateway_models_support():
    assert keywords(SCHEMA) <= ALLOWED_KEYWORDS


def test_the_schema_states_the_same_limits_as_the_code():
    properties = SCHEMA["properties"]
    assert SCHEMA["additionalProperties"] is False
    assert SCHEMA["required"] == list(validation.REQUIRED_FIELDS)
    assert set(properties) == validation.ALLOWED_FIELDS
    assert (properties["amount"]["minimum"], properties["amount"]["maximum"]) == (1, 99_999_999)
    assert properties["currency"]["enum"] == sorted(validation.CURRENCY_EXPONENTS)
    assert properties["merchant_id"]["maxLength"] == validation.MERCHANT_ID_MAX
    assert properties["source"]["maxLength"] == validation.SOURCE_MAX
    assert properties["description"]["maxLength"] == validation.DESCRIPTION_MAX
    assert properties["metadata"]["maxProperties"] == validation.METADATA_MAX_KEYS
    assert properties["metadata"]["additionalProperties"]["maxLength"] == validation.METADATA_VALUE_MAX


def test_the_corpus_covers_every_body_field():
    assert {case.field for case in BODY_CASES} >= validation.ALLOWED_FIELDS


@pytest.mark.parametrize("case", BODY_CASES, ids=[case.id for case in BODY_CASES])
def test_schema_and_code_reject_the_same_bad_bodies(case: BadCase):
    text = case.text()
    assert not code_accepts(text)
    if case.schema_gap:
        # A rule draft 4 (as API Gateway takes it) cannot state: the function is the only guard.
        assert schema_accepts(json.loads(text)), "schema now rejects this: drop schema_gap"
    else:
        assert not schema_accepts(json.loads(text))


@pytest.mark.parametrize("name", sorted(VALID_BODIES))
def test_schema_and_code_accept_the_same_good_bodies(name):
    body = VALID_BODIES[name]
    assert schema_accepts(body)
    assert code_accepts(json.dumps(body))


@pytest.mark.parametrize("currency", sorted(validation.CURRENCY_EXPONENTS))
def test_schema_and_code_accept_every_supported_currency(currency):
    body = {**VALID_BODIES["minimal"], "currency": currency, "amount": 99_999_999}
    assert schema_accepts(body)
    assert code_accepts(json.dumps(body))
