"""The rehearsal end to end on the embedded emulator: the synthesized pipeline executed stage by stage.

Shares one synth, one emulator and one bootstrap (conftest); the source is a git repository of this
checkout's files. The synth action is reused (the assembly the session synthesized): running
`scripts/check` inside a test of `scripts/check` would recurse.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rehearsal import shims
from rehearsal.emulator import Emulator
from rehearsal.executor import SKIPPED, SUCCEEDED, RunResult
from rehearsal.pipeline_plan import PIPELINE_TYPE, TemplateValues, load_plan, pipelines_in
from tests.rehearsal.runs import run, stage_named

NOT_EMULATED_TYPES = {"AWS::CE::AnomalyMonitor", "AWS::WAFv2::LoggingConfiguration", "AWS::SNS::TopicPolicy"}
PROVIDED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::ApiGateway::Stage",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::S3::BucketPolicy",
}


# --- the product's pipeline -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev(emulator: Emulator, source_repo: Path, reports: Path, assembly: Path) -> tuple[RunResult, str]:
    # the session's emulator and source first: under scripts/check they start while its synth still runs
    return run(assembly, source_repo, reports, emulator, only_stage="dev")


def test_dev_stage_runs_as_synthesized_and_passes_its_smoke_build(dev: tuple[RunResult, str]) -> None:
    result, progress = dev
    assert result.exit_code == 0, progress
    statuses = {a.path: a.status for a in result.actions}
    source, synth = result.actions[0], next(a for a in result.actions if a.status == "Reused")
    assert source.status == SUCCEEDED and "git archive" in source.summary
    assert "--reuse-synth: its commands were NOT run" in synth.summary
    dev_actions = [a for a in result.actions if a.stage == "dev"]
    assert dev_actions and all(a.status == SUCCEEDED for a in dev_actions), statuses
    assert all(a.status == SKIPPED for a in result.actions if a.stage in ("staging", "prod")), statuses
    smoke = next(a for a in dev_actions if a.details.get("reports"))
    counts = smoke.details["reports"][0]["counts"]
    assert counts["tests"] > 50 and counts["failures"] == counts["errors"] == 0, counts
    runtimes = {r["runtime"]: r for r in smoke.details["runtimes"]}
    assert runtimes["python"]["used"].startswith(runtimes["python"]["requested"]) or runtimes["python"]["note"]
    for expected in (
        "Stage dev",
        "CREATE_COMPLETE",
        "API http://127.0.0.1:",
        "rehearsal summary",
        "PIPELINE REHEARSED",
    ):
        assert expected in progress, f"{expected!r} not in the progress output:\n{progress}"


def test_item_01_the_dev_smoke_build_installs_its_suite_in_the_install_phase_as_synthesized(
    dev: tuple[RunResult, str], assembly: Path
) -> None:
    """Issue 11, item 1: the smoke buildspec starts in CodeBuild's checkout (no .venv) on an image whose
    python3 has no pytest (rehearsal.build_image gives each build that). The install commands that ran are the
    synthesized buildspec's, verbatim, and the suite ran after them with its conftest (the HTML report)."""
    result, progress = dev
    smoke = next(a for a in result.actions if a.stage == "dev" and a.details.get("reports"))
    phases = {p["name"]: p["status"] for p in smoke.details["phases"]}
    assert phases["install"] == phases["build"] == "SUCCEEDED", (phases, progress)  # CodeBuild's phase status
    ((stack, logical_id),) = pipelines_in(assembly)
    template = stack.template
    properties = template["Resources"][logical_id]["Properties"]
    (action,) = [a for a in stage_named(properties, "dev")["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"]
    project = template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]
    values = TemplateValues(template, stack_name=stack.stack_name, account=stack.account, region=stack.region)
    synthesized = json.loads(values.resolve(project["Source"]["BuildSpec"]))["phases"]
    build_log = Path(smoke.log).read_text()
    install_log = build_log.split("Entering phase INSTALL", 1)[1].split("Phase complete: INSTALL", 1)[0]
    ran = re.findall(r"Running command (.*)", install_log)
    assert ran == synthesized["install"]["commands"], ran
    assert any(re.search(r" -m pip .*\binstall\b.* -r requirements-smoke\.txt$", command) for command in ran), ran
    assert Path(smoke.details["local_page"]).name == "report.html"  # written by the suite's conftest plugin


