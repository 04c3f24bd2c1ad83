"""IAM enforced in the emulator: every request after the harness principal exists is authenticated and
authorized by moto's policy engine (moto.iam.access_control), with corrections and a record.

- The harness principal is an IAM user (`rehearsal-harness`) with an inline `*` policy whose access key
  is the dummy key pair of rehearsal.safety: the CDK CLI (bootstrap, deploys, its AssumeRole of the
  bootstrap roles), the smoke suite and the harness's own clients sign as that user.
- Functions (and, through `credentials_for_role`, CodeBuild actions) run as their roles: the harness
  plays the AWS service, checks that the role's trust policy names that service principal and opens a
  session through moto's STS backend.
- Corrections to moto 5.2.5 (measured; README "IAM: what the emulator evaluates"): moto passes resource
  "*" for every service but S3, SQS, IAM roles and sts:AssumeRole, so a statement scoped to an ARN would
  never match; here the ARN is derived from the request for DynamoDB, CloudWatch Logs, EventBridge, SNS,
  Lambda and KMS, and where it cannot be, the Resource element is NOT evaluated (recorded as such).
  Action names match case-insensitively with `*`/`?` wildcards, as IAM does. A trust policy naming the
  account root (`arn:aws:iam::<account>:root`) admits principals of that account (moto compares the ARN
  literally), and one naming only a service admits no IAM principal (moto raised TypeError). The signing
  name `monitoring` is authorized as `cloudwatch:`. A bodyless REST request (API Gateway, Lambda GET) is
  signed over an empty payload (moto hashed its headers), and an inline policy a CloudFormation role
  holds as a dict is read (moto raised KeyError).
- Every decision is recorded (principal, caller, action, resource, allowed), so a stage can report
  N authorized / M denied and fail on a denial.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

HARNESS_USER = "rehearsal-harness"
HARNESS_CALLER = "harness (CDK CLI, smoke suite, rehearsal clients)"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
SESSION_DURATION_S = 3600  # Lambda's execution-role sessions are short-lived and refreshed; so are these
# IAM service prefixes that differ from the SigV4 signing name moto reads from the credential scope.
_SIGNING_NAME_TO_IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api", "email": "ses"}
# Operations moto names as actions that IAM does not have: a batch call is authorized as its single action.
_IAM_ACTION_OF_OPERATION = {
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# moto's S3 table (moto/s3/responses.py ACTION_MAP) lacks these bucket sub-resources, so GetBucketEncryption
# and GetPublicAccessBlock were authorized as s3:ListBucket; and it misnames public-access-block's actions.
_S3_BUCKET_ACTIONS = {
    "GET": {
        "encryption": "GetEncryptionConfiguration",
        "publicAccessBlock": "GetBucketPublicAccessBlock",
        "ownershipControls": "GetBucketOwnershipControls",
        "object-lock": "GetBucketObjectLockConfiguration",
        "replication": "GetReplicationConfiguration",
    },
    "PUT": {
        "encryption": "PutEncryptionConfiguration",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "ownershipControls": "PutBucketOwnershipControls",
        "object-lock": "PutBucketObjectLockConfiguration",
        "replication": "PutReplicationConfiguration",
    },
    "DELETE": {
        "encryption": "PutEncryptionConfiguration",
        "publicAccessBlock": "PutBucketPublicAccessBlock",
        "ownershipControls": "PutBucketOwnershipControls",
        "replication": "PutReplicationConfiguration",
    },
}

# What moto 5.2.5 evaluates, measured from its source and by the tests (README "Honesty" has the table).
NOT_EVALUATED = (
    "Resource element for services other than S3, SQS, IAM, STS, DynamoDB, CloudWatch Logs, EventBridge, "
    "SNS, Lambda, KMS, API Gateway and execute-api (action only)",
    "CodePipeline action roles (an action's RoleArn): builds run as their project's service role, "
    "CloudFormation deploys as the bootstrap roles the CDK CLI assumes",
    "Condition elements of identity policies (treated as satisfied); trust-policy conditions only for sts:ExternalId",
    "NotResource (a statement with NotResource matches every resource); NotPrincipal",
    "resource policies (KMS key, S3 bucket, SNS topic, SQS queue, Lambda, event bus), permissions boundaries, "
    "SCPs, session policies",
    "calls CloudFormation makes while creating resources (moto creates them without IAM) and moto's internal "
    "deliveries (EventBridge to SQS); session expiry",
)


class AccessDeniedError(RuntimeError):
    """A call made as a role was denied by the emulator's IAM evaluation."""


