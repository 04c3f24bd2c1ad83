"""What the Lambda service does with a function's output: CloudWatch Logs, as the function's role.

Each execution environment writes to one log stream (`YYYY/MM/DD/[version]<id>`) of the function's log
group (its LoggingConfig.LogGroup, else /aws/lambda/<name>), created with CreateLogStream on first use;
each invocation's output, framed by START/END/REPORT lines, goes there with PutLogEvents. Both calls
are signed with the execution role's session, so a role without log permissions loses its logs here
as it does in AWS. A failed delivery never fails the invocation (Lambda's neither); it is kept in
`errors` for the stage to report.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import time
import uuid
from typing import Any, TextIO

from botocore.exceptions import ClientError


class Tee(io.TextIOBase):
    """Writes to the function log file and keeps the invocation's text for delivery."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.buffer_text = io.StringIO()

    def write(self, text: str) -> int:
        self.buffer_text.write(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def isatty(self) -> bool:
        return False


class LogDelivery:
    """One execution environment's log stream; `deliver()` after each invocation."""

    def __init__(self, logs_client: Any, *, function_name: str, version: str, log_group: str) -> None:
        self.logs = logs_client
        self.function_name = function_name
        self.log_group = log_group
        day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[{version}]{uuid.uuid4().hex}"
        self.errors: list[str] = []
        self.delivered = 0
        self._stream_created = False
        self._lock = threading.Lock()

    def deliver(self, request_id: str, output: str, *, started: float, version: str) -> None:
        duration_ms = (time.monotonic() - started) * 1000
        now_ms = int(time.time() * 1000)
        lines = [f"START RequestId: {request_id} Version: {version}"]
        lines += [line for line in output.splitlines() if line.strip()]
        lines += [f"END RequestId: {request_id}", f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"]
        events = [{"timestamp": now_ms, "message": line} for line in lines]
        with self._lock:
            try:
                if not self._stream_created:
                    self.logs.create_log_stream(logGroupName=self.log_group, logStreamName=self.log_stream)
                    self._stream_created = True
                self.logs.put_log_events(logGroupName=self.log_group, logStreamName=self.log_stream, logEvents=events)
                self.delivered += 1
            except ClientError as error:
                message = f"log delivery of {self.function_name} to {self.log_group} failed: {_error_text(error)}"
                if message not in self.errors:  # one line per distinct failure, not per invocation
                    self.errors.append(message)


def _error_text(error: ClientError) -> str:
    """moto answers a denied JSON-protocol call with IAM's XML error: take its code and message out."""
    info = error.response.get("Error", {})
    code, message = str(info.get("Code", "?")), str(info.get("Message", ""))
    inner = re.search(r"<Code>(.*?)</Code>.*?<Message>(.*?)</Message>", message, re.DOTALL)
    if inner:
        code, message = inner.group(1), inner.group(2)
    return f"{error.operation_name}: {code}: {message[:300]}"
