"""Launch the payment product from Service Catalog: provision a version, wait, print outputs, smoke, terminate.

    python -m product.catalog.launch launch --version v1 --name payments-team-a --profile dev --suffix team-a \\
        [--email oncall@example.com] [--guardduty] [--shield] [--account-cost-monitor] \\
        [--tag cost-center=CC-1001 --tag owner=payments-team] [--smoke] [--terminate-after]
    python -m product.catalog.launch outputs --name payments-team-a
    python -m product.catalog.launch terminate --name payments-team-a

Credentials and region come from the usual boto3 chain (AWS_PROFILE, AWS_REGION, ...) or --region.
Exit codes: 0 done, 2 bad input or unknown product/version, 3 missing permission, 4 provisioning or
termination failed, 5 smoke suite missing or failed, 6 timed out.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

# CDK-free on purpose: application teams run this without Node.js or the CDK installed.
from product.catalog.parameters import COST_MONITOR, GUARDDUTY, NAME_SUFFIX, NOTIFICATION_EMAIL, PROFILE, SHIELD
from product.name_suffix import suffix_problem

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SMOKE_COMMAND = REPOSITORY_ROOT / "scripts" / "smoke"
DEFAULT_PRODUCT = "Payment Processing"
DEFAULT_TIMEOUT_S = 3600
POLL_S = 15
TERMINAL = {"SUCCEEDED", "FAILED", "IN_PROGRESS_IN_ERROR"}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
_PROVISIONED_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$")

EXIT_INPUT, EXIT_PERMISSION, EXIT_FAILED, EXIT_SMOKE, EXIT_TIMEOUT = 2, 3, 4, 5, 6


class LaunchError(Exception):
    """A failure the user can act on; `exit_code` says which kind."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _denied(error: ClientError, doing: str) -> LaunchError:
    operation = error.operation_name
    return LaunchError(
        f"missing permission while {doing} ({operation}): {error.response['Error'].get('Message', '')}. Ask the "
        "platform team to add your role to the portfolio's principals (cdk.json context catalog.principals), or "
        "use credentials that have the AWSServiceCatalogEndUserFullAccess policy",
        EXIT_PERMISSION,
    )