@dataclass(frozen=True)
class Decision:
    principal: str
    caller: str
    action: str
    resource: str
    allowed: bool
    resource_evaluated: bool
    reason: str = ""

    def describe(self) -> str:
        return f"{self.action} on {self.resource} denied to {self.principal} (caller: {self.caller})" + (
            f": {self.reason}" if self.reason else ""
        )


@dataclass
class IamReport:
    """What one stage's calls got from IAM, for the rehearsal summary."""

    enforced: bool
    authorized: int = 0
    denied: int = 0
    denials: list[dict[str, Any]] = field(default_factory=list)
    by_principal: dict[str, dict[str, int]] = field(default_factory=dict)
    resource_not_evaluated: int = 0
    not_evaluated: list[str] = field(default_factory=list)

    def failure_lines(self) -> list[str]:
        """One line per distinct denial (action, resource, principal, caller), with its count."""
        counts: dict[str, int] = {}
        for d in self.denials:
            line = f"IAM denied {d['action']} on {d['resource']} to {d['principal']} (caller: {d['caller']})"
            counts[line] = counts.get(line, 0) + 1
        return [line + (f" x{n}" if n > 1 else "") for line, n in counts.items()]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuthorizationLog:
    """Every authorization decision moto made while enforcement was on, in order; thread-safe."""

    def __init__(self) -> None:
        self._decisions: list[Decision] = []
        self._callers: dict[str, str] = {DUMMY_ACCESS_KEY_ID: HARNESS_CALLER}
        self._lock = threading.Lock()

    def name_caller(self, access_key_id: str, caller: str) -> None:
        """Attribute calls signed with this access key to `caller` ("function payment-api-dev", ...)."""
        with self._lock:
            self._callers[access_key_id] = caller

    def record(self, access_key_id: str, **values: Any) -> None:
        with self._lock:
            caller = self._callers.get(access_key_id, f"unknown caller (access key {access_key_id})")
            self._decisions.append(Decision(caller=caller, **values))

    def mark(self) -> int:
        with self._lock:
            return len(self._decisions)

    def since(self, mark: int = 0) -> list[Decision]:
        with self._lock:
            return list(self._decisions[mark:])

    def denials_since(self, mark: int = 0) -> list[Decision]:
        return [d for d in self.since(mark) if not d.allowed]

    def report(self, mark: int = 0) -> IamReport:
        decisions = self.since(mark)
        report = IamReport(enforced=True, not_evaluated=list(NOT_EVALUATED))
        for d in decisions:
            counts = report.by_principal.setdefault(d.principal, {"authorized": 0, "denied": 0})
            if d.allowed:
                report.authorized += 1
                counts["authorized"] += 1
            else:
                report.denied += 1
                counts["denied"] += 1
                report.denials.append(asdict(d))
            report.resource_not_evaluated += 0 if d.resource_evaluated else 1
        return report


# --- enforcement ---------------------------------------------------------------------------------------

_state: dict[str, Any] = {}


def enforce(account: str) -> AuthorizationLog:
    """Create the harness principal, patch moto's authorization path, turn enforcement on."""
    from moto import settings  # noqa: PLC0415 - moto is imported once the emulator sets MOTO_ACCOUNT_ID
    from moto.core.authorization import ActionAuthenticatorMixin  # noqa: PLC0415

    _create_harness_user(account)
    log = AuthorizationLog()
    _install_patches()
    _state.update(log=log, saved_count=settings.INITIAL_NO_AUTH_ACTION_COUNT)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return log


