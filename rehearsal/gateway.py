"""A local stand-in for one API Gateway REST API stage, in front of the real handlers.

moto stores the REST API (resources, methods, integrations) and, through the harness, its stage
(rehearsal/resource_providers.py), but it cannot run Lambda code. This gateway reads the API's resources
and methods from the emulator and serves them on 127.0.0.1 (ephemeral port) at `/<stage>/...`, like
`https://<id>.execute-api.../<stage>/...`:
- routes: the resource paths and HTTP methods defined in the emulator (`{param}` and `{proxy+}`); an
  undefined route answers 403 `Missing Authentication Token`, as API Gateway does;
- IAM (SigV4) authorization on methods whose authorizationType is AWS_IAM: the signature is verified
  with the secret of the emulator's key that signed it (a user's, or an assumed-role session's with its
  token; service `execute-api`, the stage's region, a 15-minute clock skew window), then the caller's
  identity policies must allow `execute-api:Invoke` on the method's ARN; unsigned, badly signed or
  unauthorized requests get API Gateway's 403 bodies;
- the Lambda proxy integration (payload v1): the HTTP request becomes a REST proxy event, the function
  of the integration URI (alias or version included) is invoked, its response becomes the HTTP
  response; a function error or malformed response is a 502 `Internal server error`.
Not emulated (the model, validator and gateway responses are skipped by moto and reported so; the stage's
settings and the WAF web ACL are held by the emulator but nothing enforces them): request validation
against the model, gateway responses, throttling, WAF, access and execution logging.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qsl, unquote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from rehearsal.iam import Caller
from rehearsal.lambda_runtime import FunctionHost

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_INTEGRATION_FUNCTION = re.compile(r"/functions/(?P<function>arn:[^/]+)/invocations$")
MAX_CLOCK_SKEW_S = 15 * 60
MISSING_TOKEN = {"message": "Missing Authentication Token"}
# The listen backlog: ThreadingHTTPServer's default of 5 resets connections when a test suite opens
# a few dozen at once; the kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 128
SHUTDOWN_POLL_S = 0.05


class _GatewayServer(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # e.g. /payments/{id}
    pattern: re.Pattern[str]
    authorization: str
    function: str  # function ARN, possibly qualified
    resource_id: str


def _route_pattern(resource: str) -> re.Pattern[str]:
    parts = []
    for segment in resource.strip("/").split("/"):
        if not segment:
            continue
        match = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if match and match.group(2):
            parts.append(f"(?P<{match.group(1)}>.+)")
        elif match:
            parts.append(f"(?P<{match.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "$")


def routes_of(apigateway: Any, api_id: str) -> list[Route]:
    """The API's methods with Lambda proxy integrations, as stored in the emulator."""
    routes = []
    paginator = apigateway.get_paginator("get_resources")
    for page in paginator.paginate(restApiId=api_id, embed=["methods"]):
        for resource in page["items"]:
            for method, definition in (resource.get("resourceMethods") or {}).items():
                integration = definition.get("methodIntegration") or {}
                match = _INTEGRATION_FUNCTION.search(integration.get("uri", ""))
                if integration.get("type") != "AWS_PROXY" or not match:
                    continue
                routes.append(
                    Route(
                        method=method,
                        resource=resource["path"],
                        pattern=_route_pattern(resource["path"]),
                        authorization=definition.get("authorizationType", "NONE"),
                        function=match.group("function"),
                        resource_id=resource["id"],
                    )
                )
    return routes


