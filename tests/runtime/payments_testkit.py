"""Test support for tests/runtime: constants, moto world, fake Lambda context, event builders."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import boto3
from hypothesis import settings

# moto registers its botocore hook when imported: import it before creating any boto3 session.
from moto import mock_aws

ASSET_ROOT = Path(__file__).resolve().parents[2] / "assets" / "lambda" / "payments"
ACCOUNT_ID = "111111111111"
REGION = "us-east-1"
PAYMENTS_TABLE = "payments-test"
IDEMPOTENCY_TABLE = "payments-idempotency-test"
AUDIT_BUCKET = "payments-audit-111111111111-test"
EVENT_BUS = "payments-test"
EVENT_QUEUE = "payments-events-test"

FUNCTION_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "MOTO_ACCOUNT_ID": ACCOUNT_ID,
    "PAYMENTS_TABLE_NAME": PAYMENTS_TABLE,
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "AUDIT_BUCKET_NAME": AUDIT_BUCKET,
    "EVENT_BUS_NAME": EVENT_BUS,
    "ENVIRONMENT": "dev",
    "POWERTOOLS_SERVICE_NAME": "payment-api",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentProcessingTest",
}


@dataclass
class FakeLambdaContext:
    function_name: str = "payment-api-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:payment-api-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/payment-api-test"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"
    remaining_millis: int = 29_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


_SESSION = boto3.session.Session()


def property_settings(**overrides: Any) -> settings:
    """Hypothesis settings for these tests: no example database on disk, no per-example deadline."""
    return settings(database=None, deadline=None, **overrides)


@contextmanager
def moto_world() -> Iterator[AwsWorld]:
    """A moto backend with the test resources, for the duration of the block."""
    with mock_aws():
        yield AwsWorld()


class AwsWorld:
    """The moto resources of one test, and counters for every side effect."""

    _clients: ClassVar[dict[str, Any]] = {}

    @classmethod
    def client(cls, service: str) -> Any:
        """Test-side clients, created once per session (creating clients is the slow part)."""
        if service not in cls._clients:
            cls._clients[service] = _SESSION.client(service, region_name=REGION)
        return cls._clients[service]

    def __init__(self) -> None:
        self.dynamodb = self.client("dynamodb")
        self.s3 = self.client("s3")
        self.events = self.client("events")
        self.sqs = self.client("sqs")
        self._events_seen: list[dict[str, Any]] = []
        self._create()

    def _create(self) -> None:
        self.dynamodb.create_table(
            TableName=PAYMENTS_TABLE,
            KeySchema=[{"AttributeName": "payment_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "payment_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.dynamodb.update_time_to_live(
            TableName=IDEMPOTENCY_TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
        self.s3.create_bucket(Bucket=AUDIT_BUCKET)
        self.s3.put_bucket_versioning(Bucket=AUDIT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_encryption(
            Bucket=AUDIT_BUCKET,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        self.events.create_event_bus(Name=EVENT_BUS)
        self.queue_url = self.sqs.create_queue(QueueName=EVENT_QUEUE)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.events.put_rule(
            Name="payment-created",
            EventBusName=EVENT_BUS,
            EventPattern=json.dumps({"source": ["payments.api"], "detail-type": ["PaymentCreated"]}),
        )
        self.events.put_targets(
            Rule="payment-created", EventBusName=EVENT_BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )

    def reset_data(self) -> None:
        """Empty the tables, the bucket (every version) and the queue; keep the resources."""
        for table, key in ((PAYMENTS_TABLE, "payment_id"), (IDEMPOTENCY_TABLE, "id")):
            for item in self.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]:
                self.dynamodb.delete_item(TableName=table, Key={key: item[key]})
        listing = self.s3.list_object_versions(Bucket=AUDIT_BUCKET)
        versions = listing.get("Versions", []) + listing.get("DeleteMarkers", [])
        if versions:
            objects = [{"Key": version["Key"], "VersionId": version["VersionId"]} for version in versions]
            self.s3.delete_objects(Bucket=AUDIT_BUCKET, Delete={"Objects": objects})
        self.sqs_messages()  # (a queue can be purged only once a minute)
        self._events_seen.clear()

    # --- side-effect counters -------------------------------------------------------------------

    def payment_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=PAYMENTS_TABLE, ConsistentRead=True)["Items"]

    def payment_item(self, payment_id: str) -> dict[str, Any] | None:
        return self.dynamodb.get_item(
            TableName=PAYMENTS_TABLE, Key={"payment_id": {"S": payment_id}}, ConsistentRead=True
        ).get("Item")

    def idempotency_records(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=IDEMPOTENCY_TABLE, ConsistentRead=True)["Items"]

    def delete_idempotency_records(self) -> None:
        for record in self.idempotency_records():
            self.dynamodb.delete_item(TableName=IDEMPOTENCY_TABLE, Key={"id": record["id"]})

    def audit_versions(self) -> list[dict[str, Any]]:
        """Every version of every audit object (a rewrite would show as a second version)."""
        return self.s3.list_object_versions(Bucket=AUDIT_BUCKET).get("Versions", [])

    def audit_objects(self) -> dict[str, bytes]:
        keys = [item["Key"] for item in self.s3.list_objects_v2(Bucket=AUDIT_BUCKET).get("Contents", [])]
        return {key: self.s3.get_object(Bucket=AUDIT_BUCKET, Key=key)["Body"].read() for key in keys}

    def sqs_messages(self) -> list[dict[str, Any]]:
        """Drain the event queue (receive and delete), returning every message seen so far."""
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return list(self._events_seen)
            self._events_seen.extend(batch)
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )

    def events_published(self) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in self.sqs_messages()]

    def assert_nothing_written(self) -> None:
        assert self.payment_items() == []
        assert self.audit_versions() == []
        assert self.events_published() == []
        assert self.idempotency_records() == []

    def assert_one_of_each(self) -> None:
        assert len(self.payment_items()) == 1
        assert len(self.audit_versions()) == 1
        assert len(self.events_published()) == 1


def rest_event(
    method: str,
    resource: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    multi_value_headers: dict[str, list[str]] | None = None,
    body: str | None = None,
    is_base64_encoded: bool = False,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy (payload v1) event."""
    headers = dict(headers or {})
    multi = multi_value_headers or {name: [value] for name, value in headers.items()}
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/dev{path}",
            "stage": "dev",
            "accountId": ACCOUNT_ID,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "sourceIp": "198.51.100.7",
                "userAgent": "pytest",
                "accountId": ACCOUNT_ID,
                "caller": "AROAEXAMPLE:checkout",
                "userArn": f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/checkout/session",
            },
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    raw_body: str
    request_id: str

    @property
    def error(self) -> dict[str, Any]:
        return self.body["error"]


