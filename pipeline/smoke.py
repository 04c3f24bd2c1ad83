"""The post-deploy smoke step of one stage: what it runs, what it is told, what it may touch.

The suite itself lives in the repository (`scripts/smoke`, `tests/smoke`); the step only runs its entry
command from the same commit the stage was deployed from, so changing the suite needs no self-mutation.
CodeBuild's checkout has no `.venv` and its image no pytest, so the step first installs the suite's own
small, pinned requirements into a venv; pip's cache is kept in S3, shared by the three stages' steps.
"""

from __future__ import annotations

from aws_cdk import Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from pipeline.build_links import export_build_url
from pipeline.stage import PaymentStage
from product.checked import present
from product.contract import (
    SMOKE_OUTPUTS,
    SMOKE_TAG,
    SMOKE_TAG_VARIABLE,
    STACK_NAME_VARIABLE,
    STAGE_VARIABLE,
    ResourceNames,
    env_var_name,
)
from product.profiles import profile_for

SMOKE_REQUIREMENTS = "requirements-smoke.txt"  # pytest, boto3, botocore and what they need, all pinned
SMOKE_VENV = ".venv-smoke"  # in the checkout; never `.venv`, which is scripts/setup's full toolchain
# The venv gets no pip of its own: the image's pip installs into it (`--python`, pip 22.3 and newer; every Python
# from 3.12.0 on bundles pip 23.2.1 or newer, and `RUNTIME_VERSIONS` asks for 3.12). A venv with pip runs
# ensurepip, which unpacks and byte-compiles pip in every build: 2-3 s of each smoke build, for a tool the step
# uses once.
INSTALL_COMMANDS = (
    f"python3 -m venv --without-pip {SMOKE_VENV}",
    f"python3 -m pip --python {SMOKE_VENV}/bin/python install --disable-pip-version-check --no-input "
    f"-r {SMOKE_REQUIREMENTS}",
)
SMOKE_COMMAND = f"{SMOKE_VENV}/bin/python scripts/smoke --stage {{environment}}"
# pip's default cache as root (CodeBuild's standard images build as root). One S3 cache for the three smoke
# projects: CodeBuild's local cache stays on one build host for a short while, and the stages of a release
# run minutes to days apart. The key changes with the requirements, so a cache is never stale; the
# artifact bucket's 90-day expiry removes old ones.
PIP_CACHE = "/root/.cache/pip"
CACHE_PREFIX = "codebuild-cache/smoke"
CACHE_NAMESPACE = "payment-smoke"
CACHE_KEY = f"smoke-pip-$(codebuild-hash-files {SMOKE_REQUIREMENTS})"
REPORT_DIR = "reports/smoke/{environment}"  # the suite writes junit.xml and report.html here
REPORT_URL_VARIABLE = "SMOKE_REPORT_URL"
# CodePipeline's cap on an action's configuration value, which `SMOKE_OUTPUTS` must fit (a unit test checks it).
ACTION_CONFIGURATION_LIMIT = 1000

# The console page of this very build, exported so the approval before prod can link the staging run.
_EXPORT_REPORT_URL = export_build_url(REPORT_URL_VARIABLE)


