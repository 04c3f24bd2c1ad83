"""The API stage, the WAF web ACL and its association and the bucket policies the harness provides
(rehearsal/resource_providers.py): held by the emulator as CloudFormation would create them, read by the
smoke checks from there, and the checks fail when the emulator's state or the template is wrong.

A small stack of exactly those resources is created with CloudFormation in the shared emulator; the smoke
suite's own checks run against it (`scripts/smoke --stack-name ... -- -k ...`).
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from rehearsal.emulator import Emulator

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke"
EDGE_CHECKS = (
    "test_api_stage",
    "test_web_acl_rate_limit",
    "test_web_acl_associated_with_stage",
    "test_bucket_policy_requires_tls[audit]",
    "test_bucket_policy_requires_tls[access-logs]",
)
OUTPUT_CHECKS = ("test_output_present[ApiUrl]", "test_output_present[ApiStageName]", "test_output_present[WebAclArn]")
STAGE = "check"
RATE_LIMIT = 500


def _tls_only(bucket: str) -> dict[str, Any]:
    arn = {"Fn::GetAtt": [bucket, "Arn"]}
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "s3:*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Resource": [arn, {"Fn::Join": ["", [arn, "/*"]]}],
                    }
                ],
            },
        },
    }


def _template() -> dict[str, Any]:
    """The product's edge and bucket-policy resources, in the shapes its synthesized template has them."""
    visibility = {"CloudWatchMetricsEnabled": True, "MetricName": "edge", "SampledRequestsEnabled": True}
    return {
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "edge-check"}},
            "ApiGet": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "HttpMethod": "GET",
                    "AuthorizationType": "AWS_IAM",
                    "Integration": {
                        "Type": "HTTP_PROXY",
                        "IntegrationHttpMethod": "GET",
                        "Uri": "https://example.invalid/",
                    },
                },
            },
            "ApiDeployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "Properties": {"RestApiId": {"Ref": "Api"}},
                "DependsOn": ["ApiGet"],
            },
            "ApiAccessLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 7}},
            "ApiStage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "DeploymentId": {"Ref": "ApiDeployment"},
                    "StageName": STAGE,
                    "TracingEnabled": True,
                    "AccessLogSetting": {
                        "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]},
                        "Format": '{"requestId":"$context.requestId"}',
                    },
                    "MethodSettings": [
                        {
                            "ResourcePath": "/*",
                            "HttpMethod": "*",
                            "LoggingLevel": "INFO",
                            "MetricsEnabled": True,
                            "ThrottlingBurstLimit": 100,
                            "ThrottlingRateLimit": 50,
                        }
                    ],
                },
            },
            "WebAcl": {
                "Type": "AWS::WAFv2::WebACL",
                "Properties": {
                    "Name": {"Fn::Sub": "edge-check-${AWS::StackName}"},
                    "Scope": "REGIONAL",
                    "DefaultAction": {"Allow": {}},
                    "VisibilityConfig": visibility,
                    "Rules": [
                        {
                            "Name": "RateLimitPerIp",
                            "Priority": 0,
                            "Action": {"Block": {}},
                            "Statement": {"RateBasedStatement": {"AggregateKeyType": "IP", "Limit": RATE_LIMIT}},
                            "VisibilityConfig": visibility,
                        }
                    ],
                },
            },
            "StageAssociation": {
                "Type": "AWS::WAFv2::WebACLAssociation",
                "Properties": {
                    "ResourceArn": {
                        "Fn::Join": [
                            "",
                            [
                                "arn:aws:apigateway:us-east-1::/restapis/",
                                {"Ref": "Api"},
                                "/stages/",
                                {"Ref": "ApiStage"},
                            ],
                        ]
                    },
                    "WebACLArn": {"Fn::GetAtt": ["WebAcl", "Arn"]},
                },
                "DependsOn": ["ApiStage"],
            },
            "Audit": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-audit"}}},
            "AuditPolicy": _tls_only("Audit"),
            "AccessLogs": {
                "Type": "AWS::S3::Bucket",
                "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-access-logs"}},
            },
            "AccessLogsPolicy": _tls_only("AccessLogs"),
        },
        "Outputs": {
            "ApiId": {"Value": {"Ref": "Api"}},
            "ApiStageName": {"Value": {"Ref": "ApiStage"}},
            "ApiUrl": {
                "Value": {
                    "Fn::Join": [
                        "",
                        ["https://", {"Ref": "Api"}, ".execute-api.us-east-1.amazonaws.com/", {"Ref": "ApiStage"}, "/"],
                    ]
                }
            },
            "WebAclArn": {"Value": {"Fn::GetAtt": ["WebAcl", "Arn"]}},
            "AuditBucketName": {"Value": {"Ref": "Audit"}},
            "AccessLogBucketName": {"Value": {"Ref": "AccessLogs"}},
        },
    }


