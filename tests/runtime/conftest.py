"""Fixtures for the Lambda runtime tests: moto (in-process), the handler modules, request helpers.

- The Lambda code root (assets/lambda/payments) goes on sys.path, resolved from this file, and so
  does this directory (for `payments_testkit`).
- Dummy credentials, region us-east-1, account 111111111111 and the functions' variables are set
  for these tests (package scope) before any handler module is imported.
- One moto mock (`mock_aws`, in-process) is active for the package, with the resources created
  once: the payments and idempotency tables (the stack's key schemas), the versioned, KMS-encrypted
  audit bucket, the event bus and a rule sending PaymentCreated to a queue, to observe events. Every
  test that uses `aws` starts with all of them emptied of data.
- The handler modules are imported once, under that mock: their module-level boto3 clients are
  created after moto registered its botocore hook, so every call they make goes to moto.
- moto serves requests without service-side atomicity: two threads can both pass the same
  conditional write. Real DynamoDB and S3 evaluate a conditional write atomically, so requests to
  moto are serialised here (one lock around its request dispatch) to model that.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis.configuration import set_hypothesis_home_dir
from moto.core.botocore_stubber import BotocoreStubber

# These tests talk to moto's in-process mocks. An endpoint override in the caller's environment (the
# rehearsal's synth action runs the suite with AWS pointed at its emulator) would send the mocked calls past
# the mock, so none applies here (the smoke suite, which runs against an endpoint, has its own conftest).
for _name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]

HERE = Path(__file__).resolve().parent
for _path in (HERE.parents[1] / "assets" / "lambda" / "payments", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from payments_testkit import FUNCTION_ENV, ApiClient, moto_world  # noqa: E402

# Hypothesis keeps caches (unicode tables, constants) on disk: not in the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "payments-runtime-hypothesis")


@pytest.fixture(scope="package", autouse=True)
def aws_environment():
    """Dummy credentials, region, account and the functions' environment, for these tests."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FUNCTION_ENV.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        patch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
        patch.delenv("LAMBDA_TASK_ROOT", raising=False)  # outside Lambda: the Tracer stays disabled
        yield FUNCTION_ENV


@pytest.fixture(scope="package", autouse=True)
def atomic_moto_requests():
    """One lock around moto's request dispatch: each request is applied atomically, as in AWS."""
    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process_request(self, request):
        with lock:
            return original(self, request)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BotocoreStubber, "process_request", process_request)
        yield


@pytest.fixture(scope="package")
def aws_world(aws_environment, atomic_moto_requests):
    """One moto backend and one set of resources for the package (creating them is the slow part)."""
    with moto_world() as world:
        yield world


@pytest.fixture
def aws(aws_world):
    """The moto world, emptied of any data: every test starts with no item, object or message."""
    aws_world.reset_data()
    return aws_world


@pytest.fixture
def api(aws):
    """The payment API module, imported once, under the moto mock (its clients are module-level)."""
    return importlib.import_module("api")


@pytest.fixture
def processor(aws):
    return importlib.import_module("processor")


@pytest.fixture
def client(api) -> ApiClient:
    return ApiClient(api)
