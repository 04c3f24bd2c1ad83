"""The change review before the prod approval: what promoting this commit will do to prod's stack.

The step runs `scripts/change-review.mjs` from the same commit against the assembly the synth step built:
the deployed template (read-only CloudFormation calls) against the template being promoted, judged by the
engine `cdk diff` uses. It writes an HTML and a JSON report (the step's artifact), exports a one-line
summary and the link to its build for the approval, and fails on an unacknowledged replacement or
deletion of a stateful resource (acknowledgments: `ACKNOWLEDGMENTS_FILE`, one release at a time).
"""

from __future__ import annotations

from aws_cdk import Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from pipeline.build_links import export_build_url
from pipeline.stage import PaymentStage

REVIEW_COMMAND = "node scripts/change-review.mjs"
ACKNOWLEDGMENTS_FILE = "product/acknowledged_replacements.json"
REPORT_DIR = "reports/change-review/{environment}"
ASSEMBLY_DIR = "cdk.out"  # where the synth step's output lands beside the source checkout
SUMMARY_VARIABLE = "CHANGE_SUMMARY"
REVIEW_URL_VARIABLE = "CHANGE_REVIEW_URL"
# Only the review's own npm dependencies (package.json "dependencies"), not the CDK CLI; npm's cache is kept
# in S3 like the smoke steps' pip cache (a local cache would not outlive the days between releases).
INSTALL_COMMAND = "npm ci --omit=dev --no-audit --no-fund --loglevel=error"
NPM_CACHE = "/root/.npm/**/*"
CACHE_PREFIX = "codebuild-cache/change-review"
CACHE_KEY = "change-review-npm-$(codebuild-hash-files package-lock.json)"


def change_review_step(
    stage: PaymentStage,
    *,
    source: pipelines.IFileSetProducer,
    assembly: pipelines.IFileSetProducer,
    cache_bucket: s3.IBucket,
    scope: Stack,
) -> pipelines.CodeBuildStep:
    """The review `CodeBuildStep` for `stage` (add it to the stage's `pre`, before the approval)."""
    report_dir = REPORT_DIR.format(environment=stage.environment)
    stack = stage.stack
    return pipelines.CodeBuildStep(
        "ChangeReview",
        input=source,
        additional_inputs={ASSEMBLY_DIR: assembly},
        install_commands=[INSTALL_COMMAND],
        commands=[
            export_build_url(REVIEW_URL_VARIABLE),
            'export AWS_REGION="$STAGE_REGION" AWS_DEFAULT_REGION="$STAGE_REGION"',
            f"{REVIEW_COMMAND} --assembly {ASSEMBLY_DIR} --stack {stack.node.path} "
            f"--acknowledgments {ACKNOWLEDGMENTS_FILE} --out {report_dir}",
            f". {report_dir}/exports.env",
        ],
        env={"STAGE": stage.environment, "STACK_NAME": stack.stack_name, "STAGE_REGION": stage.region or ""},
        primary_output_directory=report_dir,  # report.html + report.json, kept as the action's artifact
        cache=codebuild.Cache.bucket(cache_bucket, prefix=CACHE_PREFIX),
        partial_build_spec=codebuild.BuildSpec.from_object(
            {"env": {"shell": "bash"}, "cache": {"key": CACHE_KEY, "paths": [NPM_CACHE]}}
        ),
        role_policy_statements=review_policy(scope, stage),
    )


def review_policy(scope: Stack, stage: PaymentStage) -> list[iam.PolicyStatement]:
    """Read the stage's stack and its deployed template; nothing else (no change set, no write)."""
    stack_arn = f"arn:{scope.partition}:cloudformation:{stage.region}:{stage.account}:stack/{stage.stack.stack_name}/*"
    return [
        iam.PolicyStatement(
            sid="ReadTheDeployedStack",
            actions=["cloudformation:DescribeStacks", "cloudformation:GetTemplate"],
            resources=[stack_arn],
        )
    ]
