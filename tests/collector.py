"""Python's cyclic garbage collector in a test process: paused while the suite is collected, then everything
collection built (aws_cdk's and moto's modules, botocore's models, the test items) is frozen, and full
collections run a tenth as often.

A worker holds over a million long-lived objects, and every full collection walked them again: 12.5 s of
the two workers' CPU per `make test` went to 43 full collections (measured with gc.callbacks). Frozen
objects are still freed when their last reference goes; only cycles among them are never collected, which a
test process that ends with the suite can afford. `rehearsal.lambda_runtime.load_handler` keeps the freeze
when it undoes a hosted function's own (init_phase).
"""

from __future__ import annotations

import gc
from collections.abc import Generator

import pytest

MIDDLE_COLLECTIONS_PER_FULL = 100  # CPython's default is 10


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Generator[None, object, object]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, MIDDLE_COLLECTIONS_PER_FULL)
        if collecting:
            gc.enable()