class ApiClient:
    """Invokes api.handler the way API Gateway would."""

    def __init__(self, module) -> None:
        self.module = module

    def invoke(self, event: dict[str, Any], context: FakeLambdaContext | None = None) -> Response:
        context = context or FakeLambdaContext()
        result = self.module.handler(event, context)
        assert result["isBase64Encoded"] is False
        assert result["headers"]["Content-Type"] == "application/json"
        return Response(
            status=result["statusCode"],
            headers=result["headers"],
            body=json.loads(result["body"]),
            raw_body=result["body"],
            request_id=context.aws_request_id,
        )

    def post(
        self,
        body: Any = None,
        *,
        key: str | None = "key-0001",
        raw: str | None = None,
        content_type: str | None = "application/json",
        extra_headers: dict[str, str] | None = None,
        context: FakeLambdaContext | None = None,
    ) -> Response:
        headers: dict[str, str] = {}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if key is not None:
            headers["Idempotency-Key"] = key
        headers.update(extra_headers or {})
        text = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.invoke(rest_event("POST", "/payments", "/payments", headers=headers, body=text), context)

    def get(self, payment_id: str, context: FakeLambdaContext | None = None) -> Response:
        event = rest_event("GET", "/payments/{id}", f"/payments/{payment_id}", path_parameters={"id": payment_id})
        return self.invoke(event, context)


def base64_event_body(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source batch for the processor."""
    return {
        "Records": [
            {
                "messageId": f"msg-{index}",
                "receiptHandle": f"handle-{index}",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1767225600000",
                    "SenderId": ACCOUNT_ID,
                    "ApproximateFirstReceiveTimestamp": "1767225600000",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{EVENT_QUEUE}",
                "awsRegion": REGION,
            }
            for index, body in enumerate(bodies)
        ]
    }