def _deploy(emulator: Emulator, template: dict[str, Any]) -> dict[str, str]:
    """Create the stack with CloudFormation; its outputs, with its name under 'StackName'."""
    name = f"edge-check-{uuid.uuid4().hex[:8]}"
    cloudformation = emulator.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    (stack,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    return {"StackName": name, **{o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}}


def _smoke(
    emulator: Emulator, stack_name: str, tmp_path: Path, checks: tuple[str, ...], **env: str
) -> dict[str, dict[str, Any]]:
    """Run the smoke suite's `checks` against the stack: check name -> its result in summary.json."""
    report_dir = tmp_path / stack_name
    names = " or ".join(c.split("[")[0] for c in checks)
    subprocess.run(
        [str(SMOKE), "--stack-name", stack_name, "--report-dir", str(report_dir), "--", "-k", names],
        env={**emulator.environment(), **env},
        capture_output=True,
        check=False,
        timeout=300,
    )
    summary = json.loads((report_dir / "summary.json").read_text())
    results = {c["nodeid"].split("::", 1)[1]: c for c in summary["checks"]}
    return {check: results[check] for check in checks}


def _outcomes(results: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {check: result["outcome"] for check, result in results.items()}


@pytest.fixture(scope="module")
def edge_stack(emulator: Emulator) -> dict[str, str]:
    return _deploy(emulator, _template())


def test_the_emulator_holds_what_cloudformation_would_create(emulator: Emulator, edge_stack: dict[str, str]) -> None:
    apigateway, wafv2, s3 = emulator.client("apigateway"), emulator.client("wafv2"), emulator.client("s3")
    stage = apigateway.get_stage(restApiId=edge_stack["ApiId"], stageName=STAGE)
    assert stage["tracingEnabled"] is True and stage["deploymentId"]
    assert stage["accessLogSettings"]["destinationArn"].startswith("arn:aws:logs:us-east-1:")
    assert stage["accessLogSettings"]["format"] == '{"requestId":"$context.requestId"}'
    settings = stage["methodSettings"]["*/*"]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (50.0, 100)
    assert (settings["loggingLevel"], settings["metricsEnabled"]) == ("INFO", True)
    name, acl_id = edge_stack["WebAclArn"].split("/")[-2:]
    acl = wafv2.get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)["WebACL"]
    assert acl["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] == RATE_LIMIT
    stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{edge_stack['ApiId']}/stages/{STAGE}"
    assert wafv2.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["ARN"] == edge_stack["WebAclArn"]
    assert apigateway.get_stage(restApiId=edge_stack["ApiId"], stageName=STAGE)["webAclArn"] == acl["ARN"]
    policy = json.loads(s3.get_bucket_policy(Bucket=edge_stack["AuditBucketName"])["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Stored, not evaluated (shim s3-bucket-policy-not-evaluated): moto would take the TLS condition as met.
    s3.put_object(Bucket=edge_stack["AuditBucketName"], Key="k", Body=b"v")
    assert s3.get_object(Bucket=edge_stack["AuditBucketName"], Key="k")["Body"].read() == b"v"
    stack_id = emulator.client("cloudformation").describe_stacks(StackName=edge_stack["StackName"])["Stacks"][0][
        "StackId"
    ]
    assert emulator.skipped is not None
    provided = {(s.logical_id, s.resource_type) for s in emulator.skipped.provided_for_stack(stack_id)}
    assert provided == {
        ("ApiStage", "AWS::ApiGateway::Stage"),
        ("WebAcl", "AWS::WAFv2::WebACL"),
        ("StageAssociation", "AWS::WAFv2::WebACLAssociation"),
        ("AuditPolicy", "AWS::S3::BucketPolicy"),
        ("AccessLogsPolicy", "AWS::S3::BucketPolicy"),
    }
    assert not emulator.skipped.for_stack(stack_id)


def test_the_edge_checks_execute_and_pass_on_the_deployed_stack(
    emulator: Emulator, edge_stack: dict[str, str], tmp_path: Path
) -> None:
    results = _smoke(emulator, edge_stack["StackName"], tmp_path, EDGE_CHECKS)
    assert set(_outcomes(results).values()) == {"passed"}, results


def test_the_edge_checks_fail_when_the_emulator_holds_something_else(emulator: Emulator, tmp_path: Path) -> None:
    """The checks read the emulator, not the template: change what it holds and each one fails."""
    deployed = _deploy(emulator, _template())
    api_id = deployed["ApiId"]
    apigateway, wafv2, s3 = emulator.client("apigateway"), emulator.client("wafv2"), emulator.client("s3")
    apigateway.update_stage(
        restApiId=api_id,
        stageName=STAGE,
        patchOperations=[{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "999"}],
    )
    name, acl_id = deployed["WebAclArn"].split("/")[-2:]
    acl = wafv2.get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)
    rules = copy.deepcopy(acl["WebACL"]["Rules"])
    rules[0]["Statement"]["RateBasedStatement"]["Limit"] = 10_000
    wafv2.update_web_acl(
        Name=name,
        Scope="REGIONAL",
        Id=acl_id,
        DefaultAction=acl["WebACL"]["DefaultAction"],
        Rules=rules,
        VisibilityConfig=acl["WebACL"]["VisibilityConfig"],
        LockToken=acl["LockToken"],
    )
    wafv2.disassociate_web_acl(ResourceArn=f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/{STAGE}")
    s3.put_bucket_policy(
        Bucket=deployed["AuditBucketName"],
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}
                ],
            }
        ),
    )
    s3.delete_bucket_policy(Bucket=deployed["AccessLogBucketName"])
    results = _smoke(emulator, deployed["StackName"], tmp_path, EDGE_CHECKS)
    assert set(_outcomes(results).values()) == {"failed"}, results
    messages = {check: result["message"] for check, result in results.items()}
    assert "999.0 == 50.0" in messages["test_api_stage"]
    assert "assert 10000 == 500" in messages["test_web_acl_rate_limit"]
    assert (
        f"no web ACL on arn:aws:apigateway:us-east-1::/restapis/{api_id}"
        in messages["test_web_acl_associated_with_stage"]
    )
    assert "no statement denies aws:SecureTransport=false" in messages["test_bucket_policy_requires_tls[audit]"]
    assert "NoSuchBucketPolicy" in messages["test_bucket_policy_requires_tls[access-logs]"]


