"""The bad-input corpus through the real handler: 400, the right field, and nothing written."""

from __future__ import annotations

import pytest
from payments_corpus import BAD_CASES, BadCase
from payments_testkit import rest_event
from sample_request import VALID_BODY


def test_corpus_is_large_and_ids_are_unique():
    assert len(BAD_CASES) >= 40
    assert len({case.id for case in BAD_CASES}) == len(BAD_CASES)


@pytest.mark.parametrize("case", BAD_CASES, ids=[case.id for case in BAD_CASES])
def test_bad_input_is_rejected_with_field_and_nothing_written(case: BadCase, client, aws):
    response = client.invoke(rest_event("POST", "/payments", "/payments", **case.event_args()))

    assert response.status == 400, response.body
    assert set(response.body) == {"error"}
    assert set(response.error) == {"code", "message", "field"}
    assert response.error["field"] == case.field
    assert response.error["code"] == case.code
    assert response.error["message"]
    aws.assert_nothing_written()  # no item, no audit object, no event, no idempotency record

    # Nothing blocks the corrected request, under the same key when that key was valid.
    retry = client.post(VALID_BODY, key=case.retry_key)
    assert retry.status == 201, retry.body
    assert "Idempotent-Replayed" not in retry.headers  # a first execution, not a stored answer
    assert len(aws.payment_items()) == 1
