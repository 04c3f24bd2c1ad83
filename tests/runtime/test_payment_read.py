"""GET /payments/{id}: 200, 404 unknown, 400 malformed; and routes the API does not have."""

from __future__ import annotations

import uuid

import pytest
from payments_testkit import rest_event
from sample_request import VALID_BODY


def test_get_returns_the_payment_as_created(client, aws):
    created = client.post(VALID_BODY, key="order-1001")

    response = client.get(created.body["id"])

    assert response.status == 200
    assert response.raw_body == created.raw_body
    assert response.headers["Cache-Control"] == "no-store"


def test_get_accepts_an_upper_case_id(client, aws):
    created = client.post(VALID_BODY, key="order-1001")
    assert client.get(created.body["id"].upper()).body == created.body


def test_get_unknown_id_is_404(client, aws):
    response = client.get(str(uuid.uuid4()))

    assert response.status == 404
    assert response.body == {
        "error": {"code": "payment_not_found", "message": "No payment with this id", "field": None}
    }


@pytest.mark.parametrize(
    "payment_id",
    ["not-a-uuid", "1234", "284d9212f6935e74a5c2f4f8488b2293", "284d9212-f693-5e74-a5c2-f4f8488b229z", " " * 36],
    ids=["word", "number", "no-hyphens", "bad-hex", "spaces"],
)
def test_get_malformed_id_is_400_with_field_id(payment_id, client, aws):
    response = client.get(payment_id)

    assert response.status == 400
    assert response.error["field"] == "id"
    assert response.error["code"] == "invalid_field"


def test_get_without_path_parameters_is_400(client, aws):
    response = client.invoke(rest_event("GET", "/payments/{id}", "/payments/"))
    assert response.status == 400
    assert response.error["field"] == "id"


def test_wrong_method_on_a_known_resource_is_405(client, aws):
    response = client.invoke(rest_event("DELETE", "/payments/{id}", f"/payments/{uuid.uuid4()}"))
    assert response.status == 405
    assert response.headers["Allow"] == "GET"
    assert response.error == {"code": "method_not_allowed", "message": "Use GET on this resource", "field": None}


def test_unknown_resource_is_404(client, aws):
    response = client.invoke(rest_event("GET", "/refunds", "/refunds"))
    assert response.status == 404
    assert response.error["code"] == "route_not_found"
