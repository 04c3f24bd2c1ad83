"""The moto patches behind `shims.SHIMS` (moto 5.2.5); see shims.py for what each patch fixes and why.

Importing this module imports moto: the emulator imports it only once MOTO_ACCOUNT_ID is set."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.cloudformation import parsing
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.events.models import EventBus
from moto.iam.models import AWSManagedPolicy, Role, iam_backends
from moto.kms.models import Key
from moto.logs.models import LogGroup
from moto.s3.models import FakeBucket, s3_backends
from moto.sqs.models import Queue
from moto.utilities.utils import get_partition

from rehearsal import service_catalog
from rehearsal.iam import aws_managed_policies
from rehearsal.resource_providers import PROVIDERS, is_true, without_no_values
from rehearsal.shims import (
    CUSTOM_RESOURCE_REASON,
    MOTO_VERSION,
    NotEmulated,
    SkippedResource,
    SkipRecorder,
    is_custom_resource,
)

_applied: SkipRecorder | None = None
_apply_lock = threading.Lock()


def apply(recorder: SkipRecorder | None = None) -> SkipRecorder:
    """Apply every shim once per process (idempotent); returns the process-wide skip recorder."""
    global _applied  # noqa: PLW0603 - one set of patches per process, like moto's own backends
    with _apply_lock:
        if _applied is None:
            _applied = recorder or SkipRecorder()
            _apply_all(_applied)
        return _applied


def _apply_all(recorder: SkipRecorder) -> None:
    for patch in (
        _patch_validate_outputs,
        _patch_kms_key,
        _patch_event_bus,
        _patch_dynamodb_table,
        _patch_s3_bucket,
        _patch_s3_bucket_policy_evaluation,
        _patch_log_group,
        _patch_iam_role,
        _patch_lambda_function,
        _patch_sqs_add_message,
        _patch_route_table_delete,
        _patch_missing_change_set,
        _patch_previous_parameter_values,
    ):
        patch()
    service_catalog.install()
    _patch_skipped_resources(recorder)


def _wrap_classmethod(cls: type, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    original = getattr(cls, name).__func__
    setattr(cls, name, classmethod(make(original)))


def _patch_validate_outputs() -> None:
    original = parsing.ResourceMap.validate_outputs

    def validate_outputs(self: Any) -> None:
        outputs = self._template.get("Outputs") or {}
        unsupported = {
            name: value
            for name, value in outputs.items()
            if isinstance(value.get("Value"), dict)
            and "Fn::GetAtt" in value["Value"]
            and parsing.resource_class_from_type(
                (self._resource_json_map.get(value["Value"]["Fn::GetAtt"][0]) or {}).get("Type", "")
            )
            is None
        }
        if not unsupported:
            original(self)
            return
        self._template["Outputs"] = {k: v for k, v in outputs.items() if k not in unsupported}
        try:
            original(self)
        finally:
            self._template["Outputs"] = outputs

    parsing.ResourceMap.validate_outputs = validate_outputs  # type: ignore[method-assign]  # the shim replaces it


def _patch_kms_key() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            properties = cloudformation_json.setdefault("Properties", {})
            properties["Tags"] = [
                {"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag
                for tag in properties.get("Tags", [])
            ]
            if isinstance(properties.get("KeyPolicy"), dict):
                properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
            return original(cls, resource_name, cloudformation_json, *args, **kwargs)

        return create

    _wrap_classmethod(Key, "create_from_cloudformation_json", make)


def _patch_event_bus() -> None:
    if not hasattr(EventBus, "physical_resource_id"):
        EventBus.physical_resource_id = property(lambda self: self.name)  # type: ignore[attr-defined]  # moto lacks it


def _patch_dynamodb_table() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = cloudformation_json.setdefault("Properties", {})
            sse = properties.get("SSESpecification")
            if isinstance(sse, dict) and "SSEEnabled" in sse:
                api_shape = {"Enabled": is_true(sse["SSEEnabled"])}
                for key in ("SSEType", "KMSMasterKeyId"):
                    if key in sse:
                        api_shape[key] = sse[key]
                properties["SSESpecification"] = api_shape
            table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            backend = dynamodb_backends[account_id][region_name]
            pitr = properties.get("PointInTimeRecoverySpecification") or {}
            if "PointInTimeRecoveryEnabled" in pitr:
                backend.update_continuous_backups(
                    table.name, {"PointInTimeRecoveryEnabled": is_true(pitr["PointInTimeRecoveryEnabled"])}
                )
            ttl = properties.get("TimeToLiveSpecification") or {}
            if is_true(ttl.get("Enabled")) and ttl.get("AttributeName"):
                backend.update_time_to_live(table.name, {"Enabled": True, "AttributeName": ttl["AttributeName"]})
            return table

        return create

    _wrap_classmethod(Table, "create_from_cloudformation_json", make)


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the shape moto's PutBucketLifecycleConfiguration parser produces."""
    api: dict[str, Any] = {"ID": rule.get("Id", ""), "Status": rule.get("Status", "Enabled")}
    api["Filter"] = {"Prefix": rule.get("Prefix", "")}
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": str(rule["ExpirationInDays"])}
    if rule.get("Transitions"):
        api["Transition"] = [
            {"Days": str(t["TransitionInDays"]), "StorageClass": t["StorageClass"]}
            for t in rule["Transitions"]
            if "TransitionInDays" in t
        ]
    noncurrent = rule.get("NoncurrentVersionExpiration") or {}
    days = noncurrent.get("NoncurrentDays", rule.get("NoncurrentVersionExpirationInDays"))
    if days is not None:
        api["NoncurrentVersionExpiration"] = {"NoncurrentDays": str(days)}
    return api