class LocalRestApi:
    """Serves one REST API stage of the emulator on 127.0.0.1 with the real handlers."""

    def __init__(
        self,
        *,
        api_id: str,
        stage: str,
        routes: list[Route],
        functions: FunctionHost,
        region: str,
        account: str,
        callers: CallerLookup,
        log: TextIO,
        invoke_policy: InvokePolicy | None = None,
    ) -> None:
        self.api_id = api_id
        self.stage = stage
        self.routes = routes
        self.functions = functions
        self.region = region
        self.account = account
        self.callers = callers
        self.invoke_policy = invoke_policy  # None: a valid signature is enough
        self.log = log
        self._log_lock = threading.Lock()
        self._server: _GatewayServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str), host  # an AF_INET server address
        return f"http://{host}:{port}/{self.stage}/"

    def start(self) -> LocalRestApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                started = time.monotonic()
                status, headers, payload = api.handle(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                api.access_log(self.command, self.path, status, time.monotonic() - started)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_request  # noqa: N815

            def log_message(self, *_args: Any) -> None:  # requests go to the access log instead
                return

        self._server = _GatewayServer(("127.0.0.1", 0), Handler)
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, paid by every stop of a stage's API
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_S},
            name=f"api-{self.stage}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def error_log(self, request_id: str, route: Route, error: BaseException) -> None:
        with self._log_lock:
            text = "".join(traceback.format_exception(error))[-4000:]
            self.log.write(
                json.dumps({"api": self.api_id, "request": request_id, "function": route.function, "error": text})
                + "\n"
            )
            self.log.flush()

    def access_log(self, method: str, path: str, status: int, seconds: float) -> None:
        with self._log_lock:
            self.log.write(
                json.dumps(
                    {
                        "api": self.api_id,
                        "stage": self.stage,
                        "method": method,
                        "path": path,
                        "status": status,
                        "ms": round(seconds * 1000, 1),
                    }
                )
                + "\n"
            )
            self.log.flush()

    # --- request handling ------------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.requests += 1
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        prefix = f"/{self.stage}"
        if split.path != prefix and not split.path.startswith(prefix + "/"):
            return _json(403, MISSING_TOKEN, request_id)
        request = _Request(
            method=method,
            raw_path=raw_path,
            path=split.path[len(prefix) :] or "/",
            query=split.query,
            headers=_HeaderMap(headers),
            body=body,
            source_ip=source_ip,
            request_id=request_id,
        )
        route, parameters = self._match(method, unquote(request.path))
        if route is None:
            return _json(403, MISSING_TOKEN, request_id)
        caller = None
        if route.authorization == "AWS_IAM":
            try:
                caller = self._authenticate(request)
            except _DeniedError as denied:
                return _json(403, {"message": str(denied)}, request_id)
            method_arn = f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/{self.stage}/{method}/"
            method_arn += request.path.lstrip("/")
            if self.invoke_policy is not None and not self.invoke_policy(caller, method_arn):
                message = (
                    f"User: {caller.arn} is not authorized to perform: execute-api:Invoke on resource: {method_arn}"
                )
                return _json(403, {"Message": message}, request_id)
        event = self._event(route, parameters, request, caller)
        try:
            response = self.functions.function(route.function).invoke(event)
            return _http_response(response, request_id)
        except Exception as error:
            self.error_log(request_id, route, error)
            return _json(502, {"message": "Internal server error"}, request_id)

    def _match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method in (method, "ANY"):
                return route, match.groupdict()
        return None, {}

    def _authenticate(self, request: _Request) -> Caller:
        """The caller when the SigV4 signature is valid, else _DeniedError (API Gateway's text)."""
        headers = request.headers
        match = _AUTHORIZATION.fullmatch((headers.get("authorization") or "").strip())
        if not headers.get("authorization"):
            raise _DeniedError(MISSING_TOKEN["message"])
        if not match:
            raise _DeniedError("Authorization header requires 'Credential', 'Signature', 'SignedHeaders' parameters.")
        key = match.group("key")
        caller = self.callers(key, headers.get("x-amz-security-token"))
        if caller is None:
            raise _DeniedError("The security token included in the request is invalid.")
        if match.group("service") != "execute-api" or match.group("region") != self.region:
            raise _DeniedError(
                f"Credential should be scoped to correct service/region: 'execute-api' in '{self.region}'."
            )
        amz_date = headers.get("x-amz-date") or ""
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise _DeniedError(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
            ) from None
        if abs((dt.datetime.now(dt.UTC) - signed_at).total_seconds()) > MAX_CLOCK_SKEW_S:
            raise _DeniedError("Signature expired: the request was signed too long ago (or in the future).")
        signed = AWSRequest(
            method=request.method,
            url=f"http://{headers.get('host')}{request.raw_path}",
            data=request.body,
            headers={name: headers.get(name) or "" for name in match.group("signed").split(";")},
        )
        signed.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(key, caller.secret_access_key, caller.session_token), "execute-api", self.region)
        expected = signer.signature(signer.string_to_sign(signed, signer.canonical_request(signed)), signed)
        if expected != match.group("signature"):
            raise _DeniedError(
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method."
            )
        return caller

    def _event(
        self, route: Route, parameters: dict[str, str], request: _Request, caller: Caller | None
    ) -> dict[str, Any]:
        """An API Gateway REST proxy (payload v1) event."""
        method, path, headers, body = request.method, request.path, request.headers, request.body
        request_id, source_ip = request.request_id, request.source_ip
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode("ascii"), True
        now = dt.datetime.now(dt.UTC)
        return {
            "resource": route.resource,
            "path": path,
            "httpMethod": method,
            "headers": headers.single() or None,
            "multiValueHeaders": headers.multi() or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": route.resource_id,
                "resourcePath": route.resource,
                "httpMethod": method,
                "extendedRequestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "path": f"/{self.stage}{path}",
                "accountId": self.account,
                "protocol": "HTTP/1.1",
                "stage": self.stage,
                "domainPrefix": self.api_id,
                "domainName": headers.get("host"),
                "requestId": request_id,
                "apiId": self.api_id,
                "identity": {
                    "accountId": self.account if caller else None,
                    "accessKey": caller.access_key_id if caller else None,
                    "caller": caller.access_key_id if caller else None,
                    "user": caller.access_key_id if caller else None,
                    "userArn": caller.arn if caller else None,
                    "sourceIp": source_ip,
                    "userAgent": headers.get("user-agent"),
                    "cognitoIdentityPoolId": None,
                    "cognitoIdentityId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "principalOrgId": None,
                },
            },
            "body": text if body else None,
            "isBase64Encoded": encoded,
        }


