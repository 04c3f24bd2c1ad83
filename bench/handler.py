"""Benchmark of the payment API handler (a script, not a test).

    .venv/bin/python -m bench.handler [--runs 15] [--requests 2000]   (from the repository root)

1. Import time: `import api` (the payment handler module: Powertools Logger/Metrics/Tracer, the DynamoDB
   client, the idempotency utility; the S3 and EventBridge clients are created by the first POST; garbage
   collection paused for the import by its init_phase module) against a bare `import boto3` plus creating
   one client (DynamoDB). Each sample is a fresh interpreter (subprocess); the figure is the time the import
   takes, measured inside that interpreter (interpreter start-up, the same for both, is excluded). The
   variants are interleaved, their order rotating each round, and every round gives one ratio per variant:
   the figure is the median of those ratios, with their spread (quartiles, min-max), in wall and CPU time.
   Two environments, both with dummy values and AWS_DEFAULT_REGION:
   - "plain": nothing else. The X-Ray SDK (imported by the Powertools Tracer) then believes it runs
     outside Lambda and builds its centralised-sampling poller, which creates a botocore session and
     an X-Ray client at import time;
   - "Lambda-like": LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME set as the Lambda runtime sets
     them. The X-Ray SDK then uses its local sampler (no client) and the Tracer is enabled and patches
     botocore: this is the work a real cold start does.
   A step-by-step breakdown of the handler's import work follows.
2. Handler CPU time per request without AWS: the module's boto3 clients are replaced by in-memory
   fakes (no botocore serialisation, signing or HTTP), and `time.process_time()` is taken over N
   requests of each kind (plain environment: tracing disabled, so no X-Ray subsegments).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.runtime.sample_request import VALID_BODY  # the runtime tests' request (tests/ is found with -m)

ROOT = Path(__file__).resolve().parents[1]
ASSET_ROOT = ROOT / "assets" / "lambda" / "payments"

DUMMY_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "PAYMENTS_TABLE_NAME": "payments-bench",
    "IDEMPOTENCY_TABLE_NAME": "payments-idempotency-bench",
    "AUDIT_BUCKET_NAME": "payments-audit-bench",
    "EVENT_BUS_NAME": "payments-bench",
    "ENVIRONMENT": "dev",
    "POWERTOOLS_SERVICE_NAME": "payment-api",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentProcessing",
}
LAMBDA_ENV = {"LAMBDA_TASK_ROOT": str(ASSET_ROOT), "AWS_LAMBDA_FUNCTION_NAME": "payment-api-bench"}
TARGET_RATIO = 1.3
BASELINE = "import boto3 + boto3.client('dynamodb')"

# Prints "<wall seconds> <CPU seconds>" for the import. CPU time (process_time) is the steadier figure
# on a shared machine: it does not count the time the process waits for a CPU.
_TIMED = (
    "import time\nwall, cpu = time.perf_counter(), time.process_time()\n{body}\n"
    "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
)
HANDLER_IMPORT = _TIMED.format(body="import api")
BASELINE_IMPORT = _TIMED.format(body="import boto3\nboto3.client('dynamodb')")
# The same work as `import api`, step by step, to attribute the time.
BREAKDOWN = """
import json, time
steps, last = {}, time.perf_counter()
def step(name):
    global last
    now = time.perf_counter()
    steps[name] = now - last
    last = now
