"""The rehearsal end to end on the embedded emulator: dev deployed and smoked, a broken stage stopping
the promotion, and the serve mode. Shares one synth, one emulator and one bootstrap (conftest)."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from rehearsal import shims
from rehearsal.assembly import stage_stacks
from rehearsal.emulator import Emulator
from rehearsal.promotion import Console, Rehearsal, RehearsalResult, parse_faults
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from tests.smoke.api_client import ApiClient

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke"
# Resource types moto 5.2.5 has no CloudFormation provider for, present in every stage template.
NOT_EMULATED_TYPES = {"AWS::WAFv2::WebACL", "AWS::ApiGateway::Stage", "AWS::S3::BucketPolicy"}
# ... and those the harness creates through moto's service API instead (shims.PROVIDERS).
PROVIDED_TYPES = {"AWS::CloudWatch::Alarm", "AWS::Lambda::Alias"}


def _rehearsal(assembly: Path, reports: Path, emulator: Emulator, **kwargs: Any) -> tuple[Rehearsal, io.StringIO]:
    progress = io.StringIO()
    rehearsal = Rehearsal(
        assembly, reports=reports, console=Console(progress), emulator=emulator, processing_timeout_s=30, **kwargs
    )
    return rehearsal, progress


@pytest.fixture(scope="module")
def dev(assembly: Path, reports: Path, emulator: Emulator) -> tuple[RehearsalResult, str]:
    rehearsal, progress = _rehearsal(assembly, reports, emulator)
    with rehearsal:
        result = rehearsal.promote(["dev"], publish_catalog=False)
        rehearsal.write_summary(result)
        rehearsal.print_summary(result)
    return result, progress.getvalue()


def _summary(reports: Path, stage: str) -> dict[str, Any]:
    return json.loads((reports / "smoke" / stage / "summary.json").read_text())


def test_dev_stage_deploys_and_passes_its_smoke_suite(dev: tuple[RehearsalResult, str]) -> None:
    result, progress = dev
    stage = result.stage("dev")
    assert result.exit_code == 0, progress
    assert stage.outcome == "passed", progress
    assert stage.counts["passed"] > 0 and stage.counts["failed"] == stage.counts["error"] == 0
    for expected in (
        "dev: cdk deploy",
        "CREATE_COMPLETE",
        "dev: API http://127.0.0.1:",
        "dev: smoke PASSED",
        "rehearsal summary",
        "checks executed against the emulator",
        "PROMOTION REHEARSED",
    ):
        assert expected in progress, f"{expected!r} not in the progress output:\n{progress}"
    print(f"\ndev: {stage.counts}, {stage.executed_percent}% of smoke checks executed against the emulator")


def test_reports_exist_and_parse(dev: tuple[RehearsalResult, str], reports: Path) -> None:
    stage_dir = reports / "smoke" / "dev"
    summary = _summary(reports, "dev")
    suite = ET.parse(stage_dir / "junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None
    assert int(suite.get("tests")) == summary["total"]
    assert int(suite.get("failures")) == int(suite.get("errors")) == 0
    skipped = [case.find("skipped") for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert len(skipped) == summary["counts"]["not emulated"] > 0
    assert all(s.get("message", "").startswith("not emulated: ") for s in skipped)

    html = (stage_dir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    external = _ExternalReferences()
    external.feed(html)
    assert external.found == [], f"the report is not self-contained: {external.found}"
    assert all(check["nodeid"] in html for check in summary["checks"])
    assert "Resources the emulator did not create" in html and "Emulator shims" in html
    assert summary["executed_percent"] == round(100 * summary["executed"] / summary["total"], 1)
    rehearsal_summary = json.loads((reports / "rehearsal" / "summary.json").read_text())
    assert rehearsal_summary["stages"][0]["reports"]["html"].endswith("smoke/dev/report.html")


def test_skipped_resources_are_accounted_and_never_pass(
    dev: tuple[RehearsalResult, str], reports: Path, emulator: Emulator, assembly: Path
) -> None:
    result, _ = dev
    document = json.loads((reports / "smoke" / "dev" / "not-emulated.json").read_text())
    skipped = {item["logical_id"]: item for item in document["skipped"]}
    template = stage_stacks(assembly)["dev"].template
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in NOT_EMULATED_TYPES:
            assert logical_id in skipped, f"{resource['Type']} {logical_id} is not listed as not emulated"
    stack_id = emulator.client("cloudformation").describe_stacks(StackName="dev-PaymentStack")["Stacks"][0]["StackId"]
    assert {s.logical_id for s in emulator.skipped.for_stack(stack_id)} == set(skipped)
    assert result.stage("dev").not_emulated == document["skipped"]

    checks = _summary(reports, "dev")["checks"]
    provided = {s.logical_id for s in emulator.skipped.provided_for_stack(stack_id)}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in PROVIDED_TYPES:
            assert logical_id in provided and logical_id not in skipped, logical_id
    alarms = [c for c in checks if "test_alarm[" in c["nodeid"]]
    assert alarms and all(c["outcome"] == "passed" for c in alarms)  # created by the harness, then checked
    for check in checks:
        names_skipped = any(f"{s['type']} {s['name']}" in check["resources"] for s in document["skipped"])
        if names_skipped:
            assert check["outcome"] == "not emulated", f"{check['nodeid']} looked at a skipped resource"
        if check["outcome"] == "not emulated":
            assert check["message"].startswith("not emulated: AWS::"), check["message"]


def test_eventbridge_rule_from_cloudformation_delivers_to_sqs(
    dev: tuple[RehearsalResult, str], emulator: Emulator
) -> None:
    """moto itself delivers PaymentCreated from the CloudFormation-made rule to the queue (no harness help)."""
    probe = {
        "EventBusName": "payment-events-dev",
        "Source": "payments.api",
        "DetailType": "PaymentCreated",
        "Detail": '{"probe": 1}',
    }
    emulator.client("events").put_events(Entries=[probe])
    sqs = emulator.client("sqs")
    url = sqs.get_queue_url(QueueName="payment-events-dev")["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10).get("Messages", [])
    assert any(json.loads(m["Body"]).get("detail") == {"probe": 1} for m in messages)


def test_broken_stage_fails_its_smoke_suite_and_stops_promotion(
    assembly: Path, reports: Path, emulator: Emulator
) -> None:
    faults = parse_faults(["payment-api-staging=http-500"])
    rehearsal, progress = _rehearsal(assembly, reports, emulator, faults=faults)
    with rehearsal:
        result = rehearsal.promote(["staging", "prod"], approve=True)
    staging = result.stage("staging")
    assert result.exit_code == 1
    assert staging.outcome == "failed", progress.getvalue()
    assert any("creates a pending payment" in failure for failure in staging.failures), staging.failures
    assert result.stage("prod").outcome == "not reached"
    assert "promotion STOPPED at staging" in progress.getvalue()
    with pytest.raises(ClientError):  # prod was never deployed
        emulator.client("cloudformation").describe_stacks(StackName="prod-PaymentStack")
    suite = ET.parse(reports / "smoke" / "staging" / "junit.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("failures")) + int(suite.get("errors")) > 0


def test_serve_mode_prints_one_json_line_and_serves_the_api(assembly: Path, reports: Path, emulator: Emulator) -> None:
    rehearsal, _ = _rehearsal(assembly, reports, emulator)
    out, stop, served = io.StringIO(), threading.Event(), {}

    def serve() -> None:
        with rehearsal:
            served["line"] = rehearsal.serve_until("prod", out=out, stop=stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 90
    while not out.getvalue().endswith("\n") and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        lines = out.getvalue().splitlines()
        assert len(lines) == 1, lines
        line = json.loads(lines[0])
        assert line["api_url"].startswith("http://127.0.0.1:") and line["api_url"].endswith("/prod/")
        assert line["emulator_endpoint"] == emulator.endpoint
        assert line["outputs"]["Environment"] == "prod"
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY_ID,
            aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
            region_name=line["region"],
        )
        api = ApiClient(line["api_url"], session, line["region"])
        unknown = api.read("3f8e4c8e-6a51-4c8f-9b1e-2f1d0c9a7b66")
        assert unknown.status == 404 and unknown.json()["error"]["code"] == "payment_not_found"
        assert api.request("GET", "payments/3f8e4c8e-6a51-4c8f-9b1e-2f1d0c9a7b66", sign=False).status == 403
        # The catalog launch helper's way in: --stack-name, everything read from the stack (API_URL excepted).
        env = {
            **emulator.environment(),
            "API_URL": line["api_url"],
            "SMOKE_NOT_EMULATED_FILE": line["not_emulated_file"],
        }
        smoke = subprocess.run(
            [
                str(SMOKE),
                "--stack-name",
                "prod-PaymentStack",
                "--report-dir",
                str(reports / "by-stack-name"),
                "--",
                "-k",
                "test_01_outputs or test_06_compute",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert smoke.returncode == 0, smoke.stdout[-3000:]
        by_name = json.loads((reports / "by-stack-name" / "summary.json").read_text())
        assert by_name["context"]["stage"] == "prod" and by_name["counts"]["passed"] > 20
    finally:
        stop.set()
        thread.join(timeout=30)
    assert served["line"]["stack_name"] == "prod-PaymentStack"


class _ExternalReferences(HTMLParser):
    """Collects anything a browser would fetch: scripts, stylesheets, images, frames."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("script", "img", "iframe", "link") and (values.get("src") or values.get("href")):
            self.found.append(f"<{tag} {values}>")


def test_shims_are_documented() -> None:
    assert len({s.name for s in shims.SHIMS}) == len(shims.SHIMS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.name for s in shims.SHIMS if s.name not in readme]
    assert not missing, f"shims not described in the README: {missing}"
