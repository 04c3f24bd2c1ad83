"""Issue 11: what the emulator cannot see but a real account enforces (items 2, 3, 6, 8, 14).

Each test reads every synthesized template of the session synth (the pipeline's stages, the direct
`PaymentStack-<suffix>`, the catalog stack and the Service Catalog product template, launched offline with
a few parameter sets), because that is what CloudFormation receives.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from constructs import Construct

from product.catalog.catalog_stack import build_catalog
from product.catalog.knobs import column_name, profile_mapping_rows
from product.catalog.parameters import NAME_SUFFIX, PROFILE
from product.catalog.settings import CatalogSettings
from product.compliance import ASYNC_FAILURE_METADATA, acknowledge_async_failures, add_nag_gate
from product.constructs import lambda_runtime
from product.constructs.lambda_runtime import RUNTIME_REQUIREMENTS, runtime_pins
from product.profiles import ENVIRONMENT_NAMES, PROFILES, ConfigurationError
from tests.unit.apps import new_app
from tests.unit.conftest import REPOSITORY_ROOT, TEST_ACCOUNT
from tests.unit.template_instance import Instance

LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
PRODUCT_LAUNCHES = {"launch-team-a": ("dev", "team-a"), "launch-team-b": ("prod", "team-b")}
PAYMENT_FUNCTION_PREFIXES = ("payment-api-", "payment-processor-")


@dataclass(frozen=True)
class Deployed:
    """One template as CloudFormation would create it: product templates instantiated for one launch."""

    label: str
    resources: dict[str, dict[str, Any]]  # resolved properties, plus the raw resource attributes
    raw: dict[str, dict[str, Any]]


def _deployed(all_templates: dict[str, dict[str, Any]], product_template: dict[str, Any]) -> Iterator[Deployed]:
    for path, template in all_templates.items():
        yield Deployed(path, Instance(template).resources(), template["Resources"])
    for label, (profile, suffix) in PRODUCT_LAUNCHES.items():
        instance = Instance(product_template, {PROFILE: profile, NAME_SUFFIX: suffix})
        yield Deployed(f"product/{label}", instance.resources(), product_template["Resources"])


@pytest.fixture(scope="module")
def shared_catalog(tmp_path_factory: pytest.TempPathFactory, cdk_context: dict[str, Any]) -> dict[str, Any]:
    """The catalog shared with an organization: it adds aws-cdk's AwsCustomResource handler (a second function
    CloudFormation invokes) that the app's default catalog does not have."""
    outdir = tmp_path_factory.mktemp("shared-catalog")
    app = new_app(context=cdk_context, outdir=str(outdir))
    organization = {"organizationId": "o-abc123defg", "organizationalUnits": ["ou-ab12-cdef3456"]}
    settings = CatalogSettings.from_context(
        {"catalog": {"shareWithOrganization": organization}}, default_account=TEST_ACCOUNT, default_region="us-east-1"
    )
    stack = build_catalog(app, settings, snapshot_directory=tmp_path_factory.mktemp("snapshots"))
    add_nag_gate(app)
    app.synth()
    return json.loads((outdir / stack.template_file).read_text())


@pytest.fixture(scope="module")
def deployed(
    all_templates: dict[str, dict[str, Any]], product_template: dict[str, Any], shared_catalog: dict[str, Any]
) -> list[Deployed]:
    shared = Deployed(
        "catalog shared with an organization", Instance(shared_catalog).resources(), shared_catalog["Resources"]
    )
    return [*_deployed(all_templates, product_template), shared]


