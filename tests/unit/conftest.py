"""Session fixtures: the whole app is synthesized once (nag gate included) and shared by every test.

Under scripts/check the session reads the assembly of the check's own synth, which runs beside the tests, so
the tests that need it go last (`pytest_collection_modifyitems`) and the others run while that synth finishes.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment
from aws_cdk.assertions import Template

import pipeline_app
from pipeline.pipeline_stack import PIPELINE_STACK_ID
from pipeline.settings import DeliverySettings, PipelineSettings
from pipeline.stage import STACK_ID
from product.compliance import add_nag_gate
from product.payment_stack import PaymentStack
from product.profiles import ENVIRONMENT_NAMES, profile_for
from rehearsal.assembly import product_template_files, stack_templates
from tests.check_synth import copy_of_checks_assembly
from tests.unit.apps import new_app

# These tests talk to moto's in-process mocks. An endpoint override in the caller's environment (the
# rehearsal's synth action runs the suite with AWS pointed at its emulator) would send the mocked calls past
# the mock, so none applies here (the smoke suite, which runs against an endpoint, has its own conftest).
for _name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]


os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
TEST_ACCOUNT = "111111111111"
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
UNIT_TESTS = "tests/unit/"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The unit tests that need the session's assembly after the others, each group in collection order; the
    other tests of the session keep their places."""
    places = [index for index, item in enumerate(items) if item.nodeid.startswith(UNIT_TESTS)]
    unit_tests = [items[index] for index in places]
    unit_tests.sort(key=lambda item: "assembly_dir" in getattr(item, "fixturenames", ()))
    for index, item in zip(places, unit_tests, strict=True):
        items[index] = item


@pytest.fixture(scope="session")
def cdk_context() -> dict[str, Any]:
    return pipeline_app.cdk_json_context()


@pytest.fixture(scope="session")
def delivery_settings(cdk_context: dict[str, Any]) -> DeliverySettings:
    return DeliverySettings.from_context(cdk_context)


@pytest.fixture(scope="session")
def pipeline_settings(cdk_context: dict[str, Any]) -> PipelineSettings:
    return PipelineSettings.from_context(cdk_context)


def stage_stack_path(env: str) -> str:
    """Display path of an environment's stack: its stage lives inside the pipeline stack."""
    return f"{PIPELINE_STACK_ID}/{env}/{STACK_ID}"


@pytest.fixture(scope="session")
def assembly_dir(
    tmp_path_factory: pytest.TempPathFactory,
    cdk_context: dict[str, Any],
    delivery_settings: DeliverySettings,
    pipeline_settings: PipelineSettings,
) -> Path:
    """The whole app, synthesized once. Under scripts/check, a copy of what its `cdk synth` wrote (the CLI's
    assembly, as the pipeline's synth step makes it); otherwise the app as `pipeline_app.main` builds it,
    synthesized in this process."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    if copy_of_checks_assembly(outdir):
        return outdir
    app = new_app(context=cdk_context, outdir=str(outdir))
    direct_deploy = pipeline_app.read_direct_deploy_target(cdk_context, {"CDK_DEFAULT_ACCOUNT": TEST_ACCOUNT})
    pipeline_app.build_app(app, delivery_settings, direct_deploy, pipeline_settings)
    app.synth()
    return outdir


@pytest.fixture(scope="session")
def all_templates(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """Every synthesized template, keyed by stack display path (e.g. 'PaymentPipeline/dev/PaymentStack')."""
    return stack_templates(assembly_dir)


@pytest.fixture(scope="session")
def stage_templates(all_templates: dict[str, dict[str, Any]]) -> dict[str, Template]:
    return {env: Template.from_json(all_templates[stage_stack_path(env)]) for env in ENVIRONMENT_NAMES}


@pytest.fixture(scope="session")
def pipeline_template(all_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pipeline stack's template, from the same session synth."""
    return all_templates[PIPELINE_STACK_ID]


@pytest.fixture(scope="session", params=ENVIRONMENT_NAMES)
def env_template(request: pytest.FixtureRequest, stage_templates: dict[str, Template]) -> tuple[str, Template]:
    return request.param, stage_templates[request.param]


@pytest.fixture(scope="session")
def dev(stage_templates: dict[str, Template]) -> Template:
    return stage_templates["dev"]


@pytest.fixture(scope="session")
def opt_ins_template(
    tmp_path_factory: pytest.TempPathFactory, cdk_context: dict[str, Any], delivery_settings: DeliverySettings
) -> Template:
    """A dev stack with every opt-in on (Shield, GuardDuty detector, account cost monitor, e-mail)."""
    app = new_app(context=cdk_context, outdir=str(tmp_path_factory.mktemp("optins")))
    options = replace(
        delivery_settings.deployment_options("optins", "us-east-1"),
        notification_email="payments-oncall@example.com",
        create_guardduty_detector=True,
        enable_shield_protection=True,
        create_account_cost_monitor=True,
    )
    stack = PaymentStack(
        app,
        "OptIns",
        profile=profile_for("dev"),
        options=options,
        env=Environment(account=TEST_ACCOUNT, region="us-east-1"),
    )
    add_nag_gate(app)
    app.synth()
    return Template.from_json(json.loads((Path(app.outdir) / stack.template_file).read_text()))


# -- Service Catalog (product/catalog): read from the same session synth ------------------------------------
@pytest.fixture(scope="session")
def catalog_template(all_templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The catalog stack's template (portfolio, product versions, launch role, asset bucket)."""
    from product.catalog.catalog_stack import CATALOG_STACK_ID  # noqa: PLC0415

    (path,) = [path for path in all_templates if path.split("/")[-1] == CATALOG_STACK_ID]
    return all_templates[path]


@pytest.fixture(scope="session")
def product_template(assembly_dir: Path) -> dict[str, Any]:
    """The Service Catalog product's template (a ProductStack is an asset of the catalog, not a stack)."""
    (path,) = product_template_files(assembly_dir)
    return json.loads(path.read_text())
