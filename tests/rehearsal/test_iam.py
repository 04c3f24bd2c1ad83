"""IAM enforced in the emulator: a permission removed from a copy of the synthesized assembly fails the
stage, naming the action and the role; the policy-engine corrections of rehearsal.iam behave as IAM.

The copy is the session's assembly with the dev stage renamed (`iamt`: its own stack, tables, functions),
so it deploys next to the other tests' stages in the shared emulator."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rehearsal import cdk_cli, iam, lambda_runtime
from rehearsal.assembly import stage_stacks
from rehearsal.deployed_stage import IamWatch, StageRuntime, account_for
from rehearsal.emulator import Emulator
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from tests.rehearsal.assembly_edits import write_edited_template
from tests.smoke.api_client import ApiClient

COPY_NAME = "iamt"


def _renamed(text: str) -> str:
    """The dev stage's names with `iamt` for `dev` (stack, tables, functions, alarms, alias...)."""
    text = text.replace("payment-dev", f"payment-{COPY_NAME}").replace("dev-PaymentStack", f"{COPY_NAME}-PaymentStack")
    return re.sub(r'(?<=[a-z])-dev(?=["/:*-])', f"-{COPY_NAME}", text)


def _without(template: dict[str, Any], policy_prefix: str, action: str) -> None:
    """Remove `action` from every statement of the stack's inline policy whose logical id starts so."""
    removed = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and logical_id.startswith(policy_prefix):
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if action in actions:
                    if action.startswith("dynamodb:") and "TablesPayments" not in json.dumps(statement["Resource"]):
                        continue  # only the grant on the payments table (the idempotency table keeps its own)
                    statement["Action"] = [a for a in actions if a != action]
                    removed += 1
    assert removed, f"{action} not granted by {policy_prefix}* in the template: the test's premise changed"