def relax() -> None:
    """Enforcement off (as moto's default), e.g. when the emulator stops."""
    from moto import settings  # noqa: PLC0415

    if "saved_count" in _state:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = _state.pop("saved_count")
    _state.pop("log", None)


def _create_harness_user(account: str) -> None:
    from moto.iam.models import iam_backends  # noqa: PLC0415

    backend = iam_backends[account]["aws"]
    backend.create_user(region_name="us-east-1", user_name=HARNESS_USER)
    backend.put_user_policy(HARNESS_USER, "AdministratorAccess", ADMIN_POLICY)
    key = backend.create_access_key(HARNESS_USER)
    # The dummy key pair the safety guards allow is this user's key: what signs with it is the harness.
    del backend.access_keys[key.physical_resource_id]
    key.access_key_id, key.secret_access_key = DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
    backend.access_keys[key.physical_resource_id] = key


def _install_patches() -> None:
    from moto.core.authorization import ActionAuthenticatorMixin  # noqa: PLC0415
    from moto.iam import access_control  # noqa: PLC0415

    if _state.get("patched"):
        return
    original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        from moto import settings  # noqa: PLC0415

        log: AuthorizationLog | None = _state.get("log")
        if log is None or ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            return original_authorize(self, iam_request_cls, resource)
        if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            return None
        _authorize_recorded(self, iam_request_cls, resource, log)
        return None

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]  # the patch
    original_policy_init = access_control.IAMPolicy.__init__

    def policy_init(self: Any, policy: Any) -> None:
        # An inline policy of a role created by CloudFormation is stored as a dict document, which
        # moto's IAMPolicy cannot read (KeyError 'policy_document', a 500 to the caller).
        if isinstance(policy, dict) and "Statement" in policy:
            policy = json.dumps(policy)
        original_policy_init(self, policy)

    access_control.IAMPolicy.__init__ = policy_init  # type: ignore[method-assign]  # the patch
    from moto.s3.responses import ACTION_MAP  # noqa: PLC0415

    for method, actions in _S3_BUCKET_ACTIONS.items():
        ACTION_MAP["BUCKET"][method].pop("public_access_block", None)  # never matches: the query is publicAccessBlock
        ACTION_MAP["BUCKET"][method].update(actions)
    access_control.IAMPolicyStatement._check_element_matches = _check_element_matches  # type: ignore[method-assign]  # the patch
    access_control.IAMPolicyStatement._check_principal = _check_principal  # type: ignore[method-assign]  # the patch
    _state["patched"] = True