def smoke_step(
    stage: PaymentStage,
    *,
    source: pipelines.IFileSetProducer,
    report_group: codebuild.IReportGroup,
    cache_bucket: s3.IBucket,
    scope: Stack,
) -> pipelines.CodeBuildStep:
    """The smoke `CodeBuildStep` that runs after `stage` deployed (add it to the stage's `post`)."""
    environment = stage.environment
    report_dir = REPORT_DIR.format(environment=environment)
    stack = stage.stack
    return pipelines.CodeBuildStep(
        "Smoke",
        input=source,
        install_commands=list(INSTALL_COMMANDS),
        commands=[
            _EXPORT_REPORT_URL,
            'export AWS_REGION="$STAGE_REGION" AWS_DEFAULT_REGION="$STAGE_REGION"',
            SMOKE_COMMAND.format(environment=environment),
        ],
        env={
            STAGE_VARIABLE: environment,
            STACK_NAME_VARIABLE: stack.stack_name,
            "STAGE_ACCOUNT": stage.account or "",
            "STAGE_REGION": stage.region or "",
            SMOKE_TAG_VARIABLE: SMOKE_TAG,
        },
        env_from_cfn_outputs={env_var_name(name): stack.cfn_outputs[name] for name in SMOKE_OUTPUTS},
        primary_output_directory=report_dir,  # junit.xml + report.html, kept as the action's artifact
        cache=codebuild.Cache.bucket(cache_bucket, prefix=CACHE_PREFIX, cache_namespace=CACHE_NAMESPACE),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {
                "env": {"shell": "bash"},
                "cache": {"key": CACHE_KEY, "paths": [f"{PIP_CACHE}/**/*"]},
                "reports": {
                    report_group.report_group_arn: {
                        "files": ["junit.xml"],
                        "base-directory": report_dir,
                        "file-format": "JUNITXML",
                    }
                },
            }
        ),
        role_policy_statements=[
            *smoke_policy(scope, stage),
            iam.PolicyStatement(
                actions=["codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"],
                resources=[report_group.report_group_arn],
            ),
        ],
    )