@pytest.fixture(scope="module")
def broken_copy(assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assembly with the API role's dynamodb:PutItem on the payments table and the processor role's
    logs:PutLogEvents removed from the (renamed) dev stage."""
    copy = tmp_path_factory.mktemp("iam-assembly") / "assembly"
    shutil.copytree(assembly, copy)
    stage_dir = copy / "assembly-PaymentPipeline-dev"
    manifest = stage_dir / "manifest.json"
    manifest.write_text(_renamed(manifest.read_text()))
    (template_file,) = stage_dir.glob("*PaymentStack*.template.json")
    template = json.loads(_renamed(template_file.read_text()))
    _without(template, "PaymentServiceFunctionsApiRoleDefaultPolicy", "dynamodb:PutItem")
    _without(template, "PaymentServiceFunctionsProcessorRoleDefaultPolicy", "logs:PutLogEvents")
    write_edited_template(template_file, json.dumps(template, indent=1))
    return copy


@pytest.fixture(scope="module")
def served_copy(
    broken_copy: Path, reports: Path, emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StageRuntime]:
    """The broken copy's dev stage deployed by the CDK CLI (as the bootstrap roles) and served."""
    artifact = stage_stacks(broken_copy)["dev"]
    assert artifact.stack_name == f"{COPY_NAME}-PaymentStack"
    log = reports / COPY_NAME / "cdk.log"
    key = (emulator.account, emulator.region)
    if key not in emulator.bootstrapped:
        cdk_cli.bootstrap(account=key[0], region=key[1], assembly=broken_copy, env=emulator.environment(), log_file=log)
        emulator.bootstrapped.add(key)
    cdk_cli.deploy(artifact.display_name, assembly=broken_copy, env=emulator.environment(), log_file=log)
    workdir = tmp_path_factory.mktemp("iam-functions")
    runtime = StageRuntime(emulator, account_for(emulator, artifact), workdir=workdir, log_dir=reports / COPY_NAME)
    yield runtime.start()
    runtime.stop()


def test_missing_put_item_fails_the_stage_naming_action_and_role(served_copy: StageRuntime, emulator: Emulator) -> None:
    runtime = served_copy
    session = boto3.session.Session(DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY, region_name=emulator.region)
    api = ApiClient(runtime.api_url or "", session, emulator.region)
    body = {"amount": 1250, "currency": "USD", "merchant_id": "m-iam", "source": "tok_iam", "description": "iam"}
    watch = IamWatch(emulator, {COPY_NAME: runtime})  # as the executor watches each pipeline action
    response = api.create(body, str(uuid.uuid4()))
    assert response.status >= 500, response.describe()  # the function cannot write the payment

    failures, report = runtime.failures(), runtime.iam_report()
    denied = [f for f in failures if "dynamodb:PutItem" in f]
    assert denied, failures
    assert [f for f in watch.failures() if "dynamodb:PutItem" in f] == denied  # the action would fail on it
    assert f":table/payments-{COPY_NAME} " in denied[0]
    assert re.search(r"assumed-role/iamt-PaymentStack-PaymentServiceFunctionsApiRole[^/]*/payment-api-iamt", denied[0])
    assert f"(caller: function payment-api-{COPY_NAME})" in denied[0]
    assert report.enforced and report.denied >= 1 and report.authorized > 0


def test_denied_log_delivery_fails_the_stage_naming_put_log_events(
    served_copy: StageRuntime, emulator: Emulator
) -> None:
    runtime = served_copy
    processor = runtime.functions.function(f"payment-processor-{COPY_NAME}")
    record = {
        "messageId": "iam-test-1",
        "receiptHandle": "iam-test",
        "body": "{}",  # not a PaymentCreated event: reported as a partial batch failure, not raised
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{emulator.region}:{emulator.account}:payment-events-{COPY_NAME}",
        "awsRegion": emulator.region,
    }
    watch = IamWatch(emulator, {COPY_NAME: runtime})
    answer = processor.invoke({"Records": [record]})  # the function itself answers
    assert answer == {"batchItemFailures": [{"itemIdentifier": "iam-test-1"}]}

    failures = runtime.failures()
    denied = [f for f in failures if f.startswith("IAM denied logs:PutLogEvents")]
    assert denied, failures
    assert f"log-group:{processor.log_group}:log-stream:" in denied[0]
    assert f"(caller: function payment-processor-{COPY_NAME})" in denied[0]
    lost = [f for f in failures if f.startswith(f"log delivery of payment-processor-{COPY_NAME}")]
    assert lost and "PutLogEvents: AccessDenied" in lost[0], failures
    assert any(f.startswith("IAM denied logs:PutLogEvents") for f in watch.failures())
    # The API role kept its log grant: its invocation's output reached its group, framed as Lambda frames it.
    (api,) = [f for f in runtime.functions.loaded() if f.name == f"payment-api-{COPY_NAME}" and f.invocations]
    assert api.delivery is not None and api.delivery.delivered >= 1 and api.delivery.errors == []
    events = emulator.client("logs").get_log_events(
        logGroupName=api.log_group, logStreamName=api.delivery.log_stream, startFromHead=True
    )["events"]
    assert events[0]["message"].startswith("START RequestId: ") and any(
        e["message"].startswith("REPORT RequestId: ") for e in events
    )


def test_an_expiring_role_session_gets_a_fresh_execution_environment(
    served_copy: StageRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = served_copy
    name = f"payment-processor-{COPY_NAME}"
    first = runtime.functions.function(name)
    assert first.credentials is not None and first.environment["AWS_SESSION_TOKEN"] == first.credentials.session_token
    monkeypatch.setattr(lambda_runtime, "SESSION_REFRESH_MARGIN_S", iam.SESSION_DURATION_S + 60)
    second = runtime.functions.function(name)
    assert second is not first and second.credentials is not None
    assert second.credentials.access_key_id != first.credentials.access_key_id
    assert first in runtime.functions.retired


def test_cdk_cli_assumed_the_bootstrap_roles_as_the_harness_principal(
    served_copy: StageRuntime, emulator: Emulator
) -> None:
    assert emulator.authorization is not None
    decisions = emulator.authorization.since(0)
    assumed = {
        d.resource.rsplit("/", 1)[-1].split("-role-")[0]
        for d in decisions
        if d.action == "sts:AssumeRole" and d.allowed and d.principal.endswith(f":user/{iam.HARNESS_USER}")
    }
    assert {"cdk-hnb659fds-deploy", "cdk-hnb659fds-file-publishing"} <= assumed, assumed
    harness_denied = [d.describe() for d in decisions if not d.allowed and d.caller == iam.HARNESS_CALLER]
    assert harness_denied == []


# --- the policy-engine corrections, on roles created for the test --------------------------------------


def _role(emulator: Emulator, trust: dict[str, Any], statements: list[dict[str, Any]]) -> str:
    name = f"iam-test-{uuid.uuid4().hex[:8]}"
    client = emulator.client("iam")
    arn = client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": statements}
    client.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


LAMBDA_TRUST = iam.trust_policy({"Service": "lambda.amazonaws.com"})


def _client(emulator: Emulator, credentials: iam.RoleCredentials, service: str) -> Any:
    session = boto3.session.Session(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token, emulator.region
    )
    return session.client(service, endpoint_url=emulator.endpoint)


def test_scoped_grants_evaluate_the_table_arn_and_wildcards(emulator: Emulator) -> None:
    table, other = (f"iam-test-{uuid.uuid4().hex[:8]}" for _ in range(2))
    dynamodb = emulator.client("dynamodb")
    for name in (table, other):
        dynamodb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    arn = f"arn:aws:dynamodb:{emulator.region}:{emulator.account}:table/{table}"
    role = _role(emulator, LAMBDA_TRUST, [{"Effect": "Allow", "Action": "DynamoDB:Put*", "Resource": arn}])
    credentials = emulator.credentials_for_role(role, caller="test")
    assert credentials is not None
    client = _client(emulator, credentials, "dynamodb")
    client.put_item(TableName=table, Item={"k": {"S": "1"}})  # case-insensitive action wildcard, exact ARN
    with pytest.raises(ClientError, match=r"403|AccessDenied"):
        client.put_item(TableName=other, Item={"k": {"S": "1"}})  # another table: not granted
    with pytest.raises(ClientError, match=r"403|AccessDenied"):
        client.get_item(TableName=table, Key={"k": {"S": "1"}})  # another action: not granted
    assert emulator.authorization is not None
    mine = [d for d in emulator.authorization.since(0) if d.caller == "test" and d.action.startswith("dynamodb:")]
    assert [(d.action, d.resource.rsplit("/", 1)[-1], d.allowed) for d in mine] == [
        ("dynamodb:PutItem", table, True),
        ("dynamodb:PutItem", other, False),
        ("dynamodb:GetItem", table, False),
    ]
    assert all(d.resource_evaluated for d in mine)


def test_trust_policies_admit_the_account_root_and_refuse_the_wrong_service(emulator: Emulator) -> None:
    account_trust = iam.trust_policy({"AWS": f"arn:aws:iam::{emulator.account}:root"})
    role = _role(emulator, account_trust, [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}])
    assumed = emulator.client("sts").assume_role(RoleArn=role, RoleSessionName="harness")  # the harness user
    assert assumed["AssumedRoleUser"]["Arn"].endswith("/harness")
    service_only = _role(emulator, LAMBDA_TRUST, [{"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}])
    with pytest.raises(ClientError, match="AccessDenied"):  # moto raised TypeError (500) here
        emulator.client("sts").assume_role(RoleArn=service_only, RoleSessionName="harness")
    with pytest.raises(iam.AccessDeniedError, match=r"does not allow sts:AssumeRole by codebuild\.amazonaws\.com"):
        emulator.credentials_for_role(service_only, service="codebuild.amazonaws.com")
    with pytest.raises(iam.AccessDeniedError, match="no such role"):
        emulator.credentials_for_role(f"arn:aws:iam::{emulator.account}:role/absent")


def _decisions(emulator: Emulator, caller: str) -> list[tuple[str, str, bool]]:
    assert emulator.authorization is not None
    return [(d.action, d.resource, d.allowed) for d in emulator.authorization.since(0) if d.caller == caller]


def test_operations_are_authorized_under_the_iam_action_aws_uses(emulator: Emulator) -> None:
    """moto authorized GetBucketEncryption/GetPublicAccessBlock as s3:ListBucket, DeleteMessageBatch as
    sqs:DeleteMessageBatch, API Gateway reads by operation name and rule operations on the bus: a least-privilege
    role (the smoke role, Lambda's poller) was denied what AWS allows, and s3:ListBucket allowed what AWS denies."""
    region, account = emulator.region, emulator.account
    bucket, queue, rule = (f"iam-names-{uuid.uuid4().hex[:8]}" for _ in range(3))
    emulator.client("s3").create_bucket(Bucket=bucket)
    queue_url = emulator.client("sqs").create_queue(QueueName=queue)["QueueUrl"]
    emulator.client("events").put_rule(Name=rule, EventPattern=json.dumps({"source": ["x"]}))
    api_id = emulator.client("apigateway").create_rest_api(name=bucket)["id"]
    statements = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock"],
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {"Effect": "Allow", "Action": ["sqs:DeleteMessage"], "Resource": f"arn:aws:sqs:{region}:{account}:{queue}"},
        {
            "Effect": "Allow",
            "Action": "events:ListTargetsByRule",
            "Resource": f"arn:aws:events:{region}:{account}:rule/{rule}",
        },
        {
            "Effect": "Allow",
            "Action": "apigateway:GET",
            "Resource": f"arn:aws:apigateway:{region}::/restapis/{api_id}/resources",
        },
    ]
    credentials = emulator.credentials_for_role(_role(emulator, LAMBDA_TRUST, statements), caller="names")
    assert credentials is not None
    s3, sqs = _client(emulator, credentials, "s3"), _client(emulator, credentials, "sqs")
    with pytest.raises(ClientError, match="ServerSideEncryptionConfigurationNotFound"):  # authorized: no configuration
        s3.get_bucket_encryption(Bucket=bucket)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_objects_v2(Bucket=bucket)  # s3:ListBucket is not granted
    sqs.delete_message_batch(QueueUrl=queue_url, Entries=[{"Id": "1", "ReceiptHandle": "none"}])
    _client(emulator, credentials, "events").list_targets_by_rule(Rule=rule)
    _client(emulator, credentials, "apigateway").get_resources(restApiId=api_id)
    with pytest.raises(ClientError, match=r"AccessDenied|403"):
        _client(emulator, credentials, "apigateway").get_stages(restApiId=api_id)  # another path
    decisions = _decisions(emulator, "names")
    assert decisions == [
        ("s3:GetEncryptionConfiguration", f"arn:aws:s3:::{bucket}", True),
        ("s3:ListBucket", f"arn:aws:s3:::{bucket}", False),
        ("sqs:DeleteMessage", f"arn:aws:sqs:{region}:{account}:{queue}", True),
        ("events:ListTargetsByRule", f"arn:aws:events:{region}:{account}:rule/{rule}", True),
        ("apigateway:GET", f"arn:aws:apigateway:{region}::/restapis/{api_id}/resources", True),
        ("apigateway:GET", f"arn:aws:apigateway:{region}::/restapis/{api_id}/stages", False),
    ], decisions


def test_deleting_a_change_set_that_does_not_exist_succeeds_as_in_cloudformation(emulator: Emulator) -> None:
    """The CDK CLI deletes `cdk-deploy-change-set` before a change-set deploy of an existing stack (the pipeline's
    self-mutation) and waits for ChangeSetNotFound; moto answered 500 (UnboundLocalError) and ValidationError
    when there was none (shim missing-change-set)."""
    cloudformation = emulator.client("cloudformation")
    name = f"change-set-test-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    cloudformation.delete_change_set(StackName=name, ChangeSetName="cdk-deploy-change-set")  # none: no error
    with pytest.raises(cloudformation.exceptions.ChangeSetNotFoundException):  # moto: ValidationError
        cloudformation.describe_change_set(StackName=name, ChangeSetName="cdk-deploy-change-set")
    change_set = cloudformation.create_change_set(
        StackName=name, ChangeSetName="real", TemplateBody=json.dumps(template), ChangeSetType="UPDATE"
    )
    cloudformation.delete_change_set(ChangeSetName=change_set["Id"])
    cloudformation.delete_stack(StackName=name)


def test_an_update_keeps_a_parameter_that_kept_its_default(emulator: Emulator) -> None:
    """The CDK CLI updates a deployed stack passing BootstrapVersion with UsePreviousValue; moto raised KeyError
    (a 500) when the parameter had kept its default (shim previous-parameter-values)."""
    cloudformation = emulator.client("cloudformation")
    name = f"previous-value-test-{uuid.uuid4().hex[:8]}"
    template = {
        "Parameters": {"Version": {"Type": "String", "Default": "21"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"Version": {"Value": {"Ref": "Version"}}},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    template["Resources"]["Other"] = {"Type": "AWS::SNS::Topic"}
    cloudformation.update_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Version", "UsePreviousValue": True}],
    )
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Version": "21"}
    cloudformation.delete_stack(StackName=name)


def test_a_change_set_keeps_the_previous_value_of_an_ssm_parameter(emulator: Emulator) -> None:
    """Self-mutation: the CDK CLI's change set passes BootstrapVersion (an SSM parameter type) with
    UsePreviousValue; moto substituted the resolved value and looked it up as a parameter name (a 500 on
    ExecuteChangeSet; shim previous-parameter-values)."""
    cloudformation = emulator.client("cloudformation")
    name = f"previous-value-ssm-test-{uuid.uuid4().hex[:8]}"
    path = f"/{name}/version"
    emulator.client("ssm").put_parameter(Name=path, Value="21", Type="String")
    template = {
        "Parameters": {"Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": path}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"Version": {"Value": {"Ref": "Version"}}},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    template["Resources"]["Other"] = {"Type": "AWS::SNS::Topic"}
    change_set = cloudformation.create_change_set(
        StackName=name,
        ChangeSetName="cdk-deploy-change-set",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Version", "UsePreviousValue": True}],
    )
    cloudformation.execute_change_set(ChangeSetName=change_set["Id"])
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Version": "21"}
    cloudformation.delete_stack(StackName=name)


def test_a_stack_created_by_a_change_set_has_its_outputs(emulator: Emulator, assembly: Path, reports: Path) -> None:
    """`cdk bootstrap` creates CDKToolkit through a change set; moto listed no outputs for such a stack (shim
    missing-change-set), so the CDK CLI could not read BootstrapVersion from it."""
    key = (emulator.account, emulator.region)
    if key not in emulator.bootstrapped:
        log = reports / "bootstrap-outputs.log"
        cdk_cli.bootstrap(account=key[0], region=key[1], assembly=assembly, env=emulator.environment(), log_file=log)
        emulator.bootstrapped.add(key)
    (toolkit,) = emulator.client("cloudformation").describe_stacks(StackName="CDKToolkit")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in toolkit.get("Outputs", [])}
    assert outputs.get("BootstrapVersion", "").isdigit(), outputs
    assert outputs.get("BucketName", "").startswith("cdk-hnb659fds-assets-"), outputs