def test_the_edge_checks_fail_on_a_template_without_the_settings(emulator: Emulator, tmp_path: Path) -> None:
    """Deployed as declared is not enough: no access logging, no rate rule or no TLS-only statement fails."""
    template = _template()
    resources = template["Resources"]
    del resources["ApiStage"]["Properties"]["AccessLogSetting"]
    resources["WebAcl"]["Properties"]["Rules"] = []
    resources["AuditPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Effect"] = "Allow"
    deployed = _deploy(emulator, template)
    checks = ("test_api_stage", "test_web_acl_rate_limit", "test_bucket_policy_requires_tls[audit]")
    results = _smoke(emulator, deployed["StackName"], tmp_path, checks)
    assert set(_outcomes(results).values()) == {"failed"}, results
    assert "no access logging" in results["test_api_stage"]["message"]
    assert "the web ACL has no rate-based rule" in results["test_web_acl_rate_limit"]["message"]
    assert (
        "no statement denies aws:SecureTransport=false" in results["test_bucket_policy_requires_tls[audit]"]["message"]
    )


def _served(tmp_path: Path, stack_url: str, served_at: str) -> dict[str, str]:
    """The emulator's file as the rehearsal writes it for a locally served API: the smoke environment."""
    document = {
        "emulator": "moto (test)",
        "skipped": [],
        "served_outputs": {"ApiUrl": {"output": stack_url, "served_at": served_at}},
    }
    path = tmp_path / f"not-emulated-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(document))
    return {"SMOKE_NOT_EMULATED_FILE": str(path)}


def test_the_outputs_naming_the_stage_and_web_acl_are_checked(
    emulator: Emulator, edge_stack: dict[str, str], tmp_path: Path
) -> None:
    """ApiUrl may be the rehearsal's local gateway only where the emulator's file declares exactly that."""
    stack_url, local = edge_stack["ApiUrl"], f"http://127.0.0.1:9/{STAGE}/"
    assert stack_url == f"https://{edge_stack['ApiId']}.execute-api.us-east-1.amazonaws.com/{STAGE}/"
    env = {**_served(tmp_path, stack_url, local), "API_URL": local}
    results = _smoke(emulator, edge_stack["StackName"], tmp_path, OUTPUT_CHECKS, **env)
    assert set(_outcomes(results).values()) == {"passed"}, results
    stale = {**_served(tmp_path, stack_url, local), "API_URL": "http://127.0.0.1:9/other/"}
    (result,) = _smoke(emulator, edge_stack["StackName"], tmp_path / "stale", OUTPUT_CHECKS[:1], **stale).values()
    assert result["outcome"] == "failed"
    assert f"API_URL='http://127.0.0.1:9/other/' differs from the stack's output '{stack_url}'" in result["message"]


def test_deleting_the_stack_removes_what_the_harness_provided(emulator: Emulator) -> None:
    deployed = _deploy(emulator, _template())
    wafv2 = emulator.client("wafv2")
    stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{deployed['ApiId']}/stages/{STAGE}"
    assert wafv2.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["ARN"] == deployed["WebAclArn"]
    emulator.client("cloudformation").delete_stack(StackName=deployed["StackName"])
    arns = {acl["ARN"] for acl in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]}
    assert deployed["WebAclArn"] not in arns
    assert wafv2.get_web_acl_for_resource(ResourceArn=stage_arn).get("WebACL") is None
