"""Fine-grained template assertions, one group per construct (service) of `PaymentService`."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template


def _props(template: Template, resource_type: str, **match: Any) -> dict[str, Any]:
    found = template.find_resources(resource_type, {"Properties": match} if match else None)
    assert len(found) == 1, (resource_type, match, len(found))
    return next(iter(found.values()))["Properties"]


def test_kms_one_rotating_key_with_alias(dev: Template) -> None:
    dev.resource_count_is("AWS::KMS::Key", 1)
    dev.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    dev.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/payment-dev"})
    statements = json.dumps(_props(dev, "AWS::KMS::Key")["KeyPolicy"])
    for service in ("events.amazonaws.com", "cloudwatch.amazonaws.com", "costalerts.amazonaws.com"):
        assert service in statements
    assert "kms:EncryptionContext:aws:logs:arn" in statements


def test_dynamodb_tables_on_demand_pitr_and_cmk(dev: Template) -> None:
    key = {"Fn::GetAtt": [Match.string_like_regexp("Keys"), "Arn"]}
    for name, pk in (("payments-dev", "payment_id"), ("payment-idempotency-dev", "id")):
        dev.has_resource_properties(
            "AWS::DynamoDB::Table",
            {
                "TableName": name,
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}],
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": key},
            },
        )
    dev.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "payment-idempotency-dev",
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_s3_audit_bucket(dev: Template) -> None:
    audit = _props(
        dev,
        "AWS::S3::Bucket",
        BucketName={"Fn::Join": ["", Match.array_with([Match.string_like_regexp("payment-audit-logs-dev-")])]},
    )
    assert audit["VersioningConfiguration"] == {"Status": "Enabled"}
    sse = audit["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms" and sse["BucketKeyEnabled"]
    assert audit["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert audit["LoggingConfiguration"]["LogFilePrefix"] == "audit-bucket/"
    assert audit["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] >= 365
    assert audit["BucketName"]["Fn::Join"][1] == [
        "payment-audit-logs-dev-",
        {"Ref": "AWS::AccountId"},
        "-",
        {"Ref": "AWS::Region"},
    ]


def test_s3_buckets_deny_plain_http(dev: Template) -> None:
    policies = dev.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2
    for policy in policies.values():
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )


def test_sns_topics_encrypted_with_environment_in_display_name(dev: Template) -> None:
    for purpose in ("Operations", "Security", "Cost"):
        dev.has_resource_properties(
            "AWS::SNS::Topic",
            {
                "DisplayName": f"Payment Processing {purpose} Alerts (DEV)",
                "TopicName": f"payment-{purpose.lower()}-alerts-dev",
                "KmsMasterKeyId": Match.any_value(),
            },
        )


def test_sns_cost_topic_lets_cost_alerts_publish_for_this_account_only(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "costalerts.amazonaws.com"},
                                "Action": "sns:Publish",
                                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_sqs_queue_with_dead_letter_queue_and_kms(dev: Template) -> None:
    queue = _props(dev, "AWS::SQS::Queue", QueueName="payment-events-dev")
    assert queue["VisibilityTimeout"] >= 6 * 60
    assert "KmsMasterKeyId" in queue
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]
    dlq = _props(dev, "AWS::SQS::Queue", QueueName="payment-events-dlq-dev")
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_lambda_functions_traced_python_with_powertools_layer(dev: Template) -> None:
    (layer_id,) = dev.find_resources("AWS::Lambda::LayerVersion")
    for name, handler in (("payment-api-dev", "api.handler"), ("payment-processor-dev", "processor.handler")):
        props = _props(dev, "AWS::Lambda::Function", FunctionName=name)
        assert props["Handler"] == handler
        assert props["Runtime"].startswith("python3.") and int(props["Runtime"].split(".")[1]) >= 12
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Layers"] == [{"Ref": layer_id}]
    api_env = _props(dev, "AWS::Lambda::Function", FunctionName="payment-api-dev")["Environment"]["Variables"]
    assert set(api_env) >= {"PAYMENTS_TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "AUDIT_BUCKET_NAME", "EVENT_BUS_NAME"}
    dev.has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"FunctionResponseTypes": ["ReportBatchItemFailures"], "BatchSize": 10}
    )


def test_api_gateway_routes_validation_and_iam_auth(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::ApiGateway::Method",
        {
            "HttpMethod": "POST",
            "AuthorizationType": "AWS_IAM",
            "RequestModels": {"application/json": Match.any_value()},
            "RequestParameters": {"method.request.header.Idempotency-Key": True},
            "RequestValidatorId": Match.any_value(),
        },
    )
    dev.has_resource_properties("AWS::ApiGateway::Method", {"HttpMethod": "GET", "AuthorizationType": "AWS_IAM"})
    model = _props(dev, "AWS::ApiGateway::Model")
    assert model["Schema"]["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert model["Schema"]["additionalProperties"] is False
    assert set(model["Schema"]["required"]) == {"amount", "currency", "merchant_id", "source"}
    dev.has_resource_properties("AWS::ApiGateway::RequestValidator", {"ValidateRequestBody": True})
    dev.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse", {"ResponseType": "BAD_REQUEST_BODY", "StatusCode": "400"}
    )


def test_api_stage_traced_logged_and_throttled(dev: Template) -> None:
    stage = _props(dev, "AWS::ApiGateway::Stage")
    assert stage["TracingEnabled"] is True
    assert "DestinationArn" in stage["AccessLogSetting"]
    (settings,) = stage["MethodSettings"]
    assert settings["LoggingLevel"] == "INFO" and settings["MetricsEnabled"] is True
    assert settings["DataTraceEnabled"] is False


def test_eventbridge_bus_and_rules(dev: Template) -> None:
    dev.has_resource_properties("AWS::Events::EventBus", {"Name": "payment-events-dev"})
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": Match.any_value(),
            "EventPattern": {"source": ["payments.api"], "detail-type": ["PaymentCreated"]},
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [Match.string_like_regexp("QueuesEvents"), "Arn"]}})],
        },
    )
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.autoscaling"],
                "detail-type": ["EC2 Instance Launch Unsuccessful", "EC2 Instance Terminate Unsuccessful"],
                "detail": {"AutoScalingGroupName": [{"Ref": Match.string_like_regexp("FleetGroup")}]},
            },
            "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("TopicsOperations")}})],
        },
    )
    guardduty = {"EventPattern": {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]}}
    assert not dev.find_resources("AWS::Events::Rule", {"Properties": guardduty}), "dev owns no detector"


def test_guardduty_findings_routed_where_the_detector_is(opt_ins_template: Template) -> None:
    opt_ins_template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
            "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("TopicsSecurity")}})],
        },
    )


def test_eventbridge_may_publish_to_the_alert_topics_of_this_account_only(dev: Template) -> None:
    """The topics' policies say it once, so they do not change with the rules that are switched on."""
    for topic in ("Operations", "Security"):
        (policy,) = [
            p["Properties"]["PolicyDocument"]["Statement"]
            for p in dev.find_resources("AWS::SNS::TopicPolicy").values()
            if topic in json.dumps(p["Properties"]["Topics"])
        ]
        events = [s for s in policy if s.get("Principal") == {"Service": "events.amazonaws.com"}]
        assert len(events) == 1 and events[0]["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }, topic


def test_waf_managed_groups_association_and_logging(dev: Template) -> None:
    acl = _props(dev, "AWS::WAFv2::WebACL")
    assert acl["Scope"] == "REGIONAL"
    names = [r["Name"] for r in acl["Rules"]]
    assert names == [
        "RateLimitPerIp",
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ]
    association = _props(dev, "AWS::WAFv2::WebACLAssociation")
    assert "/stages/" in json.dumps(association["ResourceArn"])
    dev.has_resource_properties("AWS::Logs::LogGroup", {"LogGroupName": "aws-waf-logs-payment-dev"})
    logging = json.dumps(_props(dev, "AWS::WAFv2::LoggingConfiguration")["LogDestinationConfigs"])
    assert ":log-group:" in logging and "WafLogs" in logging and ":*" not in logging


def test_opt_ins_off_by_default(dev: Template) -> None:
    for resource_type in (
        "AWS::Shield::Protection",
        "AWS::GuardDuty::Detector",
        "AWS::CloudFront::Distribution",
        "AWS::SNS::Subscription",
    ):
        dev.resource_count_is(resource_type, 0)
    dev.resource_count_is("AWS::CE::AnomalyMonitor", 1)


def test_opt_ins_on(opt_ins_template: Template) -> None:
    t = opt_ins_template
    t.resource_count_is("AWS::GuardDuty::Detector", 1)
    t.resource_count_is("AWS::CloudFront::Distribution", 1)
    protection = _props(t, "AWS::Shield::Protection")
    assert "distribution/" in json.dumps(protection["ResourceArn"])
    t.has_resource_properties("AWS::CE::AnomalyMonitor", {"MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE"})
    t.resource_count_is("AWS::SNS::Subscription", 3)
    t.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "payments-oncall@example.com"}
    )


