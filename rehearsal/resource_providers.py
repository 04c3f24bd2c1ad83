"""CloudFormation providers the harness adds for resource types moto 5.2.5 serves through its API but has no
CloudFormation model for (shims.SHIMS says which, README "The moto shims" too).

Each provider does what CloudFormation does for the type, through moto's own operations, with the
template's properties: nothing is read back from the template afterwards, so a smoke check of such a
resource reads what the emulator holds. Every resource made here is recorded as "provided by the harness"
(never silent) and undone through the same API when its stack is deleted.

Importing this module imports moto: only moto_patches imports it, once MOTO_ACCOUNT_ID is set.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from moto.apigateway.exceptions import NotFoundException
from moto.apigateway.models import apigateway_backends
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing
from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
from moto.s3.exceptions import S3ClientError
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition
from moto.wafv2.exceptions import WAFNonexistentItemException
from moto.wafv2.models import wafv2_backends

from rehearsal import service_catalog
from rehearsal.shims import HarnessResource


def is_true(value: Any) -> bool:
    """A CloudFormation boolean: true, or the string 'true' (a parameter or a mapping value)."""
    return value is True or str(value).lower() == "true"


def without_no_values(value: Any) -> Any:
    """CloudFormation drops an `Fn::If` branch that is `AWS::NoValue` from a list; moto leaves null there."""
    if isinstance(value, list):
        return [without_no_values(item) for item in value if item is not None]
    if isinstance(value, dict):
        return {key: without_no_values(item) for key, item in value.items()}
    return value


def _referenced(value: Any) -> set[str]:
    """Logical ids a template value refers to with Ref or Fn::GetAtt."""
    if isinstance(value, list):
        return set().union(*(_referenced(item) for item in value))
    if not isinstance(value, dict):
        return set()
    found = set()
    if isinstance(value.get("Ref"), str):
        found.add(value["Ref"])
    attribute = value.get("Fn::GetAtt")
    if isinstance(attribute, list) and attribute:
        found.add(str(attribute[0]))
    return found.union(*(_referenced(item) for item in value.values()))


def _properties(resource_json: dict[str, Any], resources_map: Any) -> dict[str, Any]:
    """The resolved properties. moto creates a referenced resource when a reference is resolved, without its
    DependsOn (a Deployment before the methods it depends on: 'The REST API doesn't contain any methods'), so
    those are created first, as CloudFormation orders them; an `AWS::NoValue` list item is dropped."""
    properties = resource_json.get("Properties", {})
    templates = resources_map._resource_json_map  # moto's logical id -> resource JSON
    for logical_id in sorted(_referenced(properties) & set(templates)):
        depends_on = templates[logical_id].get("DependsOn", [])
        for dependency in [depends_on] if isinstance(depends_on, str) else depends_on:
            resources_map.__getitem__(dependency)  # moto's ResourceMap creates a resource on first access
    return without_no_values(parsing.clean_json(properties, resources_map))


# --- Lambda and CloudWatch --------------------------------------------------------------------------------


def _create_lambda_alias(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    properties = resource_json.get("Properties", {})
    function_name = parsing.clean_json(properties["FunctionName"], resources_map)
    version = properties["FunctionVersion"]
    if isinstance(version, dict) and "Fn::GetAtt" in version:  # moto's LambdaVersion has no GetAtt support
        version = getattr(resources_map[version["Fn::GetAtt"][0]], "version", None)
    else:
        version = parsing.clean_json(version, resources_map)
    alias = lambda_backend(account_id, region_name).create_alias(
        name=properties["Name"],
        function_name=function_name,
        function_version=str(version),
        description=properties.get("Description", ""),
        routing_config=properties.get("RoutingConfig"),
    )
    return HarnessResource(logical_id, resource_json["Type"], alias.arn, {"AliasArn": alias.arn})


def _metric_data_queries(metrics: list[dict[str, Any]]) -> list[MetricDataQuery] | None:
    """CloudFormation's `Metrics` as PutMetricAlarm's `Metrics` parameter (the shapes are the same)."""
    queries = []
    for metric in metrics:
        stat = metric.get("MetricStat")
        metric_stat = None
        if stat:
            dimensions = [Dimension(name=d["Name"], value=d["Value"]) for d in stat["Metric"].get("Dimensions", [])]
            metric_stat = MetricStat(
                metric=Metric(stat["Metric"]["MetricName"], stat["Metric"].get("Namespace"), dimensions),
                period=stat.get("Period"),
                stat=stat.get("Stat"),
                unit=stat.get("Unit"),
            )
        queries.append(
            MetricDataQuery(
                # moto annotates all four `str`, but its own PutMetricAlarm handler passes None when absent.
                query_id=metric["Id"],  # required by CloudFormation
                label=metric.get("Label"),  # type: ignore[arg-type]  # optional in CloudFormation and in moto
                period=metric.get("Period"),  # type: ignore[arg-type]  # optional in CloudFormation and in moto
                return_data=metric.get("ReturnData"),  # type: ignore[arg-type]  # optional in both
                expression=metric.get("Expression"),
                metric_stat=metric_stat,
            )
        )
    return queries or None


def _create_cloudwatch_alarm(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    """What CloudFormation's AWS::CloudWatch::Alarm does: one PutMetricAlarm with the template's properties."""
    p = parsing.clean_json(resource_json.get("Properties", {}), resources_map)  # Any: moto's optional args
    alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
        name=p.get("AlarmName") or logical_id,
        namespace=p.get("Namespace"),
        metric_name=p.get("MetricName"),
        metric_data_queries=_metric_data_queries(p.get("Metrics", [])),
        comparison_operator=p["ComparisonOperator"],
        evaluation_periods=int(p["EvaluationPeriods"]),
        datapoints_to_alarm=p.get("DatapointsToAlarm"),
        period=p.get("Period"),
        threshold=float(p["Threshold"]) if "Threshold" in p else None,  # type: ignore[arg-type]  # None: metric-math
        statistic=p.get("Statistic"),
        extended_statistic=p.get("ExtendedStatistic"),
        description=p.get("AlarmDescription"),
        dimensions=p.get("Dimensions", []),
        alarm_actions=p.get("AlarmActions", []),
        ok_actions=p.get("OKActions", []),
        insufficient_data_actions=p.get("InsufficientDataActions", []),
        unit=p.get("Unit"),
        actions_enabled=is_true(p.get("ActionsEnabled", True)),
        treat_missing_data=p.get("TreatMissingData"),
        evaluate_low_sample_count_percentile=p.get("EvaluateLowSampleCountPercentile"),
        threshold_metric_id=p.get("ThresholdMetricId"),
    )
    return HarnessResource(logical_id, resource_json["Type"], alarm.name, {"Arn": alarm.alarm_arn})


# --- API Gateway stage -----------------------------------------------------------------------------------

# CloudFormation's MethodSetting properties as UpdateStage's patch paths (/{resource path}/{method}/<path>).
_METHOD_SETTING_PATHS = {
    "CacheDataEncrypted": "caching/dataEncrypted",
    "CacheTtlInSeconds": "caching/ttlInSeconds",
    "CachingEnabled": "caching/enabled",
    "DataTraceEnabled": "logging/dataTrace",
    "LoggingLevel": "logging/loglevel",
    "MetricsEnabled": "metrics/enabled",
    "ThrottlingBurstLimit": "throttling/burstLimit",
    "ThrottlingRateLimit": "throttling/rateLimit",
}


def _patch_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def stage_patch_operations(properties: dict[str, Any]) -> list[dict[str, str]]:
    """UpdateStage's patch operations for a stage's MethodSettings and AccessLogSetting, as CloudFormation
    applies them after CreateStage (its ResourcePath is already encoded: '/*', '/~1payments')."""
    operations = []
    for setting in properties.get("MethodSettings") or []:
        prefix = f"{setting.get('ResourcePath', '/*')}/{setting.get('HttpMethod', '*')}"
        for key, path in _METHOD_SETTING_PATHS.items():
            if key in setting:
                operations.append({"op": "replace", "path": f"{prefix}/{path}", "value": _patch_value(setting[key])})
    access_log = properties.get("AccessLogSetting") or {}
    for key, path in (("DestinationArn", "destinationArn"), ("Format", "format")):
        if key in access_log:
            operations.append({"op": "replace", "path": f"/accessLogSettings/{path}", "value": str(access_log[key])})
    return operations


def _create_api_stage(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    """AWS::ApiGateway::Stage: CreateStage, then UpdateStage with its method settings and access logging."""
    p = _properties(resource_json, resources_map)
    backend = apigateway_backends[account_id][region_name]
    api_id, name = str(p["RestApiId"]), str(p["StageName"])
    deployment = p.get("DeploymentId")  # moto's Deployment has no physical id: Ref yields the model
    backend.create_stage(
        api_id,
        name,
        str(getattr(deployment, "id", deployment)),
        variables=p.get("Variables"),
        description=p.get("Description", ""),
        cacheClusterEnabled=is_true(p["CacheClusterEnabled"]) if "CacheClusterEnabled" in p else None,
        cacheClusterSize=p.get("CacheClusterSize"),
        tags={t["Key"]: t["Value"] for t in p.get("Tags", [])} or None,
        tracing_enabled=is_true(p["TracingEnabled"]) if "TracingEnabled" in p else None,
    )
    operations = stage_patch_operations(p)
    if operations:
        backend.update_stage(api_id, name, operations)

    def delete() -> None:
        with contextlib.suppress(NotFoundException):  # the REST API went first
            backend.delete_stage(api_id, name)

    return HarnessResource(logical_id, resource_json["Type"], name, {}, on_delete=delete)


# --- WAFv2 -----------------------------------------------------------------------------------------------


def _rules_as_api(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules as CreateWebACL takes them: CloudFormation passes a rate limit from a mapping as the
    schema's integer (moto would keep the string)."""
    converted = json.loads(json.dumps(rules))
    for rule in converted:
        rate = rule.get("Statement", {}).get("RateBasedStatement")
        if rate is not None and isinstance(rate.get("Limit"), str) and rate["Limit"].isdigit():
            rate["Limit"] = int(rate["Limit"])
    return converted


def _create_web_acl(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    """AWS::WAFv2::WebACL: CreateWebACL with the template's rules, default action and visibility."""
    p = _properties(resource_json, resources_map)
    backend = wafv2_backends[account_id][region_name if p["Scope"] == "REGIONAL" else "global"]
    acl = backend.create_web_acl(
        p["Name"],
        p["VisibilityConfig"],
        p["DefaultAction"],
        p["Scope"],
        p.get("Description"),  # type: ignore[arg-type]  # optional in CloudFormation; moto's handler passes None too
        p.get("Tags", []),
        _rules_as_api(p.get("Rules", [])),
        p.get("AssociationConfig"),
        p.get("CaptchaConfig"),
        p.get("ChallengeConfig"),
        p.get("CustomResponseBodies"),
        p.get("TokenDomains"),
    )

    def delete() -> None:
        current = backend.wacls.get(acl.arn)
        if current is not None:  # its lock token changes with every update
            backend.delete_web_acl(acl.name, p["Scope"], acl.id, current.lock_token)

    attributes = {"Arn": acl.arn, "Id": acl.id, "Capacity": str(acl.capacity), "LabelNamespace": acl.label_namespace}
    return HarnessResource(
        logical_id, resource_json["Type"], f"{acl.name}|{acl.id}|{p['Scope']}", attributes, on_delete=delete
    )


def _create_web_acl_association(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    """AWS::WAFv2::WebACLAssociation: AssociateWebACL (moto also marks an API stage with the ACL)."""
    p = _properties(resource_json, resources_map)
    backend = wafv2_backends[account_id][region_name]
    resource_arn = str(p["ResourceArn"])
    try:
        backend.associate_web_acl(str(p["WebACLArn"]), resource_arn)
    except WAFNonexistentItemException:
        raise ValueError(f"{logical_id}: web ACL {p['WebACLArn']} does not exist in the emulator") from None

    def delete() -> None:
        backend.disassociate_web_acl(resource_arn)

    return HarnessResource(logical_id, resource_json["Type"], f"{p['WebACLArn']}|{resource_arn}", {}, on_delete=delete)


# --- S3 bucket policy ------------------------------------------------------------------------------------


def _create_bucket_policy(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> HarnessResource:
    """AWS::S3::BucketPolicy: PutBucketPolicy with the template's document (moto keeps it; the shim
    's3-bucket-policy-not-evaluated' says why it is not evaluated)."""
    p = _properties(resource_json, resources_map)
    backend = s3_backends[account_id][get_partition(region_name)]
    bucket = str(p["Bucket"])
    backend.put_bucket_policy(bucket, json.dumps(p["PolicyDocument"]).encode())

    def delete() -> None:
        with contextlib.suppress(S3ClientError):  # the bucket went first
            backend.delete_bucket_policy(bucket)

    return HarnessResource(logical_id, resource_json["Type"], bucket, {}, on_delete=delete)


# Resource types moto has a service API for but no CloudFormation provider, where a placeholder would
# break the deploy or hide what CloudFormation would create; the harness creates them through that API.
PROVIDERS: dict[str, Callable[..., HarnessResource]] = {
    "AWS::Lambda::Alias": _create_lambda_alias,
    "AWS::CloudWatch::Alarm": _create_cloudwatch_alarm,
    "AWS::ApiGateway::Stage": _create_api_stage,
    "AWS::WAFv2::WebACL": _create_web_acl,
    "AWS::WAFv2::WebACLAssociation": _create_web_acl_association,
    "AWS::S3::BucketPolicy": _create_bucket_policy,
    **service_catalog.CFN_PROVIDERS,
}