def _authorize_recorded(response: Any, iam_request_cls: type, resource: str, log: AuthorizationLog) -> None:
    """moto's enforced branch of `_authenticate_and_authorize_action`, with the decision recorded."""
    from urllib.parse import urlparse  # noqa: PLC0415

    from moto.core.exceptions import ServiceException  # noqa: PLC0415
    from werkzeug.exceptions import HTTPException  # noqa: PLC0415

    refused = (HTTPException, ServiceException)  # S3 raises the latter (not an HTTPException in moto 5.2)

    parsed_url = urlparse(response.uri)
    path = response.raw_path + (f"?{parsed_url.query}" if parsed_url.query else "")
    action = response._get_action()
    access_key_id = _access_key_id(response.headers.get("Authorization", ""))
    try:
        iam_request = iam_request_cls(
            account_id=response.current_account,
            method=response.method,
            path=path,
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=action,
        )
    except refused as error:  # unknown access key or bad token: no principal to evaluate
        log.record(
            access_key_id,
            principal=f"unknown access key {access_key_id}",
            action=str(action),
            resource=resource,
            allowed=False,
            resource_evaluated=resource != "*",
            reason=type(error).__name__,
        )
        raise
    if not iam_request._body and response.method in ("GET", "HEAD", "DELETE") and iam_request._service != "s3":
        # moto signs `body or data`: for a bodyless REST request (API Gateway, Lambda) `data` holds the
        # headers, so every such signature "did not match". The payload of a GET is empty.
        iam_request._data = {}
    service, _, operation = iam_request._action.partition(":")
    iam_request._action = f"{_SIGNING_NAME_TO_IAM_PREFIX.get(service, service)}:{operation}"
    iam_request._action = _IAM_ACTION_OF_OPERATION.get(iam_request._action, iam_request._action)
    if service == "apigateway":
        # IAM authorizes API Gateway's management API by HTTP verb on the resource's path
        # (apigateway:GET on arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>); moto names the
        # operation instead (apigateway:GetStage), which no real policy grants.
        iam_request._action = f"apigateway:{response.method}"
        resource = f"arn:aws:apigateway:{response.region}::{response.raw_path.partition('?')[0]}"
    elif resource == "*":
        resource = derived_resource(iam_request._action, response) or "*"
    values = {"principal": iam_request._access_key.arn, "action": iam_request._action, "resource": resource}
    try:
        iam_request.check_signature()
    except refused as error:
        log.record(access_key_id, **values, allowed=False, resource_evaluated=True, reason=type(error).__name__)
        raise
    try:
        iam_request.check_action_permitted(resource)
    except refused:
        log.record(access_key_id, **values, allowed=False, resource_evaluated=resource != "*")
        raise
    log.record(access_key_id, **values, allowed=True, resource_evaluated=resource != "*")


@dataclass(frozen=True)
class Caller:
    """A principal as a service sees a request it signed: its ARN and the secret its key signs with."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    arn: str


def caller_of(access_key_id: str, session_token: str | None, *, account: str) -> Caller | None:
    """The principal an access key of the emulator belongs to (an IAM user's key or an assumed-role
    session with its token), or None when the emulator issued no such key."""
    from moto.iam.access_control import CreateAccessKeyFailure, create_access_key  # noqa: PLC0415

    headers = {"X-Amz-Security-Token": session_token} if session_token else {}
    try:
        key = create_access_key(account, "aws", access_key_id, headers)
    except CreateAccessKeyFailure:
        return None
    credentials = key.create_credentials()
    return Caller(access_key_id, credentials.secret_key, session_token, key.arn)


def authorize_as_service(caller: Caller, action: str, resource: str, *, account: str) -> bool:
    """Evaluate `caller`'s identity policies for `action` on `resource`, as a service (API Gateway's IAM
    authorization) does for a signed request; the decision is recorded like moto's own."""
    from moto.iam.access_control import CreateAccessKeyFailure, IAMPolicy, PermissionResult, create_access_key  # noqa: PLC0415

    headers = {"X-Amz-Security-Token": caller.session_token} if caller.session_token else {}
    try:
        policies = create_access_key(account, "aws", caller.access_key_id, headers).collect_policies()
    except CreateAccessKeyFailure:
        policies = []
    results = [IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies]
    allowed = PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results
    log: AuthorizationLog | None = _state.get("log")
    if log is not None:
        log.record(
            caller.access_key_id,
            principal=caller.arn,
            action=action,
            resource=resource,
            allowed=allowed,
            resource_evaluated=True,
        )
    return allowed


def _access_key_id(authorization: str) -> str:
    return authorization.partition("Credential=")[2].partition("/")[0]


# --- resource ARNs moto does not derive ---------------------------------------------------------------


def _request_json(response: Any) -> dict[str, Any]:
    """The JSON request body (moto's DynamoDB handler has already parsed it into `body`)."""
    body = response.body
    if not isinstance(body, dict):
        try:
            body = json.loads(response.raw_body or b"{}")
        except (ValueError, TypeError):
            return {}
    return body if isinstance(body, dict) else {}