def test_cost_anomaly_custom_monitor_and_immediate_subscription(dev: Template) -> None:
    monitor = _props(dev, "AWS::CE::AnomalyMonitor")
    assert monitor["MonitorName"] == "payment-cost-anomaly-dev" and monitor["MonitorType"] == "CUSTOM"
    assert json.loads(monitor["MonitorSpecification"])["Tags"] == {
        "Key": "payment-deployment",
        "Values": ["dev"],
        "MatchOptions": ["EQUALS"],
    }
    subscription = _props(dev, "AWS::CE::AnomalySubscription")
    assert subscription["SubscriptionName"] == "payment-cost-alerts-dev"
    assert subscription["Frequency"] == "IMMEDIATE" and "Threshold" not in subscription
    assert subscription["Subscribers"][0]["Type"] == "SNS"
    expression = json.dumps(subscription["ThresholdExpression"])
    assert "ANOMALY_TOTAL_IMPACT_ABSOLUTE" in expression and "GREATER_THAN_OR_EQUAL" in expression
    assert '\\"100\\"' in expression


def test_ec2_vpc_two_azs_with_flow_logs(dev: Template) -> None:
    subnets = dev.find_resources("AWS::EC2::Subnet")
    assert sorted({s["Properties"]["AvailabilityZone"] for s in subnets.values()}) == ["us-east-1a", "us-east-1b"]
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    dev.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})