def _patch_s3_bucket() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
            backend = s3_backends[account_id][get_partition(region_name)]
            properties = cloudformation_json.get("Properties", {})
            versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
            if versioning:
                backend.put_bucket_versioning(bucket.name, versioning)
            block = properties.get("PublicAccessBlockConfiguration")
            if block:
                backend.put_public_access_block(bucket.name, {k: str(is_true(v)).lower() for k, v in block.items()})
            rules = (properties.get("LifecycleConfiguration") or {}).get("Rules")
            if rules:
                backend.put_bucket_lifecycle_configuration(bucket.name, [_lifecycle_rule(r) for r in rules])
            return bucket

        return create

    _wrap_classmethod(FakeBucket, "create_from_cloudformation_json", make)


def _patch_s3_bucket_policy_evaluation() -> None:
    from moto.iam.access_control import PermissionResult  # noqa: PLC0415 - after MOTO_ACCOUNT_ID, like the backends

    def get_permission(self: Any, action: str, resource: str) -> Any:  # noqa: ARG001 - moto's signature
        return PermissionResult.NEUTRAL

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]  # the shim replaces moto's method


def _patch_log_group() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            properties = cloudformation_json.setdefault("Properties", {})
            if "KmsKeyId" in properties:
                properties["kmsKeyId"] = properties.pop("KmsKeyId")
            retention = properties.get("RetentionInDays")
            if isinstance(retention, str) and retention.isdigit():  # from a mapping (the catalog's profile knobs)
                properties["RetentionInDays"] = int(retention)
            return original(cls, resource_name, cloudformation_json, *args, **kwargs)

        return create

    _wrap_classmethod(LogGroup, "create_from_cloudformation_json", make)

    original_attribute = LogGroup.get_cfn_attribute

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        value = original_attribute(self, attribute_name)
        return f"{value}:*" if attribute_name == "Arn" and not str(value).endswith(":*") else value

    LogGroup.get_cfn_attribute = get_cfn_attribute  # type: ignore[method-assign]  # the shim


