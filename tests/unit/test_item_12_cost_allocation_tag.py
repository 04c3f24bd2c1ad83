"""Issue 11, item 12: the smoke suite reports whether the cost monitor's tag is an active cost-allocation tag.

Until it is (management account, up to 24 h), the deployment's CUSTOM anomaly monitor sees no cost. The
check warns and never fails; on the emulator, which lacks the operation, it is reported not emulated.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from product.constructs.cost_anomaly import COST_ALLOCATION_TAG
from product.profiles import ENVIRONMENT_NAMES
from tests.smoke.support import SmokeWarning
from tests.smoke.target import NotEmulated, Target
from tests.smoke.test_08_cost import monitored_tag, report_tag_status
from tests.unit.pipeline_actions import pipeline_actions
from tests.unit.test_pipeline_smoke import _project, _smoke, _statements

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = REPOSITORY_ROOT / "docs" / "runbooks" / "cost-anomaly-detection.md"


def _target(template: dict[str, Any], *, emulator: bool = False) -> Target:
    physical = {lid: f"physical-{lid}" for lid in template["Resources"]}
    return Target(
        stack_name="dev-PaymentStack",
        stack_id="arn:aws:cloudformation:us-east-1:111111111111:stack/dev-PaymentStack/x",
        region="us-east-1",
        account="111111111111",
        partition="aws",
        stage="dev",
        outputs={},
        stack_outputs={},
        output_sources={},
        template=template,
        parameters={},
        physical_ids=physical,
        resource_types={lid: r["Type"] for lid, r in template["Resources"].items()},
        not_emulated=NotEmulated(source="not-emulated.json" if emulator else None),
        endpoint="http://127.0.0.1:5000" if emulator else None,
    )


@pytest.fixture
def ce() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("ce", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _subject(logical_id: str, name: str | None = None) -> str:
    """The suite's `subject` for a resource the target has (nothing to skip)."""
    return f"physical-{logical_id}"


def _expect(stubber: Stubber, tags: list[dict[str, str]]) -> None:
    stubber.add_response(
        "list_cost_allocation_tags",
        {"CostAllocationTags": tags},
        {"TagKeys": [COST_ALLOCATION_TAG], "Type": "UserDefined"},
    )


def test_item_12_the_check_reads_the_monitor_tag_from_the_deployed_template(
    all_templates: dict[str, dict[str, Any]],
) -> None:
    for env in ENVIRONMENT_NAMES:
        template = all_templates[f"PaymentPipeline/{env}/PaymentStack"]
        assert monitored_tag(_target(template)) == (COST_ALLOCATION_TAG, env)


def test_item_12_active_tag_passes_without_a_warning(
    ce: tuple[Any, Stubber], all_templates: dict[str, dict[str, Any]], recwarn: pytest.WarningsRecorder
) -> None:
    client, stubber = ce
    _expect(stubber, [{"TagKey": COST_ALLOCATION_TAG, "Type": "UserDefined", "Status": "Active"}])
    notes: list[str] = []
    report_tag_status(_target(all_templates["PaymentPipeline/dev/PaymentStack"]), client, notes.append, _subject)
    assert not [w for w in recwarn if issubclass(w.category, SmokeWarning)]
    assert any("Active" in n for n in notes), notes


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([{"TagKey": COST_ALLOCATION_TAG, "Type": "UserDefined", "Status": "Inactive"}], "is Inactive"),
        ([], "not known to Billing yet"),
    ],
    ids=["inactive", "not-yet-billed"],
)
def test_item_12_inactive_or_unknown_tag_warns_and_says_how_to_activate(
    tags: list[dict[str, str]], expected: str, ce: tuple[Any, Stubber], all_templates: dict[str, dict[str, Any]]
) -> None:
    client, stubber = ce
    _expect(stubber, tags)
    notes: list[str] = []
    with pytest.warns(SmokeWarning, match=expected) as warned:
        report_tag_status(_target(all_templates["PaymentPipeline/dev/PaymentStack"]), client, notes.append, _subject)
    message = str(warned[0].message)
    assert "update-cost-allocation-tags-status" in message and "cost-anomaly-detection.md" in message
    assert any(expected in n for n in notes)


