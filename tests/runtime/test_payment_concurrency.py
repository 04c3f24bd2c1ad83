"""Concurrent requests under one Idempotency-Key: 409 while in progress, exactly one of each side effect."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from payments_testkit import FakeLambdaContext
from sample_request import VALID_BODY


@pytest.fixture
def paused_creation(api, monkeypatch):
    """Holds the first request inside the idempotent section (just before the payment write)."""
    entered, release = threading.Event(), threading.Event()
    original = api.store.put_new

    def put_new(item):
        entered.set()
        assert release.wait(10), "test never released the paused request"
        return original(item)

    monkeypatch.setattr(api.store, "put_new", put_new)
    yield entered, release
    release.set()


def test_a_request_in_progress_makes_the_same_key_409_and_writes_nothing(client, aws, paused_creation):
    entered, release = paused_creation
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.post, VALID_BODY, key="order-1001")
        assert entered.wait(10)

        response = client.post(VALID_BODY, key="order-1001")
        assert response.status == 409
        assert response.error["code"] == "request_in_progress"
        assert response.error["field"] == "Idempotency-Key"
        assert response.headers["Retry-After"] == "1"
        assert aws.payment_items() == []
        assert aws.audit_versions() == []
        assert aws.events_published() == []

        # A different body under the key being processed is a mismatch, not a wait.
        mismatch = client.post({**VALID_BODY, "amount": 1}, key="order-1001")
        assert mismatch.status == 422

        release.set()
        assert first.result(timeout=10).status == 201

    aws.assert_one_of_each()
    retry = client.post(VALID_BODY, key="order-1001")  # "the client may retry"
    assert retry.status == 201
    assert retry.headers["Idempotent-Replayed"] == "true"


@pytest.fixture
def thread_safe_metrics(api, monkeypatch):
    """Lambda runs one request per process; these threads share one Metrics buffer instead.

    Adding to and flushing that shared buffer from 50 threads at once could race (a dict mutated
    while serialised), and a thread can find the buffer already flushed by another (Powertools then
    warns "No application metrics to publish"). Neither can happen in Lambda, so serialise the two.
    """
    lock = threading.Lock()
    provider = api.metrics.provider
    add_metric, flush_metrics = provider.add_metric, provider.flush_metrics

    def locked_add_metric(*args, **kwargs):
        with lock:
            return add_metric(*args, **kwargs)

    def locked_flush_metrics(*args, **kwargs):
        with lock:
            return flush_metrics(*args, **kwargs)

    monkeypatch.setattr(provider, "add_metric", locked_add_metric)
    monkeypatch.setattr(provider, "flush_metrics", locked_flush_metrics)


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
@pytest.mark.usefixtures("thread_safe_metrics")
def test_fifty_concurrent_requests_with_one_key_create_exactly_one_payment(client, aws):
    def send(_):
        return client.post(VALID_BODY, key="order-concurrent", context=FakeLambdaContext())

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(send, range(50)))

    statuses = [response.status for response in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(created) == 1
    assert {r.raw_body for r in responses if r.status == 201} == {created[0].raw_body}
    assert all(r.error["code"] == "request_in_progress" for r in responses if r.status == 409)
    aws.assert_one_of_each()
    assert len(aws.idempotency_records()) == 1