def _call(doing: str, function: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    """One AWS call; permission problems become a LaunchError that says what was being done."""
    try:
        return function(**kwargs)
    except ClientError as error:
        if error.response["Error"].get("Code") in ACCESS_DENIED:
            raise _denied(error, doing) from error
        raise


def _pages(doing: str, function: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterable[dict[str, Any]]:
    """Service Catalog's PageToken/NextPageToken paging, with `_call`'s error handling."""
    while True:
        page = _call(doing, function, **kwargs)
        yield from page.get(key, [])
        token = page.get("NextPageToken")
        if not token:
            return
        kwargs["PageToken"] = token


# -- look-ups ------------------------------------------------------------------------------------------
def find_product(sc: Any, name: str) -> dict[str, Any]:
    """DescribeProduct (an end-user call) by name or id (prod-...): the summary and the launchable versions."""
    key = "Id" if name.startswith("prod-") else "Name"
    try:
        return _call(f"looking up product {name!r}", sc.describe_product, **{key: name})
    except ClientError as error:
        if error.response["Error"].get("Code") in ("ResourceNotFoundException", "InvalidParametersException"):
            raise LaunchError(
                f"no product {name!r} is visible to these credentials in this region: check --product, --region, "
                "and that your role is one of the portfolio's principals",
                EXIT_INPUT,
            ) from error
        raise


def find_version(product: dict[str, Any], version: str) -> str:
    """The provisioning artifact id of `version`, from DescribeProduct (it lists only active versions)."""
    artifacts = product.get("ProvisioningArtifacts", [])
    for artifact in artifacts:
        if artifact.get("Name") == version:
            if artifact.get("Guidance") == "DEPRECATED":
                newer = ", ".join(a["Name"] for a in artifacts if a.get("Guidance") != "DEPRECATED") or "none"
                raise LaunchError(f"version {version!r} is deprecated: launch one of {newer}", EXIT_INPUT)
            return artifact["Id"]
    names = ", ".join(a.get("Name", a["Id"]) for a in artifacts) or "none"
    raise LaunchError(f"the product has no launchable version {version!r}; versions: {names}", EXIT_INPUT)


def find_launch_path(sc: Any, product_id: str, portfolio: str | None = None) -> str:
    """The launch path (portfolio) to provision through; `portfolio` (its name or id) when there are several."""
    paths = list(_pages("listing your launch paths", sc.list_launch_paths, "LaunchPathSummaries", ProductId=product_id))
    if portfolio is not None:
        chosen = [p for p in paths if portfolio in (p.get("Name"), p.get("Id"))]
        if paths and not chosen:
            names = ", ".join(p.get("Name", p["Id"]) for p in paths)
            raise LaunchError(f"no launch path through portfolio {portfolio!r}; yours: {names}", EXIT_INPUT)
        paths = chosen
    if not paths:
        raise LaunchError(
            "no launch path: your role is not associated with a portfolio holding this product", EXIT_PERMISSION
        )
    if len(paths) > 1:
        names = ", ".join(p.get("Name", p["Id"]) for p in paths)
        raise LaunchError(f"the product is in several portfolios ({names}): choose one with --portfolio", EXIT_INPUT)
    return paths[0]["Id"]


def check_parameters(sc: Any, product_id: str, artifact_id: str, path_id: str, parameters: dict[str, str]) -> None:
    """Check the values against the constraints the chosen version declares, before launching anything."""
    declared = _call(
        "reading the version's parameters",
        sc.describe_provisioning_parameters,
        ProductId=product_id,
        ProvisioningArtifactId=artifact_id,
        PathId=path_id,
    ).get("ProvisioningArtifactParameters", [])
    by_key = {p["ParameterKey"]: p for p in declared}
    problems = [f"unknown parameter {key!r}" for key in parameters if key not in by_key]
    for key, spec in by_key.items():
        value = parameters.get(key)
        if value is None:
            if "DefaultValue" not in spec:
                problems.append(f"{key} is required: {spec.get('Description', '')}")
            continue
        constraints = spec.get("ParameterConstraints", {})
        allowed = constraints.get("AllowedValues")
        pattern = constraints.get("AllowedPattern")
        if allowed and value not in allowed:
            problems.append(f"{key}={value!r} is not one of {', '.join(allowed)}")
        elif pattern and not re.fullmatch(pattern, value):
            hint = constraints.get("ConstraintDescription") or f"pattern {pattern}"
            problems.append(f"{key}={value!r} is invalid: {hint}")
    if problems:
        known = ", ".join(sorted(by_key))
        raise LaunchError("; ".join(problems) + f" (this version's parameters: {known})", EXIT_INPUT)


# -- provisioning ------------------------------------------------------------------------------------------
@dataclass
class Progress:
    """Prints the record's status changes and the stack's new events while waiting."""

    out: TextIO
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    seen_events: set[str] = field(default_factory=set)
    last_status: str | None = None
    events_unavailable: bool = False
    accepted: str | None = None  # provisioned product id, once Service Catalog accepted the launch

    def __post_init__(self) -> None:
        self.started = self.clock()

    def say(self, message: str) -> None:
        print(f"[{int(self.clock() - self.started):>5}s] {message}", file=self.out, flush=True)

    def status(self, status: str) -> None:
        if status != self.last_status:
            self.say(f"record {status}")
            self.last_status = status

    def events(self, cfn: Any, stack: str | None) -> None:
        if cfn is None or stack is None or self.events_unavailable:
            return
        try:
            events = cfn.describe_stack_events(StackName=stack).get("StackEvents", [])
        except ClientError as error:
            self.events_unavailable = True
            self.say(f"(stack events not shown: {error.response['Error'].get('Code')})")
            return
        for event in reversed(events):  # oldest first
            if event["EventId"] in self.seen_events:
                continue
            self.seen_events.add(event["EventId"])
            reason = f" - {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            self.say(f"{event['ResourceStatus']:<20} {event['LogicalResourceId']} ({event['ResourceType']}){reason}")


def stack_of(sc: Any, provisioned_product_id: str) -> str | None:
    """The CloudFormation stack ARN behind a provisioned product, once Service Catalog has created it."""
    found = _call(
        "finding the provisioned product's stack",
        sc.search_provisioned_products,
        Filters={"SearchQuery": [f"id:{provisioned_product_id}"]},
    ).get("ProvisionedProducts", [])
    arn = found[0].get("PhysicalId") if found else None
    return arn if arn and arn.startswith("arn:") else None


def stack_name(stack_arn: str) -> str:
    """'arn:aws:cloudformation:r:a:stack/NAME/uuid' -> 'NAME'."""
    return stack_arn.split(":stack/", 1)[1].split("/", 1)[0] if ":stack/" in stack_arn else stack_arn


def wait_for_record(
    sc: Any,
    record_id: str,
    progress: Progress,
    *,
    cfn: Any = None,
    provisioned_product_id: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_S,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Poll the record until it ends; show progress; return describe_record's response."""
    stack = None
    deadline = progress.clock() + timeout_s
    while True:
        response = _call("following the provisioning record", sc.describe_record, Id=record_id)
        status = response["RecordDetail"]["Status"]
        progress.status(status)
        if stack is None and provisioned_product_id is not None:
            stack = stack_of(sc, provisioned_product_id)
        progress.events(cfn, stack)
        if status in TERMINAL:
            response["StackArn"] = stack
            return response
        if progress.clock() >= deadline:
            raise LaunchError(
                f"record {record_id} still {status} after {int(timeout_s)} s; follow it in the Service Catalog "
                "console (Provisioned products) or rerun with a larger --timeout",
                EXIT_TIMEOUT,
            )
        sleep(poll_s)


def failure_report(record: dict[str, Any], cfn: Any) -> str:
    """The record's errors and the stack events that explain them."""
    lines = [
        f"{e.get('Code', 'Error')}: {e.get('Description', '')}" for e in record["RecordDetail"].get("RecordErrors", [])
    ]
    stack = record.get("StackArn")
    if cfn is not None and stack:
        try:
            events = cfn.describe_stack_events(StackName=stack).get("StackEvents", [])
        except ClientError as error:
            lines.append(f"(stack events unavailable: {error.response['Error'].get('Code')})")
        else:
            failed = [e for e in reversed(events) if e["ResourceStatus"].endswith("_FAILED")]
            lines += [
                f"{e['ResourceStatus']} {e['LogicalResourceId']} ({e['ResourceType']}): "
                f"{e.get('ResourceStatusReason', 'no reason given')}"
                for e in failed
            ]
    return "\n".join(lines) or "no error details were returned"


def outputs_of(record: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o.get("OutputValue", "") for o in record.get("RecordOutputs", [])}


def print_outputs(outputs: dict[str, str], out: TextIO) -> None:
    width = max((len(k) for k in outputs), default=0)
    for key in sorted(outputs):
        print(f"  {key:<{width}}  {outputs[key]}", file=out)


@dataclass(frozen=True)
class LaunchRequest:
    """What to provision."""

    product: str
    version: str
    name: str
    parameters: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    portfolio: str | None = None


def provision(sc: Any, request: LaunchRequest, progress: Progress, *, cfn: Any = None, **wait: Any) -> dict[str, Any]:
    """Provision `request`, wait for it, and return the finished record (with `StackArn`)."""
    product = find_product(sc, request.product)
    product_id = product["ProductViewSummary"]["ProductId"]
    artifact_id = find_version(product, request.version)
    path_id = find_launch_path(sc, product_id, request.portfolio)
    check_parameters(sc, product_id, artifact_id, path_id, request.parameters)
    progress.say(f"provisioning {request.product} {request.version} as {request.name!r}")
    try:
        response = _call(
            "provisioning the product",
            sc.provision_product,
            ProductId=product_id,
            ProvisioningArtifactId=artifact_id,
            PathId=path_id,
            ProvisionedProductName=request.name,
            ProvisioningParameters=[{"Key": k, "Value": v} for k, v in request.parameters.items()],
            Tags=[{"Key": k, "Value": v} for k, v in request.tags.items()],
            ProvisionToken=str(uuid.uuid4()),
        )
    except ClientError as error:
        code = error.response["Error"].get("Code")
        if code in ("InvalidParametersException", "DuplicateResourceException", "ResourceNotFoundException"):
            raise LaunchError(
                f"Service Catalog refused the launch: {error.response['Error'].get('Message')}", EXIT_INPUT
            ) from error
        raise
    detail = response["RecordDetail"]
    progress.accepted = detail.get("ProvisionedProductId") or request.name
    record = wait_for_record(
        sc, detail["RecordId"], progress, cfn=cfn, provisioned_product_id=detail.get("ProvisionedProductId"), **wait
    )
    if record["RecordDetail"]["Status"] != "SUCCEEDED":
        raise LaunchError(f"provisioning failed:\n{failure_report(record, cfn)}", EXIT_FAILED)
    return record


def terminate(sc: Any, name: str, progress: Progress, *, cfn: Any = None, **wait: Any) -> dict[str, Any]:
    """Terminate the provisioned product `name` and wait for it."""
    progress.say(f"terminating {name!r}")
    try:
        response = _call(
            "terminating the provisioned product",
            sc.terminate_provisioned_product,
            ProvisionedProductName=name,
            TerminateToken=str(uuid.uuid4()),
        )
    except ClientError as error:
        if error.response["Error"].get("Code") == "ResourceNotFoundException":
            raise LaunchError(f"no provisioned product named {name!r}", EXIT_INPUT) from error
        raise
    detail = response["RecordDetail"]
    record = wait_for_record(
        sc, detail["RecordId"], progress, cfn=cfn, provisioned_product_id=detail.get("ProvisionedProductId"), **wait
    )
    if record["RecordDetail"]["Status"] != "SUCCEEDED":
        raise LaunchError(f"termination failed:\n{failure_report(record, cfn)}", EXIT_FAILED)
    progress.say("terminated (data resources are retained by design: delete them when no longer needed)")
    return record


def provisioned_outputs(sc: Any, name: str) -> dict[str, str]:
    try:
        response = _call("reading the outputs", sc.get_provisioned_product_outputs, ProvisionedProductName=name)
    except ClientError as error:
        if error.response["Error"].get("Code") == "ResourceNotFoundException":
            raise LaunchError(f"no provisioned product named {name!r}", EXIT_INPUT) from error
        raise
    return {o["OutputKey"]: o.get("OutputValue", "") for o in response.get("Outputs", [])}


def run_smoke(
    stack: str,
    *,
    region: str | None,
    out: TextIO,
    command: Path | None = None,
    runner: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run,
) -> None:
    """Run the repository's smoke suite against the provisioned stack."""
    command = command or SMOKE_COMMAND
    if not command.is_file():
        raise LaunchError(
            f"smoke suite entry {command} not found: it runs as `scripts/smoke --stack-name <stack>`; "
            "rerun without --smoke, or once the smoke suite is in the repository",
            EXIT_SMOKE,
        )
    arguments = [str(command), "--stack-name", stack]
    environment = {**os.environ, "AWS_REGION": region, "AWS_DEFAULT_REGION": region} if region else None
    print(f"running {' '.join(arguments)}", file=out, flush=True)
    result = runner(arguments, cwd=REPOSITORY_ROOT, env=environment, check=False)
    if result.returncode != 0:
        raise LaunchError(f"smoke suite failed against {stack} (exit {result.returncode})", EXIT_SMOKE)


# -- command line --------------------------------------------------------------------------------------
def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _matching(pattern: str, what: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not re.match(pattern, text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return text

    return check


def _launch_suffix(text: str) -> str:
    """A catalog launch's suffix, checked before any AWS call (a stage's name would collide with that stage)."""
    problem = suffix_problem(text, catalog_launch=True)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m product.catalog.launch",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    root.add_argument("--region", help="AWS region of the catalog (default: the boto3 chain)")
    root.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT_S, help="seconds to wait (default 3600)")
    commands = root.add_subparsers(dest="command", required=True)
    name_check = _matching(_PROVISIONED_NAME.pattern, "a provisioned product name (letters, digits, . _ -)")

    launch = commands.add_parser("launch", help="provision a product version, wait, print outputs")
    launch.add_argument("--product", default=DEFAULT_PRODUCT, help=f"product name or id (default {DEFAULT_PRODUCT!r})")
    launch.add_argument("--version", required=True, help="product version, e.g. v1")
    launch.add_argument("--portfolio", help="portfolio name or id, when several of yours hold the product")
    launch.add_argument("--name", type=name_check, help="provisioned product name (default payment-<suffix>)")
    # Values are checked against the chosen version's own parameter constraints before anything launches.
    launch.add_argument("--profile", required=True, help="environment profile: dev, staging or prod")
    launch.add_argument(
        "--suffix",
        type=_launch_suffix,
        required=True,
        help="suffix of every physical name; unique per launch in the account and region, not dev/staging/prod",
    )
    launch.add_argument("--email", help="e-mail subscribed to the alert topics")
    launch.add_argument("--guardduty", action="store_true", help="create the account's GuardDuty detector")
    launch.add_argument("--shield", action="store_true", help="CloudFront + Shield Advanced protection")
    launch.add_argument("--account-cost-monitor", action="store_true", help="the account's services cost monitor")
    launch.add_argument(
        "--parameter",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other product parameter",
    )
    launch.add_argument(
        "--tag",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="tag from the portfolio's TagOptions, e.g. cost-center=CC-1001",
    )
    launch.add_argument("--smoke", action="store_true", help="run scripts/smoke against the stack afterwards")
    launch.add_argument("--terminate-after", action="store_true", help="terminate at the end (a rehearsal)")

    for command, text in (("outputs", "print a provisioned product's outputs"), ("terminate", "terminate it")):
        sub = commands.add_parser(command, help=text)
        sub.add_argument("--name", type=name_check, required=True, help="provisioned product name")
    return root


def _default_name(suffix: str) -> str:
    name = f"payment-{suffix}"
    if not _PROVISIONED_NAME.match(name):
        raise LaunchError(f"cannot derive a provisioned product name from --suffix {suffix!r}: pass --name", EXIT_INPUT)
    return name


def request_from(args: argparse.Namespace) -> LaunchRequest:
    parameters = {PROFILE: args.profile, NAME_SUFFIX: args.suffix}
    if args.email:
        parameters[NOTIFICATION_EMAIL] = args.email
    for flag, opt_in in ((args.guardduty, GUARDDUTY), (args.shield, SHIELD), (args.account_cost_monitor, COST_MONITOR)):
        parameters[opt_in.parameter] = "true" if flag else "false"
    parameters.update(dict(args.parameter))
    problem = suffix_problem(parameters[NAME_SUFFIX], catalog_launch=True)  # --parameter NameSuffix=... too
    if problem:
        raise LaunchError(problem, EXIT_INPUT)
    return LaunchRequest(
        product=args.product,
        version=args.version,
        name=args.name or _default_name(args.suffix),
        parameters=parameters,
        tags=dict(args.tag),
        portfolio=args.portfolio,
    )


def clients(region: str | None) -> tuple[Any, Any]:
    import boto3  # noqa: PLC0415 - imported here so --help works without it configured

    session = boto3.Session(region_name=region)
    return session.client("servicecatalog"), session.client("cloudformation")


def run(args: argparse.Namespace, sc: Any, cfn: Any, out: TextIO, **wait: Any) -> int:
    progress = Progress(out)
    wait = {"timeout_s": args.timeout, **wait}
    if args.command == "outputs":
        print_outputs(provisioned_outputs(sc, args.name), out)
        return 0
    if args.command == "terminate":
        terminate(sc, args.name, progress, cfn=cfn, **wait)
        return 0
    request = request_from(args)
    try:
        record = provision(sc, request, progress, cfn=cfn, **wait)
        progress.say("provisioned; outputs:")
        print_outputs(outputs_of(record), out)
        if args.smoke:
            stack = record.get("StackArn")
            if not stack:
                raise LaunchError("the provisioned product's stack could not be found for the smoke suite", EXIT_SMOKE)
            run_smoke(stack_name(stack), region=args.region, out=out)
    except LaunchError as error:
        if args.terminate_after and progress.accepted:
            print(f"error: {error}", file=out)
            terminate(sc, request.name, progress, cfn=cfn, **wait)
        raise
    if args.terminate_after:
        terminate(sc, request.name, progress, cfn=cfn, **wait)
    return 0


def main(argv: Sequence[str] | None = None, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "launch":
            request_from(args)  # input errors (e.g. a stage's name as suffix) before any AWS client exists
        sc, cfn = clients(args.region)
        return run(args, sc, cfn, out)
    except LaunchError as error:
        print(f"error: {error}", file=err)
        return error.exit_code
    except NoCredentialsError:
        print("error: no AWS credentials: set AWS_PROFILE or run `aws sso login`", file=err)
        return EXIT_PERMISSION
    except NoRegionError:
        print("error: no AWS region: pass --region or set AWS_REGION", file=err)
        return EXIT_INPUT
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS call failed: {error}", file=err)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