def _of_type(deployment: Deployed, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in deployment.resources.items() if v["Type"] == resource_type}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    """Logical id named by a `Ref` or `Fn::GetAtt [id, Arn]`."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return str(value["Fn::GetAtt"][0])
    return None


def _is_payment_function(properties: dict[str, Any]) -> bool:
    return str(properties.get("FunctionName", "")).startswith(PAYMENT_FUNCTION_PREFIXES)


# -- item 2: every function can write its own log group, and only that one --------------------------
def _log_write_grants(deployment: Deployed, role_id: str) -> list[tuple[set[str], list[Any]]]:
    """(actions, resources) of every Allow statement on the role that grants a log-write action."""
    role = deployment.resources[role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    documents += [
        p["PolicyDocument"]
        for p in _of_type(deployment, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p.get("Roles", [])
    ]
    grants = []
    for statement in (s for d in documents for s in _listed(d["Statement"])):
        actions = set(_listed(statement["Action"]))
        if statement["Effect"] == "Allow" and any(_grants(a, w) for a in actions for w in LOG_WRITE_ACTIONS):
            grants.append((actions, _listed(statement["Resource"])))
    return grants


def _grants(pattern: str, action: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action, re.IGNORECASE) is not None


def test_item_02_every_function_writes_its_own_log_group_only(deployed: list[Deployed]) -> None:
    checked, problems = 0, []
    for deployment in deployed:
        for function_id, function in _of_type(deployment, "AWS::Lambda::Function").items():
            where = f"{deployment.label}: {function_id}"
            checked += 1
            group_id = _ref(function.get("LoggingConfig", {}).get("LogGroup"))
            role_id = _ref(function["Role"])
            if group_id is None or role_id is None:
                problems.append(f"{where} logs to no log group of its own template (LoggingConfig.LogGroup)")
                continue
            managed = deployment.resources[role_id]["Properties"].get("ManagedPolicyArns")
            if managed:
                problems.append(f"{where}: role has managed policies {managed} (they grant logs on '*')")
            own_group = {"Fn::GetAtt": [group_id, "Arn"]}
            grants = _log_write_grants(deployment, role_id)
            for action in LOG_WRITE_ACTIONS:
                if not any(any(_grants(a, action) for a in actions) and own_group in res for actions, res in grants):
                    problems.append(f"{where}: role {role_id} is not allowed {action} on its log group {group_id}")
            elsewhere = [r for _, res in grants for r in res if r != own_group]
            if elsewhere:
                problems.append(f"{where}: role {role_id} may write logs elsewhere too: {elsewhere}")
    # 2 per payment deployment (4 stacks, 2 launches); the copy function of both catalogs, the share handler
    assert checked >= 15, checked
    assert not problems, "\n".join(problems)


# -- item 3: X-Ray sampling rules match only their own deployment -----------------------------------
def _glob_intersect(first: str, second: str) -> bool:
    """Whether some string matches both X-Ray patterns ('*' any run, '?' one character)."""
    seen, todo = set(), [(0, 0)]
    while todo:
        i, j = todo.pop()
        if (i, j) in seen:
            continue
        seen.add((i, j))
        if i == len(first) and j == len(second):
            return True
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*":
            todo.append((i + 1, j))
        if b == "*":
            todo.append((i, j + 1))
        if a is not None and b is not None and (a in "*?" or b in "*?" or a == b):
            todo.append((i if a == "*" else i + 1, j if b == "*" else j + 1))
    return False


def _literal(value: Any, scope: str) -> str:
    """A resolved template value as text; references become names unique to their deployment."""
    if isinstance(value, str):
        return value
    if _ref(value) is not None:
        return f"<{scope}:{_ref(value)}>"
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        return separator.join(_literal(p, scope) for p in parts)
    raise AssertionError(f"cannot read {value!r} as text")


MATCH_FIELDS = ("ServiceName", "ServiceType", "ResourceARN", "Host", "HTTPMethod", "URLPath")


def test_glob_intersection_of_sampling_patterns() -> None:
    assert _glob_intersect("payment-*", "payment-api-dev/dev")
    assert _glob_intersect("*", "anything")
    assert _glob_intersect("a*c", "ab?")
    assert not _glob_intersect("payment-api-dev/dev", "payment-api-prod/prod")
    assert not _glob_intersect("a?c", "abcd")


def test_item_03_no_two_sampling_rules_match_the_same_service(deployed: list[Deployed]) -> None:
    rules = [
        (f"{d.label}: {logical_id}", {f: _literal(props["SamplingRule"][f], d.label) for f in MATCH_FIELDS})
        for d in deployed
        for logical_id, props in _of_type(d, "AWS::XRay::SamplingRule").items()
    ]
    assert len(rules) >= 6, rules
    overlapping = [
        f"{a} and {b} both match ServiceName {ra['ServiceName']!r} / {rb['ServiceName']!r}, "
        f"ResourceARN {ra['ResourceARN']!r} / {rb['ResourceARN']!r}"
        for (a, ra), (b, rb) in itertools.combinations(rules, 2)
        if all(_glob_intersect(ra[f], rb[f]) for f in MATCH_FIELDS)
    ]
    assert not overlapping, "\n".join(overlapping)
    for name, rule in rules:  # each rule names one API stage exactly: no wildcard where it decides
        assert "*" not in rule["ServiceName"] and "*" not in rule["ResourceARN"], (name, rule)


# -- item 6: the deployed Powertools is the tested one ----------------------------------------------
def _dev_requirements() -> list[str]:
    return [line.split("#")[0].strip() for line in (REPOSITORY_ROOT / "requirements-dev.txt").read_text().splitlines()]


def test_item_06_tests_run_the_runtime_pins() -> None:
    pins = runtime_pins()
    assert pins["aws-lambda-powertools"] == "3.37.0"
    relative = RUNTIME_REQUIREMENTS.relative_to(REPOSITORY_ROOT).as_posix()
    assert f"-r {relative}" in _dev_requirements(), "requirements-dev.txt must install the runtime pins"
    assert not [r for r in _dev_requirements() if r.lower().startswith("aws-lambda-powertools")], "a second pin"
    for name, version in pins.items():
        assert importlib.metadata.version(name) == version, f"the tests run {name} {importlib.metadata.version(name)}"


def _asset_directory(assembly_dir: Path, s3_key: str) -> Path:
    (found,) = [p for p in assembly_dir.rglob(f"asset.{s3_key.removesuffix('.zip')}") if p.is_dir()]
    return found


def test_item_06_functions_run_the_pinned_powertools(deployed: list[Deployed], assembly_dir: Path) -> None:
    pins, checked, problems = runtime_pins(), 0, []
    for deployment in deployed:
        for function_id, function in _of_type(deployment, "AWS::Lambda::Function").items():
            if not _is_payment_function(function):
                continue
            checked += 1
            layers = [_ref(layer) or layer for layer in function.get("Layers", [])]
            external = [layer for layer in layers if layer not in deployment.resources]
            if external or len(layers) != 1:
                problems.append(f"{deployment.label}: {function_id} layers {layers} are not one layer built here")
                continue
            layer = deployment.resources[layers[0]]
            directory = _asset_directory(assembly_dir, layer["Properties"]["Content"]["S3Key"]) / "python"
            for name, version in pins.items():
                distribution = f"{name.replace('-', '_')}-{version}.dist-info"
                if not (directory / distribution).is_dir():
                    problems.append(f"{deployment.label}: {function_id}'s layer lacks {distribution}")
    assert checked >= 12, checked
    assert not problems, "\n".join(problems)


# -- item 8: a failed first create leaves nothing retained behind ------------------------------------
def test_item_08_retained_resources_are_deleted_when_their_first_create_fails(deployed: list[Deployed]) -> None:
    retained = [
        f"{d.label}: {logical_id} ({resource['Type']})"
        for d in deployed
        for logical_id, resource in d.raw.items()
        if resource.get("DeletionPolicy") == "Retain"
    ]
    assert not retained, "DeletionPolicy Retain (use RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE):\n" + "\n".join(retained)
    prod = next(d for d in deployed if d.label.endswith("/prod/PaymentStack"))
    kept = {r["Type"] for r in prod.raw.values() if r.get("DeletionPolicy") == "RetainExceptOnCreate"}
    assert {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::Logs::LogGroup"} <= kept
    for resource in prod.raw.values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            assert resource["UpdateReplacePolicy"] == "Retain", resource["Type"]


# -- item 14: payment-grade hardening ---------------------------------------------------------------
def test_item_14_reserved_concurrency_of_the_payment_api_per_environment(deployed: list[Deployed]) -> None:
    expected = {
        d.label: PROFILES[env].payment_reserved_concurrency
        for d in deployed
        for env in ENVIRONMENT_NAMES
        if d.label.endswith(f"/{env}/PaymentStack")
    }
    expected.update(
        {f"product/{k}": PROFILES[p].payment_reserved_concurrency for k, (p, _) in PRODUCT_LAUNCHES.items()}
    )
    seen = {}
    for deployment in deployed:
        for function in _of_type(deployment, "AWS::Lambda::Function").values():
            if str(function.get("FunctionName", "")).startswith("payment-api-"):
                seen[deployment.label] = function.get("ReservedConcurrentExecutions")
    for label, value in expected.items():
        assert seen[label] == str(value), (label, seen[label], value)
    assert column_name("payment_reserved_concurrency") in profile_mapping_rows()["prod"]


@pytest.mark.parametrize(("value", "reason"), [(0, "stops every invocation"), (901, "unreserved"), (-1, "stops")])
def test_item_14_reserved_concurrency_knob_is_validated(value: int, reason: str) -> None:
    with pytest.raises(ConfigurationError, match=reason) as error:
        replace(PROFILES["prod"], payment_reserved_concurrency=value)
    assert "payment_reserved_concurrency" in str(error.value)


def test_item_14_reserved_concurrency_values_are_sensible() -> None:
    values = [PROFILES[env].payment_reserved_concurrency for env in ENVIRONMENT_NAMES]
    assert values == sorted(values) and values[0] >= 1, values
    # All three stages may share one account: together they must leave the account's unreserved pool.
    assert sum(values) <= 900, values


def test_item_14_function_environment_encrypted_with_the_deployment_key(deployed: list[Deployed]) -> None:
    checked = 0
    for deployment in deployed:
        keys = set(_of_type(deployment, "AWS::KMS::Key"))
        for function_id, function in _of_type(deployment, "AWS::Lambda::Function").items():
            if _is_payment_function(function):
                checked += 1
                assert _ref(function.get("KmsKeyArn")) in keys, (deployment.label, function_id)
    assert checked >= 12, checked


def _async_invoked(deployment: Deployed) -> dict[str, str]:
    """Functions some AWS service invokes asynchronously (logical id -> by whom)."""
    functions = set(_of_type(deployment, "AWS::Lambda::Function"))
    found = {}
    for logical_id, resource in deployment.resources.items():
        properties = resource["Properties"]
        if _ref(properties.get("ServiceToken")) in functions:  # CloudFormation custom resources
            found[_ref(properties["ServiceToken"])] = f"CloudFormation ({logical_id})"
        if resource["Type"] == "AWS::Lambda::Permission" and _ref(properties["FunctionName"]) in functions:
            principal = str(properties.get("Principal", ""))
            if principal.split(".", maxsplit=1)[0] in ("events", "sns", "s3", "logs", "iot", "ses", "cloudwatch"):
                found[_ref(properties["FunctionName"])] = f"{principal} ({logical_id})"
        if resource["Type"] == "AWS::Events::Rule":
            for target in properties.get("Targets", []):
                if _ref(target["Arn"]) in functions:
                    found[_ref(target["Arn"])] = f"EventBridge ({logical_id})"
        if resource["Type"] == "AWS::SNS::Subscription" and properties.get("Protocol") == "lambda":
            found[_ref(properties["Endpoint"])] = f"SNS ({logical_id})"
    return found


def test_item_14_asynchronously_invoked_functions_handle_failures(deployed: list[Deployed]) -> None:
    checked, problems = 0, []
    for deployment in deployed:
        configs = _of_type(deployment, "AWS::Lambda::EventInvokeConfig")
        for function_id, invoker in _async_invoked(deployment).items():
            checked += 1
            function = deployment.resources[function_id]
            on_failure = [
                c
                for c in configs.values()
                if _ref(c["FunctionName"]) == function_id and c.get("DestinationConfig", {}).get("OnFailure")
            ]
            dead_letters = function["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
            reason = deployment.raw[function_id].get("Metadata", {}).get(ASYNC_FAILURE_METADATA, "")
            if not (on_failure or dead_letters or len(reason) >= 20):
                problems.append(f"{deployment.label}: {function_id}, invoked by {invoker}, drops failed events")
    assert checked >= 3, "the catalogs' copy functions and share handler are invoked by CloudFormation"
    assert not problems, "\n".join(problems)


# -- error paths of the new helpers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "line", ["aws-lambda-powertools[tracer]==3.37.0", "aws-lambda-powertools>=3.37", "==3.37.0", "wrapt=="]
)
def test_item_06_runtime_pins_must_be_exact(tmp_path: Path, line: str) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# comment\n{line}\n")
    with pytest.raises(ValueError, match=r"requirements.txt:2: .* must be an exact pin 'name==version'"):
        runtime_pins(requirements)


def test_item_06_runtime_pins_must_not_be_empty(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing yet\n")
    with pytest.raises(ValueError, match="pins nothing"):
        runtime_pins(requirements)


def test_item_06_a_failed_install_fails_synth_saying_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-lambda-powertools==3.37.0\n")
    monkeypatch.setattr(lambda_runtime, "CACHE_ROOT", tmp_path / "cache")
    failed = subprocess.CompletedProcess(args=[], returncode=1, stdout="", stderr="ERROR: No matching distribution")
    monkeypatch.setattr(lambda_runtime.subprocess, "run", lambda *_, **__: failed)
    bundler = lambda_runtime._PipInstall(requirements, lambda_runtime.lambda_.Runtime.PYTHON_3_14)
    with pytest.raises(RuntimeError, match=r"pip exit 1\): ERROR: No matching distribution\nsynth needs PyPI"):
        bundler.try_bundle(str(tmp_path / "out"))
    assert list((tmp_path / "cache").iterdir()) == [], "a failed install leaves nothing in the cache"


def test_item_14_async_acknowledgment_needs_a_reason_and_a_resource() -> None:
    stack = Stack(new_app(), "Probe")
    queue = sqs.Queue(stack, "Queue")
    with pytest.raises(ValueError, match="needs a specific reason"):
        acknowledge_async_failures(queue, "because")
    with pytest.raises(TypeError, match="no CloudFormation resource"):
        acknowledge_async_failures(Construct(stack, "Empty"), "a reason that is long enough to be specific")
    acknowledge_async_failures(queue, "a reason that is long enough to be specific")
    assert (
        ASYNC_FAILURE_METADATA in Template.from_stack(stack).find_resources("AWS::SQS::Queue").popitem()[1]["Metadata"]
    )
