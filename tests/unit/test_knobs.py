"""Each environment's stack carries that environment's knobs from the configuration table."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match, Template

from product.catalog.parameters import PROFILE
from product.profiles import ENVIRONMENT_NAMES, PROFILES

PAYMENT_HANDLERS = ("api.handler", "processor.handler")


def _alarm_threshold(template: Template, env: str, what: str) -> float:
    alarms = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"AlarmName": f"payment-{env}-{what}"}})
    assert len(alarms) == 1, what
    return next(iter(alarms.values()))["Properties"]["Threshold"]


def test_function_sizes(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    p = PROFILES[env]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"FunctionName": f"payment-api-{env}", "MemorySize": p.payment_memory_mb, "Timeout": p.payment_timeout_s},
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "FunctionName": f"payment-processor-{env}",
            "MemorySize": p.processor_memory_mb,
            "Timeout": p.processor_timeout_s,
        },
    )


def _environment_variables(template: dict[str, Any]) -> list[Any]:
    """The ENVIRONMENT variable of each payment function (the functions keep no list of valid names)."""
    found = [
        resource["Properties"].get("Environment", {}).get("Variables", {}).get("ENVIRONMENT")
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Handler") in PAYMENT_HANDLERS
    ]
    assert len(found) == len(PAYMENT_HANDLERS), found
    return found


def test_every_function_is_told_the_profile_it_was_built_from(
    env_template: tuple[str, Template], all_templates: dict[str, dict[str, Any]], product_template: dict[str, Any]
) -> None:
    env, template = env_template
    assert _environment_variables(template.to_json()) == [env, env]
    direct = next(t for path, t in all_templates.items() if path.startswith("PaymentStack-"))
    assert all(value in ENVIRONMENT_NAMES for value in _environment_variables(direct))
    # A catalog launch: the profile parameter, which CloudFormation restricts to the profile names.
    assert _environment_variables(product_template) == [{"Ref": PROFILE}, {"Ref": PROFILE}]
    assert product_template["Parameters"][PROFILE]["AllowedValues"] == list(ENVIRONMENT_NAMES)


def test_spec_values_by_environment(stage_templates: dict[str, Template]) -> None:
    stage_templates["prod"].has_resource_properties(
        "AWS::Lambda::Function", {"FunctionName": "payment-api-prod", "MemorySize": 1024}
    )
    stage_templates["dev"].has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Rules": Match.array_with(
                [Match.object_like({"Statement": {"RateBasedStatement": Match.object_like({"Limit": 500})}})]
            )
        },
    )
    for env in ("dev", "staging", "prod"):
        stage_templates[env].has_resource_properties("AWS::ApiGateway::Stage", {"StageName": env})


def test_fleet_capacity(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    fleet = PROFILES[env].fleet
    template.has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup",
        {"MinSize": str(fleet.min), "MaxSize": str(fleet.max), "DesiredCapacity": str(fleet.desired)},
    )


def test_alarm_thresholds(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    a = PROFILES[env].alarms
    expected = {
        "api-lambda-errors": a.lambda_errors,
        "processor-lambda-errors": a.lambda_errors,
        "dynamodb-throttles": a.dynamodb_throttles,
        "api-4xx": a.api_4xx,
        "api-5xx": a.api_5xx,
        "fleet-cpu": a.ec2_cpu_percent,
        "dynamodb-getitem-latency": a.dynamodb_latency_ms,
        "dynamodb-putitem-latency": a.dynamodb_latency_ms,
        "dlq-messages": a.dlq_messages,
        "release-errors": PROFILES[env].release.rollback_errors,
        "release-latency": PROFILES[env].release.rollback_latency_p99_ms,
    }
    assert {what: _alarm_threshold(template, env, what) for what in expected} == expected
    assert len(template.find_resources("AWS::CloudWatch::Alarm")) == len(expected)


def test_waf_rate_limit_and_stage(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    p = PROFILES[env]
    template.has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Rules": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Name": "RateLimitPerIp",
                            "Statement": {
                                "RateBasedStatement": Match.object_like(
                                    {"Limit": p.waf_rate_limit, "AggregateKeyType": "IP"}
                                )
                            },
                        }
                    )
                ]
            )
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": p.api_stage_name,
            "MethodSettings": Match.array_with(
                [
                    Match.object_like(
                        {
                            "ThrottlingRateLimit": p.api_throttling.rate_limit,
                            "ThrottlingBurstLimit": p.api_throttling.burst_limit,
                        }
                    )
                ]
            ),
        },
    )


def test_removal_policy_and_deletion_protection(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    policy = "Delete" if PROFILES[env].removal == "destroy" else "RetainExceptOnCreate"
    for resource_type in ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SQS::Queue"):
        for resource in template.find_resources(resource_type).values():
            assert resource["DeletionPolicy"] == policy, (env, resource_type)
    for table in template.find_resources("AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is (env == "prod")


def test_retention_visibility_and_sampling(env_template: tuple[str, Template]) -> None:
    env, template = env_template
    p = PROFILES[env]
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == p.log_retention_days
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": f"payment-events-{env}",
            "VisibilityTimeout": p.event_queue_visibility_timeout_s,
            "RedrivePolicy": Match.object_like({"maxReceiveCount": p.dlq_max_receive_count}),
        },
    )
    template.has_resource_properties(
        "AWS::XRay::SamplingRule", {"SamplingRule": Match.object_like({"FixedRate": p.xray_sampling_rate})}
    )
    assert len(template.find_resources("AWS::EC2::NatGateway")) == p.nat_gateways
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketName": Match.any_value(),
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"Id": "KeepAuditTrail", "ExpirationInDays": p.audit_retention_days})]
            },
        },
    )
