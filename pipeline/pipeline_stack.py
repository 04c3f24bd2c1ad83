"""`PaymentPipelineStack`: the self-mutating CDK pipeline that promotes the payment stack on every push.

    Source -> Build (Synth: scripts/check) -> UpdatePipeline (SelfMutate) -> Assets (one FileAsset)
      -> dev (deploy, smoke) -> staging (deploy, smoke) -> prod (change review, approval, deploy, smoke)
      -> catalog (publish)

Each stack deploys in one CloudFormation action (no change-set pair): the product's own gate is the
synth step (lint, tests, nag, cfn-lint) plus the smoke step of the stage before, and the payment
function's traffic shifts through CodeDeploy inside the stack update (canary in staging and prod).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack, pipelines
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codestarnotifications as notifications
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from pipeline.acknowledgments import acknowledge_pipeline_findings
from pipeline.asset_publishing import asset_publishing_defaults, grant_lookup_roles, lookup_role_statement
from pipeline.change_review import REVIEW_URL_VARIABLE, SUMMARY_VARIABLE, change_review_step
from pipeline.settings import DeliverySettings, PipelineSettings
from pipeline.smoke import REPORT_URL_VARIABLE, smoke_step
from pipeline.stage import CatalogStage, PaymentStage
from pipeline.toolchain import BUILD_IMAGE, CDK_ASSETS_VERSION, CDK_CLI_VERSION, RUNTIME_VERSIONS
from product.catalog.settings import CatalogSettings
from product.checked import narrowed
from product.compliance import acknowledge
from product.constructs.s3 import BUCKET_BASELINE
from product.profiles import ENVIRONMENT_NAMES

PIPELINE_STACK_ID = "PaymentPipeline"
PIPELINE_NAME = "payment-platform"
CATALOG_STAGE_ID = "catalog"
CHECK_COMMAND = "scripts/check"  # the one check script: install, lint, tests (JUnit), nag, cfn-lint, synth
UNIT_REPORT = {"files": ["unit.xml"], "base-directory": "reports/junit", "file-format": "JUNITXML"}
# Pushes that only touch these paths do not run the pipeline (nothing deployable changed).
TRIGGER_IGNORED_PATHS = ("docs/**",)
ARTIFACT_RETENTION = Duration.days(90)  # smoke reports and templates of a release stay reviewable this long
PROD = "prod"
# What CDK's CodeStarConnectionsSourceAction grants its role, whatever the prefix of the connection's ARN.
CDK_SOURCE_GRANT = "codestar-connections:UseConnection"
FAILED_OR_WAITING = ("codepipeline-pipeline-pipeline-execution-failed", "codepipeline-pipeline-manual-approval-needed")


def approval_comment(commit: str, source: str, change_summary: str, review_url: str, smoke_url: str) -> str:
    """The approval's message: what is promoted, what it changes in prod, where the two reports are."""
    return (
        f"Promote commit {commit} of {source} to prod. Prod change: {change_summary}. "
        f"Change review: {review_url} Staging smoke report: {smoke_url}"
    )


def needs_cross_account_keys(delivery_settings: DeliverySettings) -> bool:
    """Cross-account deployments need KMS-encrypted artifacts; needed only if a stage leaves the tooling account."""
    return any(stage.account != delivery_settings.tooling_account for stage in delivery_settings.stages)