def test_item_12_a_member_account_that_cannot_read_billing_warns(
    ce: tuple[Any, Stubber], all_templates: dict[str, dict[str, Any]]
) -> None:
    client, stubber = ce
    stubber.add_client_error(
        "list_cost_allocation_tags", service_error_code="AccessDeniedException", service_message="denied"
    )
    with pytest.warns(SmokeWarning, match="AccessDeniedException.*management account"):
        report_tag_status(_target(all_templates["PaymentPipeline/dev/PaymentStack"]), client, lambda _: None, _subject)


def test_item_12_a_server_error_against_aws_warns_and_is_never_a_silent_pass(
    ce: tuple[Any, Stubber], all_templates: dict[str, dict[str, Any]]
) -> None:
    client, stubber = ce
    stubber.add_client_error("list_cost_allocation_tags", service_error_code="500", http_status_code=500)
    with pytest.warns(SmokeWarning, match="could not read"):
        report_tag_status(_target(all_templates["PaymentPipeline/dev/PaymentStack"]), client, lambda _: None, _subject)


def test_item_12_on_the_emulator_the_missing_operation_is_reported_not_emulated(
    all_templates: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    target = _target(all_templates["PaymentPipeline/dev/PaymentStack"], emulator=True)
    with mock_aws():  # moto 5.2.5 has no ListCostAllocationTags
        client = boto3.client("ce", region_name="us-east-1")
        expected = "not emulated: AWS::CE::AnomalyMonitor payment-cost-anomaly-dev .*no ListCostAllocationTags"
        with pytest.raises(pytest.skip.Exception, match=expected):
            report_tag_status(target, client, lambda _: None, _subject)


def test_item_12_the_html_report_shows_the_warning(tmp_path: Path) -> None:
    """A warned check stays passed and carries its warning into report.html and summary.json."""
    check_file = tmp_path / "test_warned.py"
    check_file.write_text(
        "import warnings\n"
        "from tests.smoke.support import SmokeWarning\n\n\n"
        "def test_tag():\n"
        '    """Cost-allocation tag active"""\n'
        "    warnings.warn(SmokeWarning('tag payment-deployment is Inactive'))\n"
    )
    html, summary = tmp_path / "report.html", tmp_path / "summary.json"
    command = [sys.executable, "-m", "pytest", str(check_file), "-p", "tests.smoke.conftest", "-p", "no:cacheprovider"]
    command += ["--rootdir", str(tmp_path), f"--smoke-html={html}", f"--smoke-summary={summary}", "-q"]
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    result = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 warning" in result.stdout
    document = json.loads(summary.read_text())
    (check,) = document["checks"]
    assert check["outcome"] == "passed" and check["warnings"] == ["tag payment-deployment is Inactive"]
    assert document["counts"]["warned"] == 1
    assert "tag payment-deployment is Inactive" in html.read_text()


@pytest.mark.parametrize("env", ENVIRONMENT_NAMES)
def test_item_12_smoke_role_may_read_the_tag_status(env: str, pipeline_template: dict[str, Any]) -> None:
    _, project = _project(pipeline_template, _smoke(pipeline_actions(pipeline_template), env))
    statement = _statements(pipeline_template, project)["ReadCostAllocationTagStatus"]
    assert statement["Action"] == "ce:ListCostAllocationTags"
    assert statement["Resource"] == "*"  # Cost Explorer's List actions support no resource-level permission


def test_item_12_runbook_says_the_smoke_suite_reports_the_tag() -> None:
    text = RUNBOOK.read_text()
    assert "ce:ListCostAllocationTags" in text and "tests/smoke/test_08_cost.py" in text
    assert "warning" in text.lower()