CallerLookup = Callable[[str, str | None], Caller | None]  # (access key id, session token) -> the principal
InvokePolicy = Callable[[Caller, str], bool]  # (the caller, the method's execute-api ARN) -> allowed


def fixed_callers(secrets: dict[str, str], arn: str) -> CallerLookup:
    """Callers known by their access key's secret alone (no session token), all with one ARN."""

    def lookup(access_key_id: str, _token: str | None) -> Caller | None:
        secret = secrets.get(access_key_id)
        return Caller(access_key_id, secret, None, arn) if secret is not None else None

    return lookup


class _DeniedError(Exception):
    """IAM authorization refused the request; the message is API Gateway's."""


class _HeaderMap:
    """HTTP headers as received: case-insensitive lookup, repeated headers kept."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self.items = items

    def get(self, name: str) -> str | None:
        values = [v for k, v in self.items if k.lower() == name.lower()]
        return values[-1] if values else None

    def single(self) -> dict[str, str]:
        return dict(self.items)

    def multi(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k, v in self.items:
            out.setdefault(k, []).append(v)
        return out


@dataclass(frozen=True)
class _Request:
    method: str
    raw_path: str
    path: str  # without the stage prefix
    query: str
    headers: _HeaderMap
    body: bytes
    source_ip: str
    request_id: str


def _json(status: int, body: dict[str, Any], request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if status == 403:
        headers.append(
            (
                "x-amzn-ErrorType",
                "MissingAuthenticationTokenException" if body is MISSING_TOKEN else "IncompleteSignatureException",
            )
        )
    return status, headers, json.dumps(body).encode("utf-8")


def _http_response(response: Any, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """A Lambda proxy response -> HTTP; anything malformed is API Gateway's 502."""
    if not isinstance(response, dict) or not isinstance(response.get("statusCode"), int):
        return _json(502, {"message": "Internal server error"}, request_id)
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
    single = response.get("headers") or {}
    multi = response.get("multiValueHeaders") or {}
    for name, value in single.items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return response["statusCode"], headers, payload
