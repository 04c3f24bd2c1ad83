"""Lambda's SQS poller, locally: messages of a mapped queue go to the real handler in SQS batches.

EventBridge -> SQS is delivered by moto itself (verified for the rule CloudFormation creates: a
PaymentCreated event put on the bus arrives on the queue). moto's own SQS -> Lambda path needs Docker
and is switched off by a shim; this poller takes its place, with the semantics of Lambda's event
source mapping: batch size from the mapping, long polling, `ReportBatchItemFailures` (only failed
records stay on the queue), a function error keeps the whole batch; a message not deleted becomes
visible again after the queue's visibility timeout and moves to the dead-letter queue after
maxReceiveCount (moto applies the redrive policy). The poller receives and deletes with the function's
execution role, as Lambda does: a role without the queue permissions gets AccessDenied, which fails the
stage like any denied call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from rehearsal.lambda_runtime import FunctionHost


@dataclass(frozen=True)
class QueueMapping:
    uuid: str
    queue_arn: str
    function_arn: str
    batch_size: int
    report_item_failures: bool

    @classmethod
    def from_api(cls, mapping: dict[str, Any]) -> QueueMapping:
        return cls(
            uuid=mapping["UUID"],
            queue_arn=mapping["EventSourceArn"],
            function_arn=mapping["FunctionArn"],
            batch_size=int(mapping.get("BatchSize") or 10),
            report_item_failures="ReportBatchItemFailures" in (mapping.get("FunctionResponseTypes") or []),
        )


class SqsPoller:
    """One polling thread per event source mapping."""

    def __init__(self, mapping: QueueMapping, *, sqs: Any, functions: FunctionHost, region: str, log: TextIO) -> None:
        self.mapping = mapping
        self._sqs = sqs
        self._functions = functions
        self._region = region
        self._log = log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        queue_name = mapping.queue_arn.rsplit(":", 1)[-1]
        self.queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.delivered = 0
        self.failed = 0

    def start(self) -> SqsPoller:
        self._thread = threading.Thread(target=self._run, name=f"sqs-{self.mapping.uuid[:8]}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception as error:
                self._log.write(f"sqs poller {self.mapping.queue_arn}: {type(error).__name__}: {error}\n")
                self._log.flush()
                time.sleep(0.5)

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and deliver it; returns the number of messages received."""
        sqs = self._functions.role_client(self.mapping.function_arn, "sqs")  # Lambda polls as the function's role
        messages = sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.mapping.batch_size, 10),
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        try:
            response = self._functions.function(self.mapping.function_arn).invoke(event)
        except Exception as error:
            self.failed += len(messages)
            self._log.write(f"{self.mapping.function_arn}: function error {type(error).__name__}: {error}\n")
            self._log.flush()
            return len(messages)
        failed_ids = set()
        if self.mapping.report_item_failures and isinstance(response, dict):
            failed_ids = {item.get("itemIdentifier") for item in response.get("batchItemFailures") or []}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        self.failed += len(messages) - len(done)
        self.delivered += len(done)
        if done:
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        attributes = message.get("Attributes", {})
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": {
                key: attributes[key]
                for key in ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
                if key in attributes
            },
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value.get("DataType"),
                }
                for name, value in (message.get("MessageAttributes") or {}).items()
            },
            "md5OfBody": message.get("MD5OfBody"),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.mapping.queue_arn,
            "awsRegion": self._region,
        }
