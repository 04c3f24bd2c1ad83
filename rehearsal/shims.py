"""Emulator-compatibility shims for moto 5.2.5, applied to the in-process moto server only.

These patch the *emulator* (moto's CloudFormation layer and two service models) so that the product's
synthesized templates deploy with the real CDK CLI; they never change the product, its templates or
the smoke checks. Each shim says what moto gets wrong and what the shim does instead. Every one of
them is also listed in the README ("The moto shims") and in each smoke report.

Two kinds:
- compatibility: moto crashes (or mis-shapes a property) on something AWS accepts. The shim makes it
  behave as CloudFormation does, through moto's own service backend.
- accounting: moto silently skips resource types it has no CloudFormation provider for. The shim puts
  a placeholder in their place (so references to them resolve) and records each one, so the rehearsal
  can report them as **not emulated** instead of letting a smoke check pass on them.

Nothing here runs against AWS: the smoke suite and the product never import this module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MOTO_VERSION = "5.2.5"
NOT_EMULATED_PREFIX = "not-emulated"


@dataclass(frozen=True)
class Shim:
    name: str
    target: str
    problem: str
    remedy: str


SHIMS: tuple[Shim, ...] = (
    Shim(
        "outputs-of-unsupported-types",
        "moto.cloudformation.parsing.ResourceMap.validate_outputs",
        "crashes with AttributeError on an output that Fn::GetAtt's a resource type moto has no provider "
        "for (our WebAclArn output of AWS::WAFv2::WebACL)",
        "validates the other outputs as before and leaves those to the resource the harness provided (the web "
        "ACL, see wafv2-web-acl-provider) or to the placeholder of the skipped resource",
    ),
    Shim(
        "kms-key-cfn-shapes",
        "moto.kms.models.Key.create_from_cloudformation_json",
        "passes CloudFormation tags {Key, Value} to a tagging service expecting {TagKey, TagValue}, and "
        "stores KeyPolicy as a dict where its API stores a JSON string (DescribeKey then fails with 500)",
        "converts the tags and serializes the key policy, as CreateKey would receive them",
    ),
    Shim(
        "event-bus-physical-id",
        "moto.events.models.EventBus",
        "has no physical_resource_id, so Ref to a bus yields the object and an AWS::Events::Rule with "
        "EventBusName: {Ref: bus} crashes",
        "physical_resource_id = the bus name (what Ref returns in AWS)",
    ),
    Shim(
        "dynamodb-table-cfn-properties",
        "moto.dynamodb.models.table.Table.create_from_cloudformation_json",
        "keeps SSESpecification in CloudFormation's shape {SSEEnabled} while DescribeTable reads the API's "
        "{Enabled} (SSE reported off), and ignores PointInTimeRecoverySpecification and "
        "TimeToLiveSpecification",
        "translates SSESpecification and applies the two specifications through moto's UpdateContinuousBackups "
        "and UpdateTimeToLive, with the template's values",
    ),
    Shim(
        "s3-bucket-cfn-properties",
        "moto.s3.models.FakeBucket.create_from_cloudformation_json",
        "ignores VersioningConfiguration, PublicAccessBlockConfiguration and LifecycleConfiguration",
        "applies them through moto's PutBucketVersioning, PutPublicAccessBlock and "
        "PutBucketLifecycleConfiguration, with the template's values",
    ),
    Shim(
        "log-group-cfn-properties",
        "moto.logs.models.LogGroup.create_from_cloudformation_json",
        "passes CloudFormation's KmsKeyId where the model reads the API's kmsKeyId (key dropped), and keeps a "
        "RetentionInDays that arrives as a string (from Fn::FindInMap) a string, so DescribeLogGroups answers '30'",
        "passes the key under the API's name and the retention as the integer CloudFormation would pass",
    ),
    Shim(
        "log-group-arn-attribute",
        "moto.logs.models.LogGroup.get_cfn_attribute",
        "Fn::GetAtt Arn of an AWS::Logs::LogGroup is 'arn:...:log-group:NAME' where CloudFormation returns "
        "'arn:...:log-group:NAME:*', so a grant on it (CDK's grantWrite) never matches a log stream once IAM "
        "is enforced",
        "returns the ARN with ':*', as CloudFormation does",
    ),
    Shim(
        "iam-role-no-value-statements",
        "moto.iam.models.Role.create_from_cloudformation_json",
        "keeps a null where an Fn::If branch is AWS::NoValue inside a list (the CDK bootstrap roles' optional "
        "trusted-accounts statement), so evaluating the trust policy raises TypeError (500) and the CDK CLI "
        "cannot assume its bootstrap roles once IAM is enforced",
        "drops the null entries from the role's trust and inline policies, as CloudFormation does",
    ),
    Shim(
        "iam-role-managed-policy-arns",
        "moto.iam.models.Role.create_from_cloudformation_json",
        "ignores ManagedPolicyArns (and loads no AWS managed policy), so the CDK deploy role lacks "
        "AWSCloudFormationReadOnlyAccess and every managed grant is missing once IAM is enforced",
        "attaches each one as CloudFormation does; an AWS managed policy comes from moto's own copy of its document",
    ),
    Shim(
        "lambda-function-tracing",
        "moto.awslambda.models.LambdaFunction.create_from_cloudformation_json",
        "passes only seven properties to CreateFunction; TracingConfig is dropped (reported PassThrough)",
        "sets the function's tracing configuration to the template's TracingConfig",
    ),
    Shim(
        "sqs-inline-lambda-invocation",
        "moto.sqs.models.Queue.add_message",
        "invokes the Lambda function of an event source mapping inline, through Docker, on every message; "
        "there is no Docker here, each failed attempt counts as a receive, and partial batch responses "
        "are not understood",
        "stores the message without the inline invocation; the rehearsal's own poller delivers it to the "
        "real handler with Lambda's semantics (batch size, partial batch failures, visibility timeout)",
    ),
    Shim(
        "lambda-alias-provider",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::Lambda::Alias)",
        "has no CloudFormation provider for AWS::Lambda::Alias, although its Lambda API has aliases; the API "
        "methods and their Lambda permissions reference the alias, and moto rejects a permission on a "
        "function it cannot find, so the deploy fails",
        "creates the alias through moto's CreateAlias with the template's name and version; it is reported "
        "as 'provided by the harness', not as skipped",
    ),
    Shim(
        "cloudwatch-alarm-provider",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::CloudWatch::Alarm)",
        "has no CloudFormation provider for AWS::CloudWatch::Alarm, although its CloudWatch API has alarms, "
        "so every alarm of the stack would be missing",
        "calls moto's PutMetricAlarm with the template's properties (the CloudFormation and API shapes are the "
        "same, math-expression alarms included), as CloudFormation does; reported as 'provided by the "
        "harness', not as skipped. Whether an alarm fires is not emulated (no metrics flow)",
    ),
    Shim(
        "api-stage-provider",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::ApiGateway::Stage)",
        "has no CloudFormation provider for AWS::ApiGateway::Stage, although its API Gateway API has stages with "
        "method settings, tracing and access logging, so the stage, its settings and every output naming it "
        "would be missing",
        "rehearsal/resource_providers.py calls moto's CreateStage (deployment, tracing, tags) and UpdateStage with "
        "the template's MethodSettings and AccessLogSetting as patch operations, as CloudFormation does; reported "
        "as 'provided by the harness'. The local gateway serves the stage's routes but does not enforce its "
        "throttling",
    ),
    Shim(
        "wafv2-web-acl-provider",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::WAFv2::WebACL, AWS::WAFv2::WebACLAssociation)",
        "has no CloudFormation provider for either type, although its WAFv2 API has web ACLs and associations",
        "calls moto's CreateWebACL with the template's rules, default action and visibility (a rate limit from a "
        "mapping as the schema's integer), and AssociateWebACL with the template's resource ARN; reported as "
        "'provided by the harness'. Whether a rule blocks a request is not emulated: the web ACL is not in front "
        "of the local gateway",
    ),
    Shim(
        "s3-bucket-policy-provider",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::S3::BucketPolicy)",
        "has no CloudFormation provider for AWS::S3::BucketPolicy, although its S3 API stores bucket policies, "
        "so GetBucketPolicy answers NoSuchBucketPolicy for every bucket",
        "calls moto's PutBucketPolicy with the template's policy document; reported as 'provided by the harness'",
    ),
    Shim(
        "s3-bucket-policy-not-evaluated",
        "moto.s3.models.FakeBucket.get_permission",
        "evaluates a bucket policy on object requests with every condition it does not know taken as met "
        "(Bool, ForAllValues:..., ArnLike), so the TLS-only deny (aws:SecureTransport = false) and the catalog "
        "bucket's aws:CalledVia deny refuse every object request, CDK asset uploads included",
        "does not evaluate bucket policies (neutral), as no other resource policy is evaluated here (README, IAM); "
        "the policies are stored and read back as deployed",
    ),
    Shim(
        "route-table-delete",
        "moto.ec2.models.route_tables.RouteTable.delete_from_cloudformation_json",
        "has no CloudFormation delete for AWS::EC2::RouteTable: DeleteStack drops the resource from the stack "
        "but leaves the route table, so the VPC can never be deleted (DependencyViolation)",
        "deletes the route table (and what is left of its subnet associations) through moto's DeleteRouteTable, "
        "as CloudFormation does",
    ),
    Shim(
        "missing-change-set",
        "moto.cloudformation.models.CloudFormationBackend.delete_change_set, describe_change_set, execute_change_set",
        "DeleteChangeSet of a change set that does not exist fails with UnboundLocalError (a 500), and "
        "DescribeChangeSet answers ValidationError 'Stack with id ... does not exist'; CloudFormation deletes "
        "nothing and answers ChangeSetNotFound. Before each change-set deploy of an existing stack (the "
        "self-mutation of a deployed pipeline) the CDK CLI deletes `cdk-deploy-change-set` and waits until "
        "DescribeChangeSet says ChangeSetNotFound",
        "deletes the change set only when it exists, and answers ChangeSetNotFound (HTTP 404) for one that "
        "does not, as CloudFormation does; ExecuteChangeSet kept the outputs of the stack's previous template "
        "(none for a stack a change set created: `cdk bootstrap`'s CDKToolkit had no outputs, so the CDK CLI "
        "could not read BootstrapVersion from it), now those of the executed template",
    ),
    Shim(
        "previous-parameter-values",
        "moto.cloudformation.models.CloudFormationBackend._resolve_update_parameters, create_change_set",
        "UsePreviousValue, as the CDK CLI passes `BootstrapVersion` when it updates a deployed stack: UpdateStack "
        "fails with KeyError (a 500) for a parameter that kept its template default, and CreateChangeSet "
        "substitutes the *resolved* value of an SSM parameter type, which moto then looks up as a parameter "
        "name (AttributeError, a 500, when self-mutation executes the change set)",
        "the previous value is what the stack was given, as in CloudFormation: its input value, else the "
        "template default (the SSM path, resolved again)",
    ),
    Shim(
        "service-catalog",
        "moto.cloudformation.parsing.parse_and_create_resource (AWS::ServiceCatalog::*, "
        "Custom::CDKBucketDeployment); moto.servicecatalog.responses.ServiceCatalogResponse",
        "has no CloudFormation model for any AWS::ServiceCatalog::* type and 11 of ~90 Service Catalog "
        "operations (no provisioning artifacts, constraints, TagOptions, launch paths or provisioning)",
        "rehearsal/service_catalog.py provides the seven catalog types (on moto's CreatePortfolio/CreateProduct), "
        "the BucketDeployment of the product's code, and the eight operations the launch helper calls, "
        "enforcing principal associations, TagOptions, parameter constraints and immutable versions; a launch "
        "is a CloudFormation stack created by the launch role. Reported as 'provided by the harness'",
    ),
    Shim(
        "skipped-resources",
        "moto.cloudformation.parsing.parse_and_create_resource",
        "silently skips resource types it has no provider for (stack still CREATE_COMPLETE), after which any "
        "Ref/Fn::GetAtt to them fails ('references undefined resource')",
        "returns a placeholder (physical id 'not-emulated-<LogicalId>', attributes "
        "'not-emulated:<LogicalId>.<attr>', ARN-shaped for *Arn attributes so that IAM policies naming them stay "
        "valid) and records (stack, logical id, type) as skipped; the record "
        "drives the 'not emulated' accounting. Custom resources (Custom::*) get the same treatment before "
        "moto tries to invoke their Lambda function through Docker, which would leave the stack "
        "CREATE_IN_PROGRESS forever",
    ),
)


@dataclass(frozen=True)
class SkippedResource:
    stack_id: str
    logical_id: str
    resource_type: str
    reason: str = ""


def is_custom_resource(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource"


CUSTOM_RESOURCE_REASON = (
    "custom resource: moto would invoke its Lambda function through Docker and wait for its answer (forever, "
    "without Docker); not emulated, so what it would have done (e.g. copying assets) did not happen"
)


class SkipRecorder:
    """Thread-safe record, per stack id, of the resources moto skipped and those the harness provided."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._skipped: list[SkippedResource] = []
        self._provided: list[SkippedResource] = []

    def record(self, item: SkippedResource) -> None:
        with self._lock:
            if item not in self._skipped:
                self._skipped.append(item)

    def record_provided(self, item: SkippedResource) -> None:
        with self._lock:
            if item not in self._provided:
                self._provided.append(item)

    def for_stack(self, stack_id: str) -> list[SkippedResource]:
        with self._lock:
            return [s for s in self._skipped if s.stack_id == stack_id]

    def provided_for_stack(self, stack_id: str) -> list[SkippedResource]:
        with self._lock:
            return [s for s in self._provided if s.stack_id == stack_id]