def derived_resource(action: str, response: Any) -> str | None:
    """The ARN IAM would evaluate for `action`, from the request, or None where the harness cannot tell."""
    service = action.split(":", 1)[0]
    deriver = _DERIVERS.get(service)
    if deriver is None:
        return None
    region, account = response.region, response.current_account
    return deriver(response, region, account)


def _dynamodb(response: Any, region: str, account: str) -> str | None:
    name = _request_json(response).get("TableName")
    return f"arn:aws:dynamodb:{region}:{account}:table/{name}" if isinstance(name, str) and name else None


def _logs(response: Any, region: str, account: str) -> str | None:
    body = _request_json(response)
    group, stream = body.get("logGroupName"), body.get("logStreamName")
    if not isinstance(group, str) or not group:
        return None
    arn = f"arn:aws:logs:{region}:{account}:log-group:{group}"
    return f"{arn}:log-stream:{stream}" if isinstance(stream, str) and stream else f"{arn}:*"


def _events(response: Any, region: str, account: str) -> str | None:
    body = _request_json(response)
    entries = body.get("Entries") or [{}]
    bus = (entries[0] if isinstance(entries, list) and entries else {}).get("EventBusName") or body.get("EventBusName")
    bus = bus or "default"
    rule = body.get("Rule") or (body.get("Name") if response._get_action() in _EVENTS_RULE_NAMED else None)
    if isinstance(rule, str) and rule:
        # Rule operations authorize on the rule: rule/<name> on the default bus, rule/<bus>/<name> on another.
        if rule.startswith("arn:"):
            return rule
        bus_name = str(bus).rsplit("/", 1)[-1]
        return f"arn:aws:events:{region}:{account}:rule/" + (rule if bus_name == "default" else f"{bus_name}/{rule}")
    return bus if str(bus).startswith("arn:") else f"arn:aws:events:{region}:{account}:event-bus/{bus}"


_EVENTS_RULE_NAMED = {"PutRule", "DeleteRule", "DescribeRule", "EnableRule", "DisableRule"}


def _sns(response: Any, _region: str, _account: str) -> str | None:
    topic = (response.querystring.get("TopicArn") or [None])[0] or _request_json(response).get("TopicArn")
    return topic if isinstance(topic, str) and topic.startswith("arn:") else None


def _lambda(response: Any, region: str, account: str) -> str | None:
    match = re.search(r"/functions/([^/?]+)", response.path or "")
    if match is None:
        return None
    name = match.group(1).split("%3A")[0].split(":")[0]
    return name if name.startswith("arn") else f"arn:aws:lambda:{region}:{account}:function:{name}"


def _kms(response: Any, region: str, account: str) -> str | None:
    key = _request_json(response).get("KeyId")
    if not isinstance(key, str) or not key or key.startswith("alias/"):
        return None  # an alias names a key IAM resolves first; the harness does not
    return key if key.startswith("arn:") else f"arn:aws:kms:{region}:{account}:key/{key}"


_DERIVERS: dict[str, Callable[[Any, str, str], str | None]] = {
    "dynamodb": _dynamodb,
    "logs": _logs,
    "events": _events,
    "sns": _sns,
    "lambda": _lambda,
    "kms": _kms,
}


# --- policy-engine corrections (replace moto's IAMPolicyStatement methods) ----------------------------


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "^" + re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".") + "$"
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _check_element_matches(self: Any, statement_element: str, value: str) -> bool:
    if statement_element in ("Resource", "NotResource") and value == "*":
        return True  # no ARN for this request: the Resource element is not evaluated (recorded)
    patterns = self._statement[statement_element]
    patterns = patterns if isinstance(patterns, list) else [patterns]
    ignore_case = statement_element in ("Action", "NotAction")
    return any(_wildcard(str(p), ignore_case=ignore_case).match(value) for p in patterns)