def test_auto_scaling_fleet_launch_template(dev: Template) -> None:
    data = _props(dev, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    group = _props(dev, "AWS::AutoScaling::AutoScalingGroup")
    assert "LaunchTemplate" in group and "LaunchConfigurationName" not in group
    assert all("private" in s["Ref"] for s in group["VPCZoneIdentifier"])
    dev.has_resource_properties(
        "AWS::IAM::Role",
        {
            "ManagedPolicyArns": [
                {"Fn::Join": ["", Match.array_with([":iam::aws:policy/AmazonSSMManagedInstanceCore"])]}
            ]
        },
    )


def test_cloudwatch_latency_alarm_has_operation_dimension(dev: Template) -> None:
    for operation in ("GetItem", "PutItem"):
        alarm = _props(dev, "AWS::CloudWatch::Alarm", AlarmName=f"payment-dev-dynamodb-{operation.lower()}-latency")
        assert alarm["MetricName"] == "SuccessfulRequestLatency"
        assert {"Name": "Operation", "Value": operation} in alarm["Dimensions"]
    dev.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "payment-dev"})


def test_iam_api_role_is_least_privilege(dev: Template) -> None:
    policies = dev.find_resources("AWS::IAM::Policy")
    for policy in policies.values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
            if statement.get("Resource") == "*":
                assert all(a.startswith(("xray:", "logs:")) for a in actions), statement
    api_actions = {
        a
        for p in policies.values()
        if "ApiRole" in json.dumps(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "s3:PutObject", "events:PutEvents"} <= (
        api_actions
    )
    assert not {a for a in api_actions if a.startswith(("sqs:", "sns:", "dynamodb:Scan", "s3:GetObject"))}


def test_xray_group_and_sampling(dev: Template) -> None:
    group = _props(dev, "AWS::XRay::Group")
    assert group["GroupName"] == "payment-dev" and group["InsightsConfiguration"]["InsightsEnabled"] is True
    dev.has_resource_properties(
        "AWS::XRay::SamplingRule", {"SamplingRule": Match.object_like({"RuleName": "payment-dev"})}
    )


def test_stack_outputs_for_smoke_tests_and_operators(stage_templates: dict[str, Template]) -> None:
    expected = {
        "ApiUrl",
        "PaymentsTableName",
        "AuditBucketName",
        "EventBusName",
        "OperationsTopicArn",
        "SecurityTopicArn",
        "CostTopicArn",
        "PaymentFunctionName",
        "ProcessorFunctionName",
        "WebAclArn",
        "FleetGroupName",
        "DashboardName",
        "Environment",
    }
    for env, template in stage_templates.items():
        outputs = template.find_outputs("*")
        assert expected <= set(outputs), env
        assert outputs["Environment"]["Value"] == env
