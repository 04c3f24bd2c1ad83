"""HTTP client for the payment API: requests signed with SigV4 (service `execute-api`), as IAM auth needs.

The same client calls API Gateway in AWS and the rehearsal's local gateway (which verifies signatures
against the emulator's dummy credentials).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

TIMEOUT_S = 30


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def describe(self) -> str:
        return f"HTTP {self.status} {self.body[:300].decode('utf-8', 'replace')}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class ApiClient:
    def __init__(self, base_url: str, session: Any, region: str) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._session = session
        self._region = region
        self._opener = urllib.request.build_opener(_NoRedirect)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | str | dict | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> Response:
        url = urljoin(self.base_url, path.lstrip("/"))
        data: bytes | None
        if isinstance(body, dict):
            data = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body
        request_headers = dict(headers or {})
        if sign:
            credentials = self._session.get_credentials()
            if credentials is None:
                raise RuntimeError("no AWS credentials to sign the API request with (IAM authorization)")
            aws_request = AWSRequest(method=method, url=url, data=data or b"", headers=request_headers)
            SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self._region).add_auth(aws_request)
            request_headers = dict(aws_request.headers.items())
        request = urllib.request.Request(url, data=data, headers=request_headers, method=method)
        try:
            with self._opener.open(request, timeout=TIMEOUT_S) as response:
                return Response(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())

    def create(self, body: dict | str | bytes, key: str | None, *, content_type: str = "application/json") -> Response:
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.request("POST", "payments", body=body, headers=headers)

    def read(self, payment_id: str) -> Response:
        return self.request("GET", f"payments/{payment_id}")