def _attach_managed_policy(role: Any, policy_arn: str) -> None:
    """Attach as CloudFormation does; an AWS managed policy is loaded from moto's copy of them on first use
    (moto loads none of them unless told to load all, which costs seconds per account)."""
    backend = iam_backends[role.account_id][role.partition]
    policy = backend.managed_policies.get(policy_arn)
    if policy is None and policy_arn.startswith(f"arn:{role.partition}:iam::aws:policy/"):
        data = aws_managed_policies().get(policy_arn.rsplit("/", 1)[-1])
        if data is not None:
            policy = AWSManagedPolicy.from_data(policy_arn.rsplit("/", 1)[-1], role.account_id, "us-east-1", data)
            backend.managed_policies[policy.arn] = policy
    if policy is None:
        raise ValueError(f"managed policy {policy_arn} of role {role.name} does not exist (in moto {MOTO_VERSION})")
    policy.attach_to(role)


def _patch_iam_role() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            properties = cloudformation_json.setdefault("Properties", {})
            for key in ("AssumeRolePolicyDocument", "Policies"):
                if key in properties:
                    properties[key] = without_no_values(properties[key])
            role = original(cls, resource_name, cloudformation_json, *args, **kwargs)
            for policy_arn in properties.get("ManagedPolicyArns") or []:
                _attach_managed_policy(role, str(policy_arn))
            return role

        return create

    _wrap_classmethod(Role, "create_from_cloudformation_json", make)

    def make_delete(original: Callable[..., Any]) -> Callable[..., Any]:
        def delete(
            cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
        ) -> Any:
            # CloudFormation detaches the managed policies it attached before deleting the role.
            for role in iam_backends[account_id][get_partition(region_name)].roles.values():
                if role.name == resource_name:
                    for policy in list(role.managed_policies.values()):
                        policy.detach_from(role)
            return original(cls, resource_name, cloudformation_json, account_id, region_name)

        return delete

    _wrap_classmethod(Role, "delete_from_cloudformation_json", make_delete)