import init_phase  # as the handler does first: no garbage collection until init_phase.done()
import boto3
step("import boto3")
session = boto3.session.Session()
session.client("dynamodb")
step("DynamoDB client (at import: every request uses it)")
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(); Metrics()
step("Powertools Logger + Metrics")
Tracer(patch_modules=("boto3",))
step("Powertools Tracer (X-Ray SDK; patches botocore in Lambda)")
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
step("Powertools idempotency")
import validation, payments_store, audit_log, payment_events, runtime_config
step("payment modules")
init_phase.done()
step("end of the init phase (gc.freeze)")
session.client("s3")
step("S3 client (not at import: on the first POST)")
session.client("events")
step("EventBridge client (not at import: on the first POST)")
print(json.dumps(steps))
"""
# (The breakdown is wall-clock time, measured step by step in one interpreter.)


def fresh_interpreter(code: str, extra_env: dict[str, str] | None = None) -> str:
    env = {**os.environ, **DUMMY_ENV, "PYTHONPATH": str(ASSET_ROOT), **(extra_env or {})}
    if not extra_env:
        for name in LAMBDA_ENV:
            env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ASSET_ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return f"IQR {quartiles[0]:.2f}-{quartiles[2]:.2f}, min-max {ordered[0]:.2f}-{ordered[-1]:.2f}"


def bench_import(runs: int) -> None:
    variants = {
        BASELINE: (BASELINE_IMPORT, None),
        "import api, Lambda-like environment": (HANDLER_IMPORT, LAMBDA_ENV),
        "import api, plain environment": (HANDLER_IMPORT, None),
    }
    for code, extra_env in variants.values():  # warm the file-system cache once; not counted
        fresh_interpreter(code, extra_env)
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_number in range(runs):  # interleaved, the order rotating, so drift affects every variant alike
        for name in names[round_number % len(names) :] + names[: round_number % len(names)]:
            code, extra_env = variants[name]
            wall_seconds, cpu_seconds = fresh_interpreter(code, extra_env).split()
            wall[name].append(float(wall_seconds))
            cpu[name].append(float(cpu_seconds))

    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"1. Import time: {runs} interleaved rounds of fresh interpreters (load average {load})")
    print(f"   target: Lambda-like handler import <= {TARGET_RATIO}x the baseline, median of the per-round ratios")
    print(f"   {'':<42} {'wall':>9} {'CPU':>9}   per-round ratios (median; spread)")
    for name in variants:
        wall_ms, cpu_ms = statistics.median(wall[name]) * 1000, statistics.median(cpu[name]) * 1000
        print(f"   {name:<42} {wall_ms:6.1f} ms {cpu_ms:6.1f} ms")
        if name == BASELINE:
            continue
        for label, samples in (("wall", wall), ("CPU", cpu)):
            ratios = [value / base for value, base in zip(samples[name], samples[BASELINE], strict=True)]
            print(f"     {label:<4} ratio {statistics.median(ratios):5.2f}x  ({_spread(ratios)})")

    for label, extra_env in (("Lambda-like", LAMBDA_ENV), ("plain", None)):
        steps = [json.loads(fresh_interpreter(BREAKDOWN, extra_env)) for _ in range(runs)]
        print(f"   breakdown of the handler's work, {label} environment (wall, median of {runs}):")
        for name in steps[0]:
            print(f"     {name:<64} {statistics.median(step[name] for step in steps) * 1000:7.1f} ms")


class FakeDynamoDB:
    """Just enough of the DynamoDB client API for the handler: conditional put, get, SET, delete."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, dict[str, Any]]] = {}

    @staticmethod
    def _key(key: dict[str, Any]) -> str:
        ((name, value),) = key.items()
        return f"{name}={value['S']}"

    def _condition_failed(self, item: dict[str, Any] | None) -> Exception:
        response: dict[str, Any] = {"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}
        if item is not None:
            response["Item"] = item
        return ClientError(response, "PutItem")

    def put_item(self, TableName, Item, ConditionExpression=None, **_):  # noqa: N803
        table = self.tables.setdefault(TableName, {})
        key_name = "id" if "id" in Item else "payment_id"
        key = self._key({key_name: Item[key_name]})
        if ConditionExpression and key in table:
            raise self._condition_failed(table[key])
        table[key] = dict(Item)
        return {}

    def get_item(self, TableName, Key, **_):  # noqa: N803
        item = self.tables.get(TableName, {}).get(self._key(Key))
        return {"Item": item} if item else {}

    def update_item(self, TableName, Key, UpdateExpression, ExpressionAttributeValues, **kwargs):  # noqa: N803
        names = kwargs.get("ExpressionAttributeNames", {})
        item = self.tables.setdefault(TableName, {}).setdefault(self._key(Key), dict(Key))
        for assignment in UpdateExpression.removeprefix("SET ").split(","):
            name, value = (part.strip() for part in assignment.split("="))
            item[names.get(name, name)] = ExpressionAttributeValues[value]
        return {}

    def delete_item(self, TableName, Key, **_):  # noqa: N803
        self.tables.get(TableName, {}).pop(self._key(Key), None)
        return {}


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket, Key, Body, **_):  # noqa: N803
        self.objects[f"{Bucket}/{Key}"] = Body
        return {}


class FakeEvents:
    def put_events(self, Entries):  # noqa: N803
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(index)} for index, _ in enumerate(Entries)]}


class Context:
    function_name = "payment-api-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:payment-api-bench"
    aws_request_id = "bench-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def _event(method: str, resource: str, body: str | None = None, key: str = "", payment_id: str = "") -> dict:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key} if method == "POST" else {}
    return {
        "resource": resource,
        "path": resource.replace("{id}", payment_id),
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "pathParameters": {"id": payment_id} if payment_id else None,
        "requestContext": {"requestId": str(uuid.uuid4()), "identity": {"sourceIp": "198.51.100.7"}},
        "body": body,
        "isBase64Encoded": False,
    }


def bench_requests(requests: int) -> None:
    os.environ.update(DUMMY_ENV)
    sys.path.insert(0, str(ASSET_ROOT))
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):  # the Powertools logger binds its stream here, at import
        import api  # noqa: PLC0415 (after the environment is set)
    fake_dynamodb = FakeDynamoDB()
    api.store = api.payments_store.PaymentsStore(fake_dynamodb, api.CONFIG.get("PAYMENTS_TABLE_NAME"))
    api.persistence_layer.client = fake_dynamodb
    api.s3_client, api.events_client = FakeS3(), FakeEvents()

    body = json.dumps(VALID_BODY)
    context = Context()
    with contextlib.redirect_stdout(sink):
        created = api.handler(_event("POST", "/payments", body, key="replayed-key"), context)
    payment_id = json.loads(created["body"])["id"]
    kinds = {
        "POST /payments, new key (201)": lambda i: _event("POST", "/payments", body, key=f"key-{i}"),
        "POST /payments, replay (201 replayed)": lambda _: _event("POST", "/payments", body, key="replayed-key"),
        "POST /payments, invalid body (400)": lambda _: _event("POST", "/payments", "{}", key="k"),
        "GET /payments/{id} (200)": lambda _: _event("GET", "/payments/{id}", payment_id=payment_id),
    }
    print(f"2. Handler CPU time per request, AWS calls replaced by in-memory fakes ({requests} requests each)")
    for name, make_event in kinds.items():
        events = [make_event(i) for i in range(requests)]
        with contextlib.redirect_stdout(sink):
            expected = api.handler(make_event(-1), context)["statusCode"]  # warm-up, not counted
            started = time.process_time()
            for event in events:
                api.handler(event, context)
            elapsed = time.process_time() - started
        sink.seek(0)
        sink.truncate()
        print(f"   {name:<40} {elapsed / requests * 1e6:8.0f} µs/request   (status {expected})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="interleaved rounds of fresh interpreters (default 15)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per kind for the CPU measurement")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    bench_import(args.runs)
    bench_requests(args.requests)


if __name__ == "__main__":
    main()
