"""The pipeline stack's nag findings that stay, each acknowledged on the policy or project it concerns.

What could be fixed is fixed in the stack itself: the artifact bucket is KMS-encrypted (pipeline key),
versioned, TLS-only and access-logged, and both topics are KMS-encrypted and TLS-only. What stays is
how CDK Pipelines and CodeBuild write their roles (grant-built inline policies with the `s3:GetObject*`
style actions of `Bucket.grant_read_write`, CodeBuild's per-project log and report-group wildcards), the
shape of the PCI rule on CodeBuild sources, and the smoke roles' name-pattern scoping. Every role is
named by what created it, so a role the pipeline gains later fails the gate until someone looks at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnResource, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from pipeline.stage import PaymentStage
from product.checked import l1_of, narrowed, present
from product.compliance import acknowledge
from product.contract import ResourceNames
from product.profiles import profile_for

Finding = tuple[str, str]

INLINE = (
    "PCI.DSS.321-IAMNoInlinePolicy",
    "CDK Pipelines grants each pipeline role its permissions as one inline "
    "policy scoped to this pipeline's own bucket, key and projects; it is deleted with the role",
)
SOURCE_VIA_PIPELINE = (
    "PCI.DSS.321-CodeBuildProjectSourceRepoUrl",
    "source type CODEPIPELINE: the project receives the commit as a pipeline artifact and never reaches the "
    "git host; the repository is read only through the CodeConnections connection (OAuth app), no credentials",
)
KMS_DATA_KEYS = (
    (
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "data-key actions on the pipeline key only (grant_* on the KMS-encrypted artifact bucket or topic)",
    ),
)
KMS_REENCRYPT = (
    (
        "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
        "re-encrypt actions on the pipeline key only (grant_read_write on the KMS-encrypted artifact bucket)",
    ),
)
ARTIFACTS_READ = (
    ("AwsSolutions-IAM5[Action::s3:GetObject*]", "Bucket.grant_read on the pipeline's artifact bucket only"),
    ("AwsSolutions-IAM5[Action::s3:GetBucket*]", "Bucket.grant_read on the pipeline's artifact bucket only"),
    ("AwsSolutions-IAM5[Action::s3:List*]", "Bucket.grant_read on the pipeline's artifact bucket only"),
)
ARTIFACTS_WRITE = (
    (
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
        "Bucket.grant_read_write: CodePipeline replaces the "
        "action's output artifacts in the pipeline's own artifact bucket",
    ),
    (
        "AwsSolutions-IAM5[Action::s3:Abort*]",
        "Bucket.grant_read_write: aborting its own multipart uploads of artifacts to the pipeline's artifact bucket",
    ),
)
SELF_MUTATION = (
    (
        "AwsSolutions-IAM5[Resource::*]",
        "CDK Pipelines' self-mutation: cloudformation:DescribeStacks and "
        "s3:ListBucket, which the CDK CLI calls before it assumes the bootstrap deploy role",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:*:iam::{account}:role/*]",
        "sts:AssumeRole only on roles tagged "
        "aws-cdk:bootstrap-role = deploy / file-publishing / image-publishing (condition on the statement)",
    ),
)
ASSET_PUBLISHING = (
    (
        "AwsSolutions-IAM5[Resource::*]",
        "CDK Pipelines' shared asset role is also the CodeBuild action role: "
        "codebuild:StartBuild/BatchGetBuilds/StopBuild, whose project is created with the role (a cycle)",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:/aws/codebuild/*]",
        "the shared asset role writes build logs of the asset projects, which are named after the role is made",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:codebuild:{region}:{account}:report-group/*]",
        "the shared asset role's CodeBuild report permissions (no reports are produced by asset publishing)",
    ),
)
SMOKE_SCOPE = (
    (
        "AwsSolutions-IAM5[Resource::arn:aws:execute-api:{region}:{account}:*/{stage}/*]",
        "SigV4 calls to the "
        "{env} API stage only; the API id is not known to the pipeline stack (no cross-stage references)",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:apigateway:{region}::/restapis/*/stages/{stage}]",
        "WAF association lookup for the {env} API stage only; the API id is not known to the pipeline stack",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:cloudformation:{region}:{account}:stack/{stack}/*]",
        "DescribeStacks "
        "and GetTemplate of the {env} stage stack; the trailing * is the stack id CloudFormation assigns",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:cloudwatch:{region}:{account}:alarm:{alarms}]",
        "DescribeAlarms of the {env} alarms, all named {alarm_names}",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:kms:{region}:{account}:key/*]",
        "the stage key's id is not known to "
        "the pipeline: decrypt only through DynamoDB and S3 (kms:ViaService), describe only the key aliased "
        "{key_alias} (kms:ResourceAliases)",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:lambda:{region}:{account}:function:{api_function}:*]",
        "configuration and alias reads of the {env} payment API function's versions and alias",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:lambda:{region}:{account}:function:{processor_function}:*]",
        "configuration and alias reads of the {env} event processor's versions and aliases",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:s3:::{audit_bucket}/*]",
        "GetObject of the {env} audit bucket's objects, to check the API wrote its audit record",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:sns:{region}:{account}:{alert_topics}]",
        "GetTopicAttributes of the three {env} alert topics (operations, security, cost)",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:wafv2:{region}:{account}:regional/webacl/{web_acl}/*]",
        "the {env} web ACL; the trailing * is the id WAF assigns",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:apigateway:{region}::/restapis/*/resources]",
        "apigateway:GET of the API's routes (read only); the API id is not known to the pipeline stack",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:lambda:{region}:{account}:event-source-mapping:*]",
        "read of the processor's SQS event source mapping, whose UUID Lambda assigns at deploy time",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:events:{region}:{account}:rule/{stack}-*]",
        "ListTargetsByRule of the {env} stack's rules on the default bus, named by CloudFormation after the stack",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:events:{region}:{account}:rule/{event_bus}/{stack}-*]",
        "ListTargetsByRule of the {env} stack's rules on the {env} payment bus",
    ),
    (
        "AwsSolutions-IAM5[Resource::arn:aws:logs:{region}:{account}:log-group:*]",
        "logs:DescribeLogGroups "
        "authorises on all log groups of the account and region (service authorization reference); read only",
    ),
    (
        "AwsSolutions-IAM5[Resource::*]",
        "autoscaling:DescribeAutoScalingGroups, ec2:DescribeLaunchTemplateVersions, ec2:DescribeFlowLogs "
        "and ce:ListCostAllocationTags support no resource-level permissions; read-only metadata",
    ),
)

CHANGE_REVIEW_SCOPE = (
    (
        "AwsSolutions-IAM5[Resource::arn:aws:cloudformation:{region}:{account}:stack/{stack}/*]",
        "DescribeStacks and GetTemplate of the {env} stage stack only (the change review reads, never writes); "
        "the trailing * is the stack id CloudFormation assigns",
    ),
)


def acknowledge_pipeline_findings(
    pipeline: pipelines.CodePipeline,
    artifact_bucket: s3.IBucket,
    smoke_steps: Mapping[str, pipelines.CodeBuildStep],
    stages: Mapping[str, PaymentStage],
    review_steps: Mapping[str, pipelines.CodeBuildStep],
) -> None:
    """Called after `build_pipeline()`, when every CodeBuild project and role of the pipeline exists."""
    stack = Stack.of(pipeline)
    ctx = {"account": stack.account, "region": stack.region}
    artifacts = _bucket_objects(artifact_bucket)
    actions = _DeclaredActions(pipeline)
    rw = (*ARTIFACTS_READ, *ARTIFACTS_WRITE, artifacts, *KMS_DATA_KEYS, *KMS_REENCRYPT)

    _on_policy(pipeline.pipeline.role, INLINE, *rw)
    _on_policy(actions.role_of(category="Source"), INLINE, *rw)
    _on_policy(actions.role_of(category="Build"), INLINE)  # CDK Pipelines' one role for every CodeBuild action
    _on_policy(actions.role_of(category="Approval"), INLINE, *KMS_DATA_KEYS)

    synth = pipeline.synth_project
    _on_project(synth, ctx, INLINE, *rw)
    mutation = pipeline.self_mutation_project
    _on_project(
        mutation, ctx, INLINE, *ARTIFACTS_READ, artifacts, *KMS_DATA_KEYS, *KMS_REENCRYPT, *_format(SELF_MUTATION, ctx)
    )
    publishers = actions.projects_of(stage="Assets")  # one project, or one per asset if publishing in parallel
    (asset_role,) = {publisher.role for publisher in publishers}
    _on_policy(asset_role, INLINE, *ARTIFACTS_READ, artifacts, *_format(ASSET_PUBLISHING, ctx))
    for publisher in publishers:
        acknowledge(publisher, SOURCE_VIA_PIPELINE)

    for environment, step in smoke_steps.items():
        stage = stages[environment]
        names = ResourceNames(environment)
        scope = {
            **ctx,
            "env": environment,
            "stage": profile_for(environment).api_stage_name,
            "stack": stage.stack.stack_name,
            # the smoke role's name patterns, as pipeline/smoke.py derives them from the product's names
            "alarms": names.alarm("*"),
            "alarm_names": names.alarm("<what>"),
            "key_alias": names.key_alias,
            "api_function": names.api_function,
            "processor_function": names.processor_function,
            "audit_bucket": names.audit_bucket(stack.account, stack.region),
            "alert_topics": names.alert_topic("*"),
            "web_acl": names.web_acl,
            "event_bus": names.event_bus,
        }
        _on_project(step.project, ctx, INLINE, *rw, *_format(SMOKE_SCOPE, scope))
    for environment, step in review_steps.items():
        review_scope = {**ctx, "env": environment, "stack": stages[environment].stack.stack_name}
        _on_project(step.project, ctx, INLINE, *rw, *_format(CHANGE_REVIEW_SCOPE, review_scope))


class _DeclaredActions:
    """The pipeline's actions as its CloudFormation declaration lists them, with the roles and projects they use.

    CDK Pipelines creates the action roles and asset projects itself and exposes none of them; the pipeline's
    own declaration (`CfnPipeline.stages`) names each action's role and CodeBuild project, so they are found
    through public APIs rather than through the construct ids CDK happens to give them.
    """

    def __init__(self, pipeline: pipelines.CodePipeline) -> None:
        stack = Stack.of(pipeline)
        # Only roles and projects are looked up: two jsii round trips (logical id, scope) per resource.
        self._constructs = {
            stack.get_logical_id(element): element.node.scope
            for element in pipeline.node.find_all()
            if isinstance(element, iam.CfnRole | codebuild.CfnProject)
        }
        declaration = l1_of(pipeline.pipeline, codepipeline.CfnPipeline)
        self._stages: list[dict[str, Any]] = stack.resolve(declaration.stages)

    def role_of(self, *, category: str) -> IConstruct:
        """The one role every action of `category` (Source, Build, Approval...) runs with."""
        (role_id,) = {
            action["roleArn"]["Fn::GetAtt"][0]
            for stage in self._stages
            for action in stage["actions"]
            if action["actionTypeId"]["category"] == category
        }
        return self._construct(role_id)

    def projects_of(self, *, stage: str) -> list[codebuild.IProject]:
        """The CodeBuild projects the actions of one pipeline stage run."""
        (declared,) = (declared for declared in self._stages if declared["name"] == stage)
        projects: list[codebuild.IProject] = []
        for action in declared["actions"]:
            project = self._construct(action["configuration"]["ProjectName"]["Ref"])
            projects.append(narrowed(project, codebuild.Project, "the build project", of=project))
        return projects

    def _construct(self, logical_id: str) -> IConstruct:
        return present(
            self._constructs.get(logical_id), f"the pipeline's {logical_id}, as one of its roles or projects,"
        )


def _format(findings: tuple[Finding, ...], values: dict[str, str]) -> list[Finding]:
    return [(rule.format(**values), reason.format(**values)) for rule, reason in findings]


def _bucket_objects(bucket: s3.IBucket) -> Finding:
    bucket_id = Stack.of(bucket).get_logical_id(_cfn_resource(bucket))
    return (
        f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/*]",
        "objects of the pipeline's own artifact bucket: "
        "each execution writes artifacts under keys CodePipeline chooses",
    )


def _on_policy(role: IConstruct | iam.IRole | None, *findings: Finding) -> None:
    """On the role's grant-built default policy: the construct those findings are about."""
    role = present(role, "the role the findings are about")
    policy = present(role.node.try_find_child("DefaultPolicy"), "the default policy", of=role)
    acknowledge(policy, *findings)


def _on_project(project: codebuild.IProject, ctx: dict[str, str], *findings: Finding) -> None:
    """A CodeBuild project: its source finding on the project, its role's findings on the role's policy."""
    project_id = Stack.of(project).get_logical_id(_cfn_resource(project))
    codebuild_defaults = (
        (
            f"AwsSolutions-IAM5[Resource::arn:aws:logs:{ctx['region']}:{ctx['account']}:log-group:/aws/codebuild/"
            f"<{project_id}>:*]",
            "CodeBuild's own grant: log streams of this project's log group",
        ),
        (
            f"AwsSolutions-IAM5[Resource::arn:aws:codebuild:{ctx['region']}:{ctx['account']}:report-group/"
            f"<{project_id}>-*]",
            "CodeBuild's own grant: report groups named after this project",
        ),
    )
    acknowledge(_cfn_resource(project), SOURCE_VIA_PIPELINE)
    _on_policy(project.role, *findings, *codebuild_defaults)


def _cfn_resource(construct: IConstruct) -> CfnResource:
    """The CloudFormation resource an L2 construct wraps."""
    return l1_of(construct, CfnResource)
