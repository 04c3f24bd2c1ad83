"""The contract between product, pipeline, smoke suite and rehearsal (product/contract.py) holds and stays CDK-free."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from aws_cdk.assertions import Template

from product.contract import (
    IDENTIFYING_OUTPUTS,
    SMOKE_OUTPUTS,
    SMOKE_TAG,
    SMOKE_TAG_VARIABLE,
    Output,
    ResourceNames,
    env_var_name,
)
from product.profiles import ENVIRONMENT_NAMES
from tests.unit.conftest import REPOSITORY_ROOT

OUTPUT_IDS = {value for name, value in vars(Output).items() if name.isupper()}


def test_output_names_become_upper_snake_env_vars() -> None:
    names = {
        "ApiUrl": "API_URL",
        "PaymentsTableName": "PAYMENTS_TABLE_NAME",
        "WebAclArn": "WEB_ACL_ARN",
        "KeyArn": "KEY_ARN",
        "EventQueueUrl": "EVENT_QUEUE_URL",
    }
    for output_id, name in names.items():
        assert env_var_name(output_id) == name


def test_every_output_variable_name_is_distinct() -> None:
    assert len({env_var_name(output_id) for output_id in OUTPUT_IDS}) == len(OUTPUT_IDS)


def test_the_suite_can_find_its_stack_from_what_the_smoke_step_carries() -> None:
    missing = set(IDENTIFYING_OUTPUTS) - set(SMOKE_OUTPUTS)
    assert not missing, f"the suite identifies its stack by {sorted(missing)}, which the smoke step does not pass"


def test_the_stage_stacks_export_exactly_the_contracts_outputs(env_template: tuple[str, Template]) -> None:
    _, template = env_template
    assert set(template.to_json()["Outputs"]) == OUTPUT_IDS - {Output.EDGE_URL}


def test_the_edge_url_is_exported_with_shield_protection(opt_ins_template: Template) -> None:
    assert set(opt_ins_template.to_json()["Outputs"]) == OUTPUT_IDS


def test_resource_names_end_in_the_suffix() -> None:
    names = ResourceNames("qa")
    values = [
        getattr(names, attribute)
        for attribute in dir(ResourceNames)
        if not attribute.startswith("_") and isinstance(getattr(ResourceNames, attribute), property)
    ]
    values += [names.audit_bucket("111111111111", "us-east-1"), names.alert_topic("cost"), names.alarm("api-5xx")]
    assert values and all("qa" in value for value in values), values


def test_the_smoke_step_tags_smoke_data_as_the_suite_does(pipeline_template: dict[str, Any]) -> None:
    smoke_steps = [
        {v["Name"]: v["Value"] for v in resource["Properties"]["Environment"].get("EnvironmentVariables", [])}
        for resource in pipeline_template["Resources"].values()
        if resource["Type"] == "AWS::CodeBuild::Project"
        and "scripts/smoke" in str(resource["Properties"]["Source"].get("BuildSpec", ""))
    ]
    assert len(smoke_steps) == len(ENVIRONMENT_NAMES), "one smoke project per stage"
    for variables in smoke_steps:
        assert variables.get(SMOKE_TAG_VARIABLE) == SMOKE_TAG == "purpose=smoke-test", variables


@pytest.mark.parametrize("module", ["product.contract", "tests.smoke.target"])
def test_the_contract_imports_no_cdk(module: str) -> None:
    """The smoke suite and the rehearsal import the contract where the CDK is not installed."""
    code = (
        f"import sys, {module}; "
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'constructs', 'jsii')); "
        "print(loaded[:3]); sys.exit(bool(loaded))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=REPOSITORY_ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, f"importing {module} loads the CDK: {completed.stdout}{completed.stderr}"