class HarnessResource:
    """A resource the harness created through moto's own service API (see `PROVIDERS`); `on_delete` undoes
    it through that API when its stack is deleted, as CloudFormation would."""

    def __init__(
        self,
        logical_id: str,
        resource_type: str,
        physical_id: str,
        attributes: dict[str, str],
        on_delete: Callable[[], None] | None = None,
    ) -> None:
        self.logical_resource_id = logical_id
        self.cf_resource_type = resource_type
        self.physical_resource_id = physical_id
        self._attributes = attributes
        self._on_delete = on_delete

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self._attributes[attribute_name]

    def has_cfn_attr(self, attr: str) -> bool:
        return attr in self._attributes

    def is_created(self) -> bool:
        return True

    def delete(self, *_args: Any, **_kwargs: Any) -> None:
        if self._on_delete is not None:
            self._on_delete()


class NotEmulated:
    """Stands in for a resource moto skipped, so that references to it resolve to marked values."""

    def __init__(
        self, logical_id: str, resource_type: str, *, partition: str = "aws", account: str = "", region: str = ""
    ) -> None:
        self.logical_resource_id = logical_id
        self.cf_resource_type = resource_type
        self.physical_resource_id = f"{NOT_EMULATED_PREFIX}-{logical_id}"
        self._partition = partition
        self._account = account
        self._region = region

    def get_cfn_attribute(self, attribute_name: str) -> str:
        marker = f"{NOT_EMULATED_PREFIX}:{self.logical_resource_id}.{attribute_name}"
        if not attribute_name.endswith("Arn"):
            return marker
        # ARN-shaped, so that an IAM policy naming it is still a valid policy (moto validates them).
        service = self.cf_resource_type.split("::")[1].lower() if "::" in self.cf_resource_type else "unknown"
        return f"arn:{self._partition}:{service}:{self._region}:{self._account}:{marker}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:  # noqa: ARG003 - moto's interface
        return True

    def is_created(self) -> bool:
        return True

    def delete(self, *_args: Any, **_kwargs: Any) -> None:
        return None