def _check_principal(self: Any, principal: str) -> bool:
    """Does the trust statement's Principal admit `principal` (an IAM user or assumed-role ARN)?"""
    expected = self._statement.get("Principal")
    if not expected or expected == "*":
        return True
    aws = expected.get("AWS") if isinstance(expected, dict) else None
    if aws is None:
        return False  # only service or federated principals: no IAM user or role session is admitted
    candidates = aws if isinstance(aws, list) else [aws]
    account = principal.split(":")[4] if principal.count(":") >= 5 else ""
    for candidate in candidates:
        if candidate in ("*", principal) or candidate in (f"arn:aws:iam::{account}:root", account):
            return True
        if ":role/" in candidate and principal.startswith("arn:aws:sts::"):
            role_name = candidate.rsplit("/", 1)[-1]
            if principal.split(":assumed-role/", 1)[-1].split("/", 1)[0] == role_name:
                return True
    return False


# --- sessions of roles, as an AWS service opens them ---------------------------------------------------


@dataclass(frozen=True)
class RoleCredentials:
    role_arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: dt.datetime

    def expires_within(self, seconds: float) -> bool:
        return self.expiration - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=seconds)

    def environment(self) -> dict[str, str]:
        """The variables Lambda and CodeBuild give a process running as the role."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


def trust_policy(principal: dict[str, str]) -> dict[str, Any]:
    """A role's trust policy letting `principal` assume it: {"AWS": an ARN or account root} or {"Service": ...}."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }


def credentials_for_role(
    role_arn: str,
    *,
    account: str,
    service: str = "lambda.amazonaws.com",
    session_name: str = "rehearsal",
    caller: str | None = None,
    duration_s: int = SESSION_DURATION_S,
) -> RoleCredentials:
    """A session of `role_arn` opened as `service` opens it (Lambda for a function, CodeBuild for a build).

    Raises AccessDeniedError when the role does not exist or its trust policy does not admit `service`."""
    from moto.iam.exceptions import NotFoundException  # noqa: PLC0415
    from moto.iam.models import iam_backends  # noqa: PLC0415
    from moto.sts.models import sts_backends  # noqa: PLC0415

    try:
        role = iam_backends[account]["aws"].get_role_by_arn(role_arn)
    except NotFoundException:
        raise AccessDeniedError(f"{service} cannot assume {role_arn}: no such role in the emulator") from None
    if not _trusts_service(json.loads(role.assume_role_policy_document), service):
        raise AccessDeniedError(
            f"{service} cannot assume {role_arn}: its trust policy does not allow sts:AssumeRole by {service}"
        )
    session = sts_backends[account]["aws"].assume_role(
        region_name="us-east-1",
        role_session_name=session_name[:64],
        role_arn=role_arn,
        policy="",
        duration=duration_s,
        external_id="",
    )
    log: AuthorizationLog | None = _state.get("log")
    if log is not None and caller:
        log.name_caller(session.access_key_id, caller)
    expiration = session.expiration
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=dt.UTC)
    return RoleCredentials(
        role_arn, session.access_key_id, session.secret_access_key, session.session_token, expiration
    )


def _trusts_service(document: dict[str, Any], service: str) -> bool:
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = services if isinstance(services, list) else [services]
        if (
            statement.get("Effect") == "Allow"
            and service in services
            and {"sts:AssumeRole", "sts:*", "*"} & set(actions)
        ):
            return True
    return False


@cache
def aws_managed_policies() -> dict[str, Any]:
    """moto's copy of the AWS managed policies by name (read-only: shared by every caller in the process).
    Parsed once: the 1 MB of JSON takes 0.1 s, and the rehearsal asks for it on every catalog launch."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415 - 1 MB, on demand

    return json.loads(aws_managed_policies_data)


def aws_managed_policy_document(name: str) -> str:
    """The document of an AWS managed policy, from moto's copy (to give a principal the grant AWS would)."""
    policies = aws_managed_policies()
    if name not in policies:
        raise KeyError(f"moto has no copy of the AWS managed policy {name}")
    return json.dumps(policies[name]["Document"])


def current_log() -> AuthorizationLog | None:
    """The authorization log of the enforcing emulator in this process, if any."""
    return _state.get("log")