def _patch_lambda_function() -> None:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def create(
            cls: type, resource_name: str, cloudformation_json: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            function = original(cls, resource_name, cloudformation_json, *args, **kwargs)
            tracing = cloudformation_json.get("Properties", {}).get("TracingConfig")
            if isinstance(tracing, dict) and tracing.get("Mode"):
                function.tracing_config = {"Mode": tracing["Mode"]}
            return function

        return create

    _wrap_classmethod(LambdaFunction, "create_from_cloudformation_json", make)


def _patch_sqs_add_message() -> None:
    original = Queue.add_message
    lock = threading.Lock()

    def add_message(self: Any, message: Any) -> None:
        with lock:
            mappings = self.lambda_event_source_mappings
            self.lambda_event_source_mappings = {}
            try:
                original(self, message)
            finally:
                self.lambda_event_source_mappings = mappings

    Queue.add_message = add_message  # type: ignore[method-assign]  # the shim replaces moto's method


def _patch_route_table_delete() -> None:
    from moto.ec2.models import ec2_backends  # noqa: PLC0415 - after MOTO_ACCOUNT_ID, like the other backends
    from moto.ec2.models.route_tables import RouteTable  # noqa: PLC0415

    def delete_from_cloudformation_json(
        _cls: type, resource_name: str, _cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = ec2_backends[account_id][region_name]
        table = backend.route_tables.get(resource_name)
        if table is not None:
            table._associations.clear()  # the associations' own resources are deleted with the stack
            backend.delete_route_table(resource_name)

    RouteTable.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)  # type: ignore[method-assign,assignment]  # moto's model


def _patch_missing_change_set() -> None:
    from moto.cloudformation.exceptions import CloudFormationError  # noqa: PLC0415
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    class ChangeSetNotFoundError(CloudFormationError):
        code = "ChangeSetNotFoundException"  # the model's shape: error code ChangeSetNotFound, HTTP 404

    original_delete, original_describe = (
        CloudFormationBackend.delete_change_set,
        CloudFormationBackend.describe_change_set,
    )

    def known(backend: Any, change_set_name: str) -> bool:
        return change_set_name in backend.change_sets or any(
            change_set.change_set_name == change_set_name for change_set in backend.change_sets.values()
        )

    def delete_change_set(self: Any, change_set_name: str) -> None:
        if known(self, change_set_name):
            original_delete(self, change_set_name)

    def describe_change_set(self: Any, change_set_name: str) -> Any:
        if not known(self, change_set_name):
            raise ChangeSetNotFoundError(f"ChangeSet [{change_set_name}] does not exist")
        return original_describe(self, change_set_name)

    original_execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.change_sets.get(change_set_name) or next(
            (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
        )
        original_execute(self, change_set_name, stack_name)
        if change_set is not None:
            # moto sets the stack's template text but keeps the outputs of the template it had before (none for
            # a stack created by a change set, such as CDKToolkit), so DescribeStacks listed no outputs.
            stack = change_set.stack
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.output_map = stack._create_output_map()

    CloudFormationBackend.delete_change_set = delete_change_set  # type: ignore[method-assign]  # moto's backend
    CloudFormationBackend.describe_change_set = describe_change_set  # type: ignore[method-assign]  # moto's backend
    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]  # moto's backend


def _patch_previous_parameter_values() -> None:
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    original = CloudFormationBackend._resolve_update_parameters

    def resolve_update_parameters(self: Any, instance: Any, incoming_params: list[dict[str, str]]) -> dict[str, str]:
        # A parameter that kept its template default has no stored value in moto: its previous value is the
        # default, which moto applies itself when the parameter is left out.
        kept = [
            p
            for p in incoming_params
            if not (p.get("UsePreviousValue", False) and p["ParameterKey"] not in instance.parameters)
        ]
        return original(self, instance, kept)

    CloudFormationBackend._resolve_update_parameters = resolve_update_parameters  # type: ignore[method-assign]  # moto's backend
    original_change_set = CloudFormationBackend.create_change_set

    def create_change_set(
        self: Any, stack_name: str, change_set_name: str, template: str, parameters: Any, *args: Any, **kwargs: Any
    ) -> Any:
        # moto's CreateChangeSet substitutes UsePreviousValue with the stack's *resolved* value; for an SSM
        # parameter type (BootstrapVersion) that is the SSM value, which moto then looks up as a parameter name
        # (AttributeError, a 500). The previous value is what the stack was given: its input, else the default.
        stack = next((s for s in self.stacks.values() if s.name == stack_name), None)
        if stack is not None and isinstance(parameters, dict):
            slots = stack.template_dict.get("Parameters", {}) if isinstance(stack.template_dict, dict) else {}
            for key in list(parameters):
                ssm = str(slots.get(key, {}).get("Type", "")).startswith("AWS::SSM::Parameter::")
                if ssm and parameters[key] == stack.stack_parameters.get(key):
                    if key in stack.parameters:
                        parameters[key] = stack.parameters[key]
                    else:
                        del parameters[key]
        return original_change_set(self, stack_name, change_set_name, template, parameters, *args, **kwargs)

    CloudFormationBackend.create_change_set = create_change_set  # type: ignore[method-assign]  # moto's backend


def _patch_skipped_resources(recorder: SkipRecorder) -> None:
    original = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        resource_type = resource_json["Type"]
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return None  # not created in AWS either
        custom = service_catalog.CUSTOM_RESOURCE_PROVIDERS.get(resource_type)
        if custom is not None:
            provided = custom(logical_id, resource_json, resources_map, account_id, region_name)
            recorder.record_provided(SkippedResource(resources_map.stack_id, logical_id, resource_type))
            return provided
        if is_custom_resource(resource_type):
            recorder.record(SkippedResource(resources_map.stack_id, logical_id, resource_type, CUSTOM_RESOURCE_REASON))
            return NotEmulated(
                logical_id, resource_type, partition=get_partition(region_name), account=account_id, region=region_name
            )
        resource = original(logical_id, resource_json, resources_map, account_id, region_name)
        if resource is not None:
            return resource
        provider = PROVIDERS.get(resource_type)
        if provider is not None:
            provided = provider(logical_id, resource_json, resources_map, account_id, region_name)
            recorder.record_provided(SkippedResource(resources_map.stack_id, logical_id, resource_type))
            return provided
        recorder.record(SkippedResource(resources_map.stack_id, logical_id, resource_type))
        return NotEmulated(
            logical_id, resource_type, partition=get_partition(region_name), account=account_id, region=region_name
        )

    parsing.parse_and_create_resource = parse_and_create_resource