class PaymentPipelineStack(Stack):
    """The delivery pipeline in the tooling account, holding one `PaymentStage` per environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        delivery_settings: DeliverySettings,
        pipeline_settings: PipelineSettings,
        catalog_settings: CatalogSettings | None = None,
        publish_assets_in_parallel: bool = False,
        use_change_sets: bool = False,
        **stack_kwargs: Any,  # StackProps keywords (env, synthesizer...), forwarded to Stack
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="Payment platform delivery pipeline: dev -> staging -> approval -> prod",
            **stack_kwargs,
        )
        self.key = kms.Key(
            self,
            "PipelineKey",
            alias="alias/payment-pipeline",
            description="Pipeline artifacts and the approval and notification topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        # CodeStar Notifications publishes to the KMS-encrypted notification topic (AWS's documented grant).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CodeStarNotificationsPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal("codestar-notifications.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"StringEquals": {"kms:ViaService": f"sns.{self.region}.amazonaws.com"}},
            )
        )
        self.artifact_bucket = self._artifact_bucket()
        self.approval_topic = self._topic(
            "ApprovalTopic", "Payment platform: prod release awaiting approval", pipeline_settings.approver_emails
        )
        self.notification_topic = self._topic(
            "NotificationTopic",
            "Payment platform pipeline: failed runs and pending approvals",
            (pipeline_settings.notification_email,) if pipeline_settings.notification_email else (),
        )
        self.report_groups = {
            name: codebuild.ReportGroup(self, f"{name.capitalize()}Reports", removal_policy=RemovalPolicy.DESTROY)
            for name in ("unit", *(f"smoke{env.capitalize()}" for env in ENVIRONMENT_NAMES))
        }

        self.source = pipelines.CodePipelineSource.connection(
            pipeline_settings.repository, pipeline_settings.branch, connection_arn=pipeline_settings.connection_arn
        )
        self.synth_step = self._synth_step()
        # That CLI reads each stage's bootstrap version with the stage's lookup role (asset_publishing.py).
        self.asset_lookup_roles = lookup_role_statement()
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=PIPELINE_NAME,
            pipeline_type=codepipeline.PipelineType.V2,
            self_mutation=True,
            publish_assets_in_parallel=publish_assets_in_parallel,
            use_change_sets=use_change_sets,
            # The artifact bucket always has the pipeline key; this decides the keys of the replication buckets
            # CDK creates for stages in other regions.
            cross_account_keys=needs_cross_account_keys(delivery_settings),
            artifact_bucket=self.artifact_bucket,
            # Self-mutation and asset publishing install the CLIs package.json pins, not "latest".
            cli_version=CDK_CLI_VERSION,
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            # ...whose schema is older than the assembly's: the asset project publishes with the pinned CLI.
            asset_publishing_code_build_defaults=pipelines.CodeBuildOptions(
                partial_build_spec=asset_publishing_defaults(), role_policy=[self.asset_lookup_roles]
            ),
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=codebuild.BuildSpec.from_object(
                    {"phases": {"install": {"runtime-versions": RUNTIME_VERSIONS}}}
                ),
            ),
            synth=self.synth_step,
        )
        self.stages: dict[str, PaymentStage] = {}
        self.smoke_steps: dict[str, pipelines.CodeBuildStep] = {}
        for environment in ENVIRONMENT_NAMES:
            stage = PaymentStage(self, environment, delivery_settings=delivery_settings)
            smoke = smoke_step(
                stage,
                source=self.source,
                scope=self,
                report_group=self.report_groups[f"smoke{environment.capitalize()}"],
                cache_bucket=self.artifact_bucket,
            )
            pre: list[pipelines.Step] = []
            if environment == PROD:
                # The review runs first: the approval's comment reads its exported variables.
                self.change_review = change_review_step(
                    stage, source=self.source, assembly=self.synth_step, cache_bucket=self.artifact_bucket, scope=self
                )
                pre = [self.change_review, self._approval(pipeline_settings)]
            self.pipeline.add_stage(stage, pre=pre, post=[smoke])
            self.stages[environment] = stage
            self.smoke_steps[environment] = smoke
        # The catalog republishes the product from the same commit, after prod passed its smoke tests.
        self.catalog_stage: CatalogStage | None = None
        if catalog_settings is not None:
            self.catalog_stage = CatalogStage(self, CATALOG_STAGE_ID, catalog_settings=catalog_settings)
            self.pipeline.add_stage(self.catalog_stage)

        grant_lookup_roles(
            self.asset_lookup_roles, [*self.stages.values(), *([self.catalog_stage] if self.catalog_stage else [])]
        )
        self.pipeline.build_pipeline()
        self._allow_the_connection(pipeline_settings)
        self._trigger_on_branch(pipeline_settings.branch)
        notifications.NotificationRule(
            self,
            "FailuresAndApprovals",
            source=self.pipeline.pipeline,
            events=list(FAILED_OR_WAITING),
            targets=[self.notification_topic],
            detail_type=notifications.DetailType.FULL,
        )
        acknowledge_pipeline_findings(
            self.pipeline, self.artifact_bucket, self.smoke_steps, self.stages, {PROD: self.change_review}
        )

    def _artifact_bucket(self) -> s3.Bucket:
        """KMS-encrypted (pipeline key), versioned, TLS-only, access-logged; artifacts expire after 90 days."""
        self.access_logs = s3.Bucket(
            self,
            "ArtifactAccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logs deliver only to SSE-S3 buckets
            **BUCKET_BASELINE,
            lifecycle_rules=[
                s3.LifecycleRule(expiration=ARTIFACT_RETENTION, noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.access_logs,
            ("PCI.DSS.321-S3DefaultEncryptionKMS", "S3 server access logging delivers only to SSE-S3 buckets"),
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "access logs of the artifact bucket are operational data "
                "kept 90 days; the release record is the pipeline's execution history",
            ),
        )
        artifacts = s3.Bucket(
            self,
            "Artifacts",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            **BUCKET_BASELINE,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="artifacts/",
            lifecycle_rules=[
                s3.LifecycleRule(expiration=ARTIFACT_RETENTION, noncurrent_version_expiration=Duration.days(30))
            ],
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            artifacts,
            (
                "PCI.DSS.321-S3BucketReplicationEnabled",
                "pipeline artifacts are rebuilt from git by re-running "
                "the pipeline; replicating them to a second region would protect nothing that git does not",
            ),
        )
        return artifacts

    def _topic(self, construct_id: str, display_name: str, emails: tuple[str, ...]) -> sns.Topic:
        topic = sns.Topic(self, construct_id, display_name=display_name, master_key=self.key, enforce_ssl=True)
        for email in emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _synth_step(self) -> pipelines.CodeBuildStep:
        """Runs `scripts/check` (what a developer runs) and hands its `cdk.out` to the rest of the pipeline."""
        unit = self.report_groups["unit"]
        return pipelines.CodeBuildStep(
            "Synth",
            input=self.source,
            commands=[CHECK_COMMAND],
            primary_output_directory="cdk.out",
            build_environment=codebuild.BuildEnvironment(compute_type=codebuild.ComputeType.MEDIUM),
            partial_build_spec=codebuild.BuildSpec.from_object({"reports": {unit.report_group_arn: UNIT_REPORT}}),
            role_policy_statements=[
                iam.PolicyStatement(
                    actions=["codebuild:CreateReport", "codebuild:UpdateReport", "codebuild:BatchPutTestCases"],
                    resources=[unit.report_group_arn],
                )
            ],
        )

    def _approval(self, pipeline_settings: PipelineSettings) -> pipelines.ManualApprovalStep:
        """Before prod: names the commit, summarises prod's change review and links it and the staging smoke run."""
        commit = self.source.source_attribute("CommitId")
        smoke_url = self.smoke_steps["staging"].exported_variable(REPORT_URL_VARIABLE)
        summary = self.change_review.exported_variable(SUMMARY_VARIABLE)
        review_url = self.change_review.exported_variable(REVIEW_URL_VARIABLE)
        return pipelines.ManualApprovalStep(
            "PromoteToProd",
            # Every variable sits in the comment, which is where CDK discovers the steps they come from.
            comment=approval_comment(
                commit, f"{pipeline_settings.repository}@{pipeline_settings.branch}", summary, review_url, smoke_url
            ),
            review_url=review_url,
            notification_topic=self.approval_topic,
        )

    def _allow_the_connection(self, settings: PipelineSettings) -> None:
        """The source role may use the connection under its ARN's service prefix (IAM matches no other)."""
        underlying = self.pipeline.pipeline
        stage = underlying.stages[0]
        action = underlying.node.find_child(stage.stage_name).node.find_child(
            stage.actions[0].action_properties.action_name
        )
        role = narrowed(action.node.find_child("CodePipelineActionRole"), iam.Role, "the source action's role")
        missing = [a for a in settings.use_connection_actions if a != CDK_SOURCE_GRANT]
        if missing:
            role.add_to_principal_policy(iam.PolicyStatement(actions=missing, resources=[settings.connection_arn]))

    def _trigger_on_branch(self, branch: str) -> None:
        """V2 trigger: only pushes to the configured branch (and not docs-only pushes) start a run."""
        underlying = self.pipeline.pipeline
        source_action = underlying.stages[0].actions[0]
        underlying.add_trigger(
            provider_type=codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
            git_configuration=codepipeline.GitConfiguration(
                source_action=source_action,
                push_filter=[
                    codepipeline.GitPushFilter(
                        branches_includes=[branch], file_paths_excludes=list(TRIGGER_IGNORED_PATHS)
                    )
                ],
            ),
        )
