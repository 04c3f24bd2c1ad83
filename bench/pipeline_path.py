"""Push-to-prod critical path of the pipeline, against what CDK Pipelines' defaults give for the same app.

Synthesizes the pipeline stack twice in this process, from `cdk.json` context: as the repository builds it
(`publish_assets_in_parallel=False`, `use_change_sets=False`) and with CDK's defaults for those two
(`True`, `True`). CodePipeline runs stages in order and, inside a stage, one RunOrder after another (the
actions of one RunOrder in parallel), so the critical path is one action per (stage, RunOrder).

    python -m bench.pipeline_path   (from the repository root: it reads tests/unit/pipeline_actions.py)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment

import pipeline_app
from pipeline.pipeline_stack import PIPELINE_STACK_ID, PaymentPipelineStack
from pipeline.settings import DeliverySettings, PipelineSettings
from tests.unit.pipeline_actions import pipeline_actions, push_to_prod  # tests/ is found with -m from the root

ROOT = Path(__file__).resolve().parents[1]

# The prod change review (issue 15) is the twelfth action; the issue caps the path at 12.
TARGET_PATH, TARGET_DEFAULTS, TARGET_ASSET_ACTIONS = 12, 15, 1


def synth_pipeline(outdir: str, *, parallel_assets: bool, change_sets: bool) -> dict[str, Any]:
    context = pipeline_app.cdk_json_context()
    delivery_settings = DeliverySettings.from_context(context)
    app = App(context=context, outdir=outdir, builtin_cloud_formation_validation=False)
    stack = PaymentPipelineStack(
        app,
        PIPELINE_STACK_ID,
        delivery_settings=delivery_settings,
        pipeline_settings=PipelineSettings.from_context(context),
        publish_assets_in_parallel=parallel_assets,
        use_change_sets=change_sets,
        env=Environment(account=delivery_settings.tooling_account, region=delivery_settings.tooling_region),
    )
    app.synth()
    return json.loads((Path(outdir) / stack.template_file).read_text())


def describe(name: str, template: dict[str, Any]) -> tuple[int, int]:
    path = push_to_prod(template)
    assets = [a for a in pipeline_actions(template) if a.stage == "Assets"]
    print(f"\n{name}: {len(path)} actions push-to-prod, {len(assets)} asset-publishing action(s)")
    print("  " + " -> ".join(a.label for a in path))
    return len(path), len(assets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--strict", action="store_true", help="exit 1 unless the figures meet the targets")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ours = synth_pipeline(f"{tmp}/ours", parallel_assets=False, change_sets=False)
        defaults = synth_pipeline(f"{tmp}/defaults", parallel_assets=True, change_sets=True)
        elapsed = time.perf_counter() - started
    path, assets = describe("this pipeline (serial assets, one deploy action per stack)", ours)
    default_path, default_assets = describe("CDK defaults (parallel assets, change-set prepare + execute)", defaults)
    print(
        f"\ncritical path: {path} vs {default_path} with CDK defaults (target {TARGET_PATH} vs {TARGET_DEFAULTS}); "
        f"asset actions: {assets} vs {default_assets} (target exactly {TARGET_ASSET_ACTIONS})"
    )
    print(f"(two synths of the pipeline stack in {elapsed:.1f} s)")
    met = (path, assets) == (TARGET_PATH, TARGET_ASSET_ACTIONS) and default_path == TARGET_DEFAULTS
    return 0 if met or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
