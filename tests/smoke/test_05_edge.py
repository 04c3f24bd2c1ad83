"""Edge: IAM authorization on every method, the API stage, the WAF web ACL in front of it."""

from __future__ import annotations

from product.contract import Output
from tests.smoke.target import Target


def _stage(target: Target) -> str:
    return next(lid for lid, _ in target.of_type("AWS::ApiGateway::Stage"))


def _api_id(target: Target) -> str:
    return target.outputs[Output.API_ID]


def test_methods_require_iam(target: Target, aws, subject) -> None:
    """Every API method requires IAM (SigV4) authorization, as declared"""
    api_logical_id = next(lid for lid, _ in target.of_type("AWS::ApiGateway::RestApi"))
    subject(api_logical_id, _api_id(target))
    declared = {}
    for logical_id, _ in target.of_type("AWS::ApiGateway::Method"):
        subject(logical_id)
        declared[logical_id] = target.prop(logical_id, "AuthorizationType")
    assert declared and set(declared.values()) == {"AWS_IAM"}, declared
    pages = aws("apigateway").get_paginator("get_resources").paginate(restApiId=_api_id(target), embed=["methods"])
    methods = {
        (r["path"], m): d.get("authorizationType")
        for p in pages
        for r in p["items"]
        for m, d in (r.get("resourceMethods") or {}).items()
        if m != "OPTIONS"
    }
    assert methods and set(methods.values()) == {"AWS_IAM"}, methods


def test_api_stage(target: Target, aws, subject) -> None:
    """API stage deployed with tracing, access logging and this environment's throttling"""
    stage_logical_id = _stage(target)
    stage_name = str(target.prop(stage_logical_id, "StageName"))
    subject(stage_logical_id, stage_name)
    stage = aws("apigateway").get_stage(restApiId=_api_id(target), stageName=stage_name)
    assert stage.get("tracingEnabled") is bool(target.prop(stage_logical_id, "TracingEnabled"))
    assert (stage.get("accessLogSettings") or {}).get("destinationArn"), "no access logging"
    declared = {
        s.get("ResourcePath", "/*") + s.get("HttpMethod", "*"): s
        for s in target.prop(stage_logical_id, "MethodSettings", default=[])
    }
    settings = stage.get("methodSettings", {}).get("*/*", {})
    rate = next((s.get("ThrottlingRateLimit") for s in declared.values() if "ThrottlingRateLimit" in s), None)
    burst = next((s.get("ThrottlingBurstLimit") for s in declared.values() if "ThrottlingBurstLimit" in s), None)
    assert rate is not None and float(settings.get("throttlingRateLimit", -1)) == float(rate), settings
    assert burst is not None and int(settings.get("throttlingBurstLimit", -1)) == int(burst), settings


def _web_acl(target: Target) -> str:
    return next(lid for lid, _ in target.of_type("AWS::WAFv2::WebACL"))


def test_web_acl_rate_limit(target: Target, aws, subject) -> None:
    """Web ACL has this environment's rate limit per IP"""
    logical_id = _web_acl(target)
    arn = target.outputs[Output.WEB_ACL_ARN]
    subject(logical_id, str(target.prop(logical_id, "Name")))
    name, acl_id = arn.split("/")[-2:]
    acl = aws("wafv2").get_web_acl(Name=name, Scope="REGIONAL", Id=acl_id)["WebACL"]
    declared = {r["Name"]: r for r in target.prop(logical_id, "Rules")}
    rate_rules = {r["Name"]: r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]}
    assert rate_rules, "the web ACL has no rate-based rule"
    for rule_name, rule in rate_rules.items():
        expected = declared[rule_name]["Statement"]["RateBasedStatement"]["Limit"]
        assert int(rule["Statement"]["RateBasedStatement"]["Limit"]) == int(expected), rule_name
        assert "Block" in rule["Action"], f"{rule_name} does not block"


def test_web_acl_associated_with_stage(target: Target, aws, subject) -> None:
    """Web ACL associated with the API stage"""
    association = next(lid for lid, _ in target.of_type("AWS::WAFv2::WebACLAssociation"))
    stage_logical_id = _stage(target)
    stage_name = str(target.prop(stage_logical_id, "StageName"))
    subject(association, f"{target.prop(_web_acl(target), 'Name')} -> stage {stage_name}")
    subject(stage_logical_id, stage_name)
    stage_arn = f"arn:{target.partition}:apigateway:{target.region}::/restapis/{_api_id(target)}/stages/{stage_name}"
    acl = aws("wafv2").get_web_acl_for_resource(ResourceArn=stage_arn).get("WebACL")
    assert acl is not None, f"no web ACL on {stage_arn}"
    assert acl["ARN"] == target.outputs[Output.WEB_ACL_ARN]
