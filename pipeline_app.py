#!/usr/bin/env python3
"""The CDK app: reads context and environment once, builds every stack, synthesizes.

Stacks:
- `PaymentPipeline`: the self-mutating delivery pipeline (tooling account), holding the stages `dev`,
  `staging`, `prod` (each a `PaymentStage` holding `PaymentStack`) it promotes through, then `catalog`;
  accounts and regions from context `stages`, source repository, branch, connection and approvers from context.
- `PaymentStack-<suffix>`: a directly deployable copy for one developer account, named by context
  `environmentSuffix` (else `ENVIRONMENT_SUFFIX`, else `dev`); its account comes from
  `CDK_DEFAULT_ACCOUNT`, its region from context `region`, `CDK_DEFAULT_REGION`, the `AWS_REGION`
  file, or `us-east-1`.
- `PaymentPipeline/catalog/PaymentCatalog`: the Service Catalog portfolio and versioned product
  (`PaymentProductStack`, built from the same `PaymentService`), published by the pipeline after prod, in the
  catalog account and region (context `catalog`, else the tooling ones).
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

from pipeline.pipeline_stack import PIPELINE_STACK_ID, PaymentPipelineStack
from pipeline.settings import DEFAULT_REGION, DeliverySettings, PipelineSettings
from product.catalog.settings import CatalogSettings
from product.compliance import add_nag_gate
from product.errors import ConfigurationError
from product.payment_stack import PaymentStack
from product.profiles import ENVIRONMENT_NAMES, profile_for

REPOSITORY_ROOT = Path(__file__).resolve().parent
REGION_FILE = REPOSITORY_ROOT / "AWS_REGION"
CDK_JSON = REPOSITORY_ROOT / "cdk.json"
DEFAULT_ENVIRONMENT_SUFFIX = "dev"


@dataclass(frozen=True)
class DirectDeployTarget:
    """What the direct-deploy stack (`PaymentStack-<suffix>`) is called and where it goes: a pipeline stage's
    `StageTarget`, for the stack deployed without the pipeline."""

    environment_suffix: str
    region: str
    account: str | None

    @property
    def profile_name(self) -> str:
        """A suffix naming an environment uses its profile; any other suffix is a dev-sized sandbox."""
        return self.environment_suffix if self.environment_suffix in ENVIRONMENT_NAMES else "dev"


def read_direct_deploy_target(
    context: Mapping[str, Any], environ: Mapping[str, str], region_file: Path = REGION_FILE
) -> DirectDeployTarget:
    """Resolve suffix, region and account from context, environment variables and the region file."""
    suffix = context.get("environmentSuffix") or environ.get("ENVIRONMENT_SUFFIX") or DEFAULT_ENVIRONMENT_SUFFIX
    region = context.get("region") or environ.get("CDK_DEFAULT_REGION")
    if not region and region_file.is_file():
        region = region_file.read_text().strip()
    return DirectDeployTarget(
        environment_suffix=str(suffix),
        region=str(region or DEFAULT_REGION),
        account=environ.get("CDK_DEFAULT_ACCOUNT") or None,
    )


def build_app(
    app: App,
    delivery_settings: DeliverySettings,
    direct_deploy: DirectDeployTarget,
    pipeline_settings: PipelineSettings,
    catalog_settings: CatalogSettings | None = None,
) -> None:
    """Every stack of the repository, with the nag gate over all of them.

    The catalog is published by the pipeline's last stage; `catalog_settings` default to the app's context
    key `catalog` (catalog account/region: the tooling ones).
    """
    if catalog_settings is None:
        catalog_settings = CatalogSettings.from_context(
            app.node.get_all_context(),
            default_account=delivery_settings.tooling_account,
            default_region=delivery_settings.tooling_region,
        )
    PaymentPipelineStack(
        app,
        PIPELINE_STACK_ID,
        delivery_settings=delivery_settings,
        pipeline_settings=pipeline_settings,
        catalog_settings=catalog_settings,
        env=Environment(account=delivery_settings.tooling_account, region=delivery_settings.tooling_region),
    )
    build_direct_deploy_stack(app, delivery_settings, direct_deploy)
    add_nag_gate(app)


def build_direct_deploy_stack(
    app: App, delivery_settings: DeliverySettings, direct_deploy: DirectDeployTarget
) -> PaymentStack:
    """`PaymentStack-<suffix>`, deployed without the pipeline (also the smallest app `bench/synth.py` times)."""
    return PaymentStack(
        app,
        f"PaymentStack-{direct_deploy.environment_suffix}",
        profile=profile_for(direct_deploy.profile_name),
        options=delivery_settings.deployment_options(direct_deploy.environment_suffix, direct_deploy.region),
        env=Environment(account=direct_deploy.account, region=direct_deploy.region),
    )


def cdk_json_context() -> dict[str, Any]:
    """`cdk.json` context (feature flags included), so `python pipeline_app.py` equals `cdk synth`."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def main() -> None:
    # Everything imported so far lives as long as the process: moved out of the collector's generations, it is
    # not traversed again by each full collection during construction (about 0.5 s of a synth's CPU).
    gc.freeze()
    # The CLI's own context (-c, cdk.context.json) still wins over cdk.json's. The built-in template
    # validation is off because cfn-lint checks every template in the gate; it would add ~5 s a synth.
    app = App(context=cdk_json_context(), builtin_cloud_formation_validation=False)
    context = app.node.get_all_context()
    try:
        build_app(
            app,
            DeliverySettings.from_context(context),
            read_direct_deploy_target(context, os.environ),
            PipelineSettings.from_context(context),
        )
    except ConfigurationError as error:
        sys.exit(f"configuration error: {error}")
    app.synth()


if __name__ == "__main__":
    main()