def test_dev_stage_passes_with_iam_enforced_and_its_functions_log_as_their_roles(
    dev: tuple[RunResult, str], emulator: Emulator
) -> None:
    result, _ = dev
    dev_actions = [a for a in result.actions if a.stage == "dev" and a.status == SUCCEEDED]
    reports = [a.details["iam"] for a in dev_actions]
    assert reports and all(r["enforced"] and r["denied"] == 0 for r in reports), reports
    principals = {p for r in reports for p in r["by_principal"]}
    functions = [p for p in principals if ":assumed-role/dev-PaymentStack-PaymentServiceFunctions" in p]
    assert len(functions) == 2, principals  # the API and the processor, each as its own role
    logs = emulator.client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="dev-PaymentStack-")["logGroups"]]
    for part in ("ApiLogs", "ProcessorLogs"):
        (group,) = [g for g in groups if f"PaymentServiceLogs{part}" in g]
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert streams, f"nothing delivered to {group}"
        events = logs.get_log_events(logGroupName=group, logStreamName=streams[0]["logStreamName"])["events"]
        assert any(e["message"].startswith("START RequestId: ") for e in events), group


def test_smoke_reports_are_the_builds_artifacts_and_the_run_page_links_them(
    dev: tuple[RunResult, str], reports: Path
) -> None:
    result, _ = dev
    smoke = next(a for a in result.actions if a.stage == "dev" and a.details.get("reports"))
    page = Path(smoke.details["local_page"])
    assert page.name == "report.html" and page.is_file()
    junit = Path(smoke.details["reports"][0]["files"][0])
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert suite is not None and int(suite.get("failures")) == int(suite.get("errors")) == 0
    run_page = (reports / "rehearsal" / "index.html").read_text()
    assert run_page.startswith("<!DOCTYPE html>") and "report.html" in run_page and "Smoke" in run_page
    summary = json.loads((reports / "rehearsal" / "summary.json").read_text())
    assert summary["pipeline"] == result.pipeline and summary["exit_code"] == 0


def test_skipped_resources_are_accounted_once_by_type_with_per_stage_counts(
    dev: tuple[RunResult, str], assembly: Path, emulator: Emulator
) -> None:
    result, progress = dev
    deploy = next(a for a in result.actions if a.stage == "dev" and a.details.get("stack"))
    document = json.loads(Path(deploy.details["not_emulated_file"]).read_text())
    skipped = {item["logical_id"] for item in document["skipped"]}
    template = json.loads(Path(deploy.details["template"]).read_text())
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in NOT_EMULATED_TYPES:
            assert logical_id in skipped, f"{resource['Type']} {logical_id} is not listed as not emulated"
    stack_id = emulator.client("cloudformation").describe_stacks(StackName=deploy.details["stack"])["Stacks"][0][
        "StackId"
    ]
    assert {s.logical_id for s in emulator.skipped.for_stack(stack_id)} == skipped
    provided = {i["type"] for i in result.provided_by_harness}
    assert provided >= PROVIDED_TYPES
    summary = progress[progress.index("rehearsal summary") :]
    for resource_type in NOT_EMULATED_TYPES:
        assert len(re.findall(rf"^  {re.escape(resource_type)} ", summary, re.M)) == 1, summary


def test_dev_smoke_build_runs_as_the_stages_smoke_role_and_the_poller_as_the_processor_role(
    dev: tuple[RunResult, str], emulator: Emulator
) -> None:
    """Item 3 of the IAM issue: the smoke suite calls AWS as the smoke role of the pipeline template (deployed
    into the emulator with the pipeline stack), API Gateway authorizes its SigV4 calls against that role, and
    Lambda's poller receives and deletes as the function's execution role."""
    result, _ = dev
    smoke = result.action("dev/Smoke")
    role = smoke.details["service_role"]
    assert ":role/PaymentPipeline-PipelinedevSmokeRole" in role, role
    assert emulator.authorization is not None
    decisions = emulator.authorization.since(0)
    session = role.rsplit("/", 1)[-1]
    suite = [d for d in decisions if f":assumed-role/{session}/AWSCodeBuild-" in d.principal]
    actions = {d.action for d in suite}
    assert {"cloudformation:DescribeStacks", "dynamodb:DescribeTable", "execute-api:Invoke"} <= actions, actions
    assert all(d.allowed for d in suite), [d.describe() for d in suite if not d.allowed]
    invokes = [d for d in suite if d.action == "execute-api:Invoke"]
    assert all(d.resource.startswith(f"arn:aws:execute-api:{emulator.region}:") for d in invokes), invokes
    poller = {
        d.action
        for d in decisions
        if "ServiceFunctionsProcessorRole" in d.principal
        and d.action.startswith("sqs:")
        and "dev-PaymentStack" in d.principal
    }
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= poller, poller


def test_the_pipeline_template_holds_one_pipeline(assembly: Path) -> None:
    found = pipelines_in(assembly)
    assert len(found) == 1 and found[0][0].template["Resources"][found[0][1]]["Type"] == PIPELINE_TYPE
    assert copy.deepcopy(load_plan(assembly).stages)  # planned with no error


def test_shims_are_documented() -> None:
    assert len({s.name for s in shims.SHIMS}) == len(shims.SHIMS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.name for s in shims.SHIMS if s.name not in readme]
    assert not missing, f"shims not described in the README: {missing}"