def smoke_policy(scope: Stack, stage: PaymentStage) -> list[iam.PolicyStatement]:
    """Least privilege for the suite against one stage: reads of that stage's resources (by their physical
    names, which carry the environment), SigV4 calls to its API stage, and deletes of its own smoke items.

    The names are the product's own (`product.contract.ResourceNames` of the environment); a unit test checks
    each pattern against the stage template, so a renamed resource fails the suite rather than the smoke step.
    """
    env = stage.environment
    account = present(stage.account, f"the account of stage {env} (PaymentStage always sets its environment)")
    region = present(stage.region, f"the region of stage {env} (PaymentStage always sets its environment)")
    api_stage = profile_for(env).api_stage_name

    def arn(service: str, resource: str, *, regional: bool = True) -> str:
        return f"arn:{scope.partition}:{service}:{region if regional else ''}:{account}:{resource}"

    names = ResourceNames(env)
    tables = [arn("dynamodb", f"table/{name}") for name in (names.payments_table, names.idempotency_table)]
    bucket = f"arn:{scope.partition}:s3:::{names.audit_bucket(account, region)}"
    access_log_bucket = f"arn:{scope.partition}:s3:::{names.access_log_bucket(account, region)}"
    functions = [arn("lambda", f"function:{name}") for name in (names.api_function, names.processor_function)]
    return [
        iam.PolicyStatement(
            sid="DescribeTheStageStack",
            actions=[
                "cloudformation:DescribeStacks",
                "cloudformation:GetTemplate",
                "cloudformation:ListStackResources",
            ],
            resources=[arn("cloudformation", f"stack/{stage.stack.stack_name}/*")],
        ),
        iam.PolicyStatement(
            sid="CallTheApiStageWithSigV4",
            actions=["execute-api:Invoke"],
            resources=[arn("execute-api", f"*/{api_stage}/*")],
        ),
        iam.PolicyStatement(
            sid="ReadTheApiStage",
            actions=["apigateway:GET"],
            resources=[
                f"arn:{scope.partition}:apigateway:{region}::/restapis/*/stages/{api_stage}",
                f"arn:{scope.partition}:apigateway:{region}::/restapis/*/resources",
            ],
        ),
        iam.PolicyStatement(
            sid="ReadTheTables",
            actions=[
                "dynamodb:DescribeTable",
                "dynamodb:DescribeTimeToLive",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:GetItem",
            ],
            resources=tables,
        ),
        iam.PolicyStatement(
            # The suite deletes the items its own payments created (ids it got back from the API, merchant
            # `smoke-<run>`); item keys are derived by the API, so no key condition can single them out.
            # Audit objects are never deleted: a smoke payment's audit record stays as the trail says it happened.
            sid="DeleteSmokeItems",
            actions=["dynamodb:DeleteItem"],
            resources=tables,
        ),
        iam.PolicyStatement(
            sid="ReadTheBucketSettings",
            actions=[
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketPolicy",
            ],
            resources=[bucket, access_log_bucket],
        ),
        iam.PolicyStatement(
            sid="ReadTheAuditBucket",
            actions=["s3:ListBucket", "s3:GetLifecycleConfiguration", "s3:ListBucketVersions"],
            resources=[bucket],
        ),
        iam.PolicyStatement(sid="ReadAuditObjects", actions=["s3:GetObject"], resources=[f"{bucket}/*"]),
        iam.PolicyStatement(
            sid="UseTheStageKeyThroughItsServices",
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=[arn("kms", "key/*")],
            conditions={
                "StringEquals": {
                    "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in ("dynamodb", "s3")]
                }
            },
        ),
        iam.PolicyStatement(
            sid="DescribeTheStageKey",
            actions=["kms:DescribeKey", "kms:GetKeyRotationStatus"],
            resources=[arn("kms", "key/*")],
            conditions={"ForAnyValue:StringEquals": {"kms:ResourceAliases": names.key_alias}},
        ),
        iam.PolicyStatement(
            sid="DescribeTopicsAndQueues",
            actions=["sns:GetTopicAttributes", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
            resources=[
                arn("sns", names.alert_topic("*")),
                *(arn("sqs", name) for name in (names.event_queue, names.dead_letter_queue)),
            ],
        ),
        iam.PolicyStatement(
            sid="DescribeAlarmsAndDashboard",
            actions=["cloudwatch:DescribeAlarms", "cloudwatch:GetDashboard"],
            resources=[
                arn("cloudwatch", f"alarm:{names.alarm('*')}"),
                arn("cloudwatch", f"dashboard/{names.dashboard}", regional=False),
            ],
        ),
        iam.PolicyStatement(
            sid="DescribeTheFirewall",
            actions=["wafv2:GetWebACL", "wafv2:GetWebACLForResource", "wafv2:GetLoggingConfiguration"],
            resources=[
                arn("wafv2", f"regional/webacl/{names.web_acl}/*"),
                f"arn:{scope.partition}:apigateway:{region}::/restapis/*/stages/{api_stage}",
            ],
        ),
        iam.PolicyStatement(
            sid="DescribeTheFunctions",
            actions=["lambda:GetFunctionConfiguration", "lambda:GetAlias", "lambda:ListAliases"],
            resources=[*functions, *(f"{function}:*" for function in functions)],
        ),
        iam.PolicyStatement(
            sid="DescribeTheEventSourceMapping",
            actions=["lambda:GetEventSourceMapping"],
            resources=[arn("lambda", "event-source-mapping:*")],  # its id is not known to the pipeline
        ),
        iam.PolicyStatement(
            sid="DescribeTheEventBus",
            actions=["events:DescribeEventBus"],
            resources=[arn("events", f"event-bus/{names.event_bus}")],
        ),
        iam.PolicyStatement(
            sid="ListTheStageRulesTargets",
            actions=["events:ListTargetsByRule"],
            # CloudFormation names the rules after the stack: on the payment bus and on the default bus.
            resources=[
                arn("events", f"rule/{names.event_bus}/{stage.stack.stack_name}-*"),
                arn("events", f"rule/{stage.stack.stack_name}-*"),
            ],
        ),
        iam.PolicyStatement(
            sid="DescribeTheLogGroups",
            actions=["logs:DescribeLogGroups"],
            resources=[arn("logs", "log-group:*")],  # DescribeLogGroups authorises on all groups of the account
        ),
        iam.PolicyStatement(
            # Whether the cost monitor's tag is an active cost-allocation tag (reported, never failed).
            sid="ReadCostAllocationTagStatus",
            actions=["ce:ListCostAllocationTags"],
            resources=["*"],  # Cost Explorer's ListCostAllocationTags supports no resource-level permission
        ),
        iam.PolicyStatement(
            sid="DescribeWithoutResourceLevelPermissions",
            actions=[
                "autoscaling:DescribeAutoScalingGroups",
                "ec2:DescribeLaunchTemplateVersions",
                "ec2:DescribeFlowLogs",
            ],
            resources=["*"],  # these Describe calls support no resource-level permissions
        ),
    ]
