"""The rehearsal end to end on the embedded emulator: the synthesized pipeline executed stage by stage.

Shares one synth, one emulator and one bootstrap (conftest); the source is a git repository of this
checkout's files. The synth action is reused (the assembly the session synthesized): running
`scripts/check` inside a test of `scripts/check` would recurse.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from rehearsal import actions, iam, run_report, shims
from rehearsal.assembly import stacks
from rehearsal.emulator import Emulator
from rehearsal.executor import FAILED, NOT_EMULATED, SKIPPED, SUCCEEDED, Console, PipelineRehearsal, RunResult
from rehearsal.pipeline_plan import PIPELINE_TYPE, TemplateValues, load_plan, pipelines_in
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from tests.rehearsal.assembly_edits import write_edited_template
from tests.smoke.api_client import ApiClient

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke"
NOT_EMULATED_TYPES = {"AWS::CE::AnomalyMonitor", "AWS::WAFv2::LoggingConfiguration", "AWS::SNS::TopicPolicy"}
PROVIDED_TYPES = {
    "AWS::CloudWatch::Alarm",
    "AWS::Lambda::Alias",
    "AWS::ApiGateway::Stage",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
    "AWS::S3::BucketPolicy",
}


def _rehearse(
    assembly: Path, repo: Path, reports: Path, emulator: Emulator, **kwargs: Any
) -> tuple[PipelineRehearsal, io.StringIO]:
    progress = io.StringIO()
    rehearsal = PipelineRehearsal(
        assembly,
        repository=repo,
        reports=reports,
        console=Console(progress),
        emulator=emulator,
        reuse_synth=True,
        **kwargs,
    )
    return rehearsal, progress


def _run(assembly: Path, repo: Path, reports: Path, emulator: Emulator, **kwargs: Any) -> tuple[RunResult, str]:
    rehearsal, progress = _rehearse(assembly, repo, reports, emulator, **kwargs)
    with rehearsal:
        result = rehearsal.run()
        json_file = run_report.write_json(result, reports)
        page = run_report.write_html(result, reports)
        run_report.print_summary(result, lambda text: progress.write(text + "\n"), html_page=page, json_file=json_file)
    return result, progress.getvalue()


def _edited(assembly: Path, tmp_path: Path, edit: Callable[[dict[str, Any], dict[str, Any]], None]) -> Path:
    """A copy of the assembly whose pipeline template `edit(template, pipeline properties)` changed by hand."""
    copied = tmp_path / "cdk.out"
    shutil.copytree(assembly, copied)
    (stack, logical_id), *_ = pipelines_in(copied)
    template = json.loads(stack.template_file.read_text())
    edit(template, template["Resources"][logical_id]["Properties"])
    write_edited_template(stack.template_file, json.dumps(template, indent=1))
    return copied


def _stage(properties: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in properties["Stages"] if s["Name"] == name)


def _source_of(properties: dict[str, Any]) -> tuple[str, str]:
    """(output artifact, namespace) of the pipeline's source action."""
    action = properties["Stages"][0]["Actions"][0]
    return action["OutputArtifacts"][0]["Name"], action["Namespace"]


# --- the product's pipeline -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev(assembly: Path, source_repo: Path, reports: Path, emulator: Emulator) -> tuple[RunResult, str]:
    return _run(assembly, source_repo, reports, emulator, only_stage="dev")


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


def test_install_step_removed_fails_dev_smoke_naming_the_missing_module(
    assembly: Path, source_repo: Path, reports: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Issue 12 (a): without its install step, the smoke build cannot start in a fresh checkout."""

    def drop_install(template: dict[str, Any], properties: dict[str, Any]) -> None:
        smoke = next(a for a in _stage(properties, "dev")["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild")
        project = template["Resources"][smoke["Configuration"]["ProjectName"]["Ref"]]["Properties"]
        values = TemplateValues(template, stack_name="PaymentPipeline", account="111111111111", region="us-east-1")
        buildspec = json.loads(values.resolve(project["Source"]["BuildSpec"]))
        for phase in buildspec["phases"].values():
            phase["commands"] = [c for c in phase.get("commands", []) if "pip install" not in c]
        project["Source"]["BuildSpec"] = json.dumps(buildspec)

    edited = _edited(assembly, tmp_path, drop_install)
    result, progress = _run(edited, source_repo, tmp_path / "reports", emulator, only_stage="dev")
    assert result.exit_code == 1, progress
    failed = [a for a in result.actions if a.status == FAILED]
    assert [a.stage for a in failed] == ["dev"] and failed[0].details.get("project"), progress
    assert f"PIPELINE FAILED at {failed[0].path}" in progress
    # the last log lines name the modules the fresh checkout lacks (scripts/smoke: "smoke: pytest, boto3, botocore
    # are not installed for ...")
    assert re.search(r"smoke: [a-z, ]*boto3[a-z, ]* (is|are) not installed", progress), progress
    assert "last " in progress and "lines of" in progress


def test_the_assets_action_publishes_as_the_asset_role_reading_with_the_lookup_roles(
    assembly: Path, source_repo: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Only a whole run reaches the Assets action, and a stage's deploy (`cdk deploy`) publishes what it lacks:
    here the action runs alone, IAM enforced, with its assets removed first (else the CLI finds them published
    and checks nothing). `cdk publish-assets` reads the bootstrap version with a role of the stack's account:
    the asset role may assume the lookup roles, not the deploy roles (pipeline/asset_publishing.py)."""
    s3 = emulator.client("s3")
    keys: dict[str, set[str]] = {}
    for manifest in assembly.glob("assembly-*/*.assets.json"):
        for entry in json.loads(manifest.read_text())["files"].values():
            if entry["source"]["path"].endswith(".template.json"):
                continue  # templates reach CloudFormation from the pipeline's artifact, not this action
            for destination in entry["destinations"].values():
                bucket = destination["bucketName"].replace("${AWS::AccountId}", emulator.account)
                keys.setdefault(bucket.replace("${AWS::Region}", emulator.region), set()).add(destination["objectKey"])
    for bucket, names in keys.items():
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", []) if _bucket_exists(s3, bucket) else []
        for name in names & {o["Key"] for o in listed}:
            s3.delete_object(Bucket=bucket, Key=name)

    reports = tmp_path / "reports"
    result, progress = _run(assembly, source_repo, reports, emulator, only_stage="Assets")
    assert result.exit_code == 0, progress
    (assets,) = [a for a in result.actions if a.stage == "Assets"]
    assert assets.status == SUCCEEDED, progress
    (log,) = reports.rglob(f"{assets.name}.log")
    text = log.read_text()
    assert "service role arn:aws:iam::111111111111:role/PaymentPipeline-PipelineAssetsFileRole" in text
    assert "reads the bootstrap version with the lookup role" in text
    assert "could not be used to assume" not in text  # every role it needed, it could assume
    for bucket, names in keys.items():
        assert names <= {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_a_deploy_after_the_assets_stage_needs_its_assets_in_place(assembly: Path, emulator: Emulator) -> None:
    """In a run with the Assets stage a deploy action fails on an asset that stage did not publish, as a
    CloudFormation action would (the CLI's deploy would publish it and hide the failed Assets action)."""
    (dev,) = [s for s in stacks(assembly) if s.display_name == "PaymentPipeline/dev/PaymentStack"]
    needed = dev.file_assets(emulator.account, emulator.region)
    assert needed and not [a for a in needed if a.source_path.endswith(".template.json")]
    s3 = emulator.client("s3")
    state, action = SimpleNamespace(emulator=emulator), SimpleNamespace(path="dev/PaymentStack.Deploy")
    # The emulator is shared: what the test puts there it removes, and a real asset it deletes it puts back.
    saved: dict[tuple[str, str], bytes | None] = {}
    for asset in needed:
        if not _bucket_exists(s3, asset.bucket):
            s3.create_bucket(Bucket=asset.bucket)
        try:
            saved[asset.bucket, asset.key] = s3.get_object(Bucket=asset.bucket, Key=asset.key)["Body"].read()
        except s3.exceptions.ClientError:
            saved[asset.bucket, asset.key] = None
            s3.put_object(Bucket=asset.bucket, Key=asset.key, Body=b"placeholder")
    try:
        actions._require_published_assets(state, dev, action)  # type: ignore[arg-type]
        gone = needed[0]
        s3.delete_object(Bucket=gone.bucket, Key=gone.key)
        with pytest.raises(actions.ActionFailedError) as refused:
            actions._require_published_assets(state, dev, action)  # type: ignore[arg-type]
    finally:
        for (bucket, key), body in saved.items():
            if body is None:
                s3.delete_object(Bucket=bucket, Key=key)
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert f"{gone.source_path} (s3://{gone.bucket}/{gone.key})" in str(refused.value)
    assert "did not publish" in str(refused.value) and "dev/PaymentStack.Deploy" in str(refused.value)


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        return False
    return True


# --- a pipeline with another stage and step, no change to the rehearsal ---------------------------------

GREET = {
    "version": "0.2",
    "env": {"shell": "bash", "variables": {"PLACE": "qa"}, "exported-variables": ["GREETING"]},
    "phases": {
        "install": {"runtime-versions": {"python": "3.12"}},
        "build": {
            "commands": [
                'export GREETING="hello from ${PLACE} at ${COMMIT:0:7}"',
                "test ! -e .venv && test ! -e node_modules && test -f scripts/smoke",
                "! python3 -c 'import boto3' 2>/dev/null",  # the host's packages are not importable
                "! command -v cdk",  # node_modules/.bin is not on PATH
                'mkdir -p out && echo \'<testsuite tests="1" failures="0" errors="0" skipped="0"/>\' > out/qa.xml',
            ]
        },
    },
    "reports": {"qa-report": {"files": ["qa.xml"], "base-directory": "out"}},
    "artifacts": {"base-directory": "out", "files": ["**/*"]},
}
CHECK = {
    "version": "0.2",
    "env": {"shell": "bash"},
    "phases": {"build": {"commands": ['test "$SEEN" = "hello from qa at ${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}"']}},
}


BUILD_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {"AssumeRolePolicyDocument": iam.trust_policy({"Service": "codebuild.amazonaws.com"})},
}


def _with_qa_stage(seen: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def edit(template: dict[str, Any], properties: dict[str, Any]) -> None:
        artifact, namespace = _source_of(properties)
        for name, spec in (("QaGreet", GREET), ("QaCheck", CHECK)):
            template["Resources"][name] = {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {
                    "Name": f"qa-{name.lower()}",
                    "Environment": {"Image": "aws/codebuild/standard:7.0", "ComputeType": "BUILD_GENERAL1_SMALL"},
                    "Source": {"Type": "CODEPIPELINE", "BuildSpec": json.dumps(spec)},
                    "ServiceRole": {"Fn::GetAtt": ["QaBuildRole", "Arn"]},
                },
            }
        template["Resources"]["QaBuildRole"] = BUILD_ROLE

        def build(name: str, project: str, order: int, variables: dict[str, str], **extra: Any) -> dict[str, Any]:
            return {
                "Name": name,
                "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
                "Configuration": {
                    "ProjectName": {"Ref": project},
                    "EnvironmentVariables": json.dumps(
                        [{"name": k, "type": "PLAINTEXT", "value": v} for k, v in variables.items()]
                    ),
                },
                "InputArtifacts": [{"Name": artifact}],
                "RunOrder": order,
                **extra,
            }

        qa = {
            "Name": "qa",
            "Actions": [
                build(
                    "Greet",
                    "QaGreet",
                    1,
                    {"COMMIT": f"#{{{namespace}.CommitId}}"},
                    Namespace="qa",
                    OutputArtifacts=[{"Name": "Qa_Output"}],
                ),
                build("Check", "QaCheck", 2, {"SEEN": seen}),
                {
                    "Name": "Notify",
                    "ActionTypeId": {"Category": "Invoke", "Owner": "AWS", "Provider": "Lambda", "Version": "1"},
                    "Configuration": {"FunctionName": "notify-qa"},
                    "RunOrder": 3,
                },
            ],
        }
        stages = properties["Stages"]
        stages.insert([s["Name"] for s in stages].index("staging") + 1, qa)

    return edit


def test_a_pipeline_with_an_extra_stage_and_steps_is_rehearsed_as_synthesized(
    assembly: Path, source_repo: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Issue 12 (b): a stage the rehearsal has never heard of, variables between its steps, an action type it
    cannot run (not emulated, the run goes on since nothing reads it)."""
    edited = _edited(assembly, tmp_path, _with_qa_stage("#{qa.GREETING}"))
    plan = load_plan(edited)
    names = [s.name for s in plan.stages]
    assert names.index("staging") + 1 == names.index("qa") < names.index("prod")
    result, progress = _run(edited, source_repo, tmp_path / "reports", emulator, only_stage="qa")
    assert result.exit_code == 0, progress
    statuses = {a.path: a.status for a in result.actions}
    assert statuses["qa/Greet"] == statuses["qa/Check"] == SUCCEEDED, progress
    assert statuses["qa/Notify"] == NOT_EMULATED
    notify = result.action("qa/Notify")
    assert "no local executor for action type Invoke/AWS/Lambda v1" in notify.summary
    assert "the run goes on: no later action reads its artifacts or variables" in notify.summary
    greet = result.action("qa/Greet")
    assert greet.details["exported"]["GREETING"].startswith("hello from qa at ")
    assert greet.details["reports"][0]["counts"]["tests"] == 1
    assert (tmp_path / "reports" / "rehearsal" / "artifacts" / "Qa_Output" / "qa.xml").is_file()
    assert all(a.status == SKIPPED for a in result.actions if a.stage in ("dev", "staging", "prod")), statuses


def test_an_action_variable_that_does_not_resolve_fails_that_action(
    assembly: Path, source_repo: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Issue 12 (c)."""
    edited = _edited(assembly, tmp_path, _with_qa_stage("#{qa.FAREWELL}"))
    result, progress = _run(edited, source_repo, tmp_path / "reports", emulator, only_stage="qa")
    assert result.exit_code == 1
    check = result.action("qa/Check")
    assert check.status == FAILED
    assert "action qa/Check: configuration.EnvironmentVariables refers to #{qa.FAREWELL}" in check.summary
    assert "namespace 'qa' has no variable 'FAREWELL' (it has: GREETING)" in check.summary
    assert "PIPELINE FAILED at qa/Check" in progress
    assert result.action("qa/Notify").status == "Not run"


# --- serving -------------------------------------------------------------------------------------------


def test_serve_mode_prints_one_json_line_and_serves_the_api(
    assembly: Path, source_repo: Path, reports: Path, emulator: Emulator
) -> None:
    rehearsal, _ = _rehearse(assembly, source_repo, reports, emulator, only_stage="prod")
    out, stop, served = io.StringIO(), threading.Event(), {}

    def serve() -> None:
        with rehearsal:
            served["line"] = rehearsal.serve_until(out=out, stop=stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not out.getvalue().endswith("\n") and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        lines = out.getvalue().splitlines()
        assert len(lines) == 1, lines
        line = json.loads(lines[0])
        assert line["api_url"].startswith("http://127.0.0.1:") and line["api_url"].endswith("/prod/")
        assert line["emulator_endpoint"] == emulator.endpoint and line["outputs"]["Environment"] == "prod"
        session = boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY_ID,
            aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
            region_name=line["region"],
        )
        api = ApiClient(line["api_url"], session, line["region"])
        unknown = api.read("3f8e4c8e-6a51-4c8f-9b1e-2f1d0c9a7b66")
        assert unknown.status == 404 and unknown.json()["error"]["code"] == "payment_not_found"
        assert api.request("GET", "payments/3f8e4c8e-6a51-4c8f-9b1e-2f1d0c9a7b66", sign=False).status == 403
        env = {
            **emulator.environment(),
            "API_URL": line["api_url"],
            "SMOKE_NOT_EMULATED_FILE": line["not_emulated_file"],
        }
        smoke = subprocess.run(
            [
                str(SMOKE),
                "--stack-name",
                line["stack_name"],
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
    finally:
        stop.set()
        thread.join(timeout=30)
    assert served["line"]["stack_name"] == "prod-PaymentStack"


def test_the_pipeline_template_holds_one_pipeline(assembly: Path) -> None:
    found = pipelines_in(assembly)
    assert len(found) == 1 and found[0][0].template["Resources"][found[0][1]]["Type"] == PIPELINE_TYPE
    assert copy.deepcopy(load_plan(assembly).stages)  # planned with no error


def test_shims_are_documented() -> None:
    assert len({s.name for s in shims.SHIMS}) == len(shims.SHIMS)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [s.name for s in shims.SHIMS if s.name not in readme]
    assert not missing, f"shims not described in the README: {missing}"


# --- the approval ----------------------------------------------------------------------------------------

REPORT = {
    "version": "0.2",
    "env": {"shell": "bash", "exported-variables": ["REPORT_URL"]},
    "phases": {
        "build": {
            "commands": [
                'export REPORT_URL="https://us-east-1.console.aws.amazon.com/codesuite/codebuild/111111111111/projects/'
                '${CODEBUILD_BUILD_ID%%:*}/build/${CODEBUILD_BUILD_ID/:/%3A}/reports?region=us-east-1"',
                "mkdir -p out && echo '<testsuite tests=\"1\"/>' > out/junit.xml",
                "echo '<html></html>' > out/report.html",
            ]
        }
    },
    "reports": {"checks": {"files": ["junit.xml"], "base-directory": "out"}},
    "artifacts": {"base-directory": "out", "files": ["**/*"]},
}


def _approval_pipeline(tmp_path: Path) -> Path:
    """A two-stage pipeline of its own: a build that exports its console report link, then an approval."""
    source = {
        "Name": "Checkout",
        "ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection", "Version": "1"},
        "Configuration": {"FullRepositoryId": "example-org/x", "BranchName": "main", "ConnectionArn": "arn:c"},
        "OutputArtifacts": [{"Name": "src"}],
        "Namespace": "Src",
    }
    build = {
        "Name": "Checks",
        "ActionTypeId": {"Category": "Test", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
        "Configuration": {"ProjectName": {"Ref": "Checks"}},
        "InputArtifacts": [{"Name": "src"}],
        "OutputArtifacts": [{"Name": "checked"}],
        "Namespace": "Checked",
    }
    approval = {
        "Name": "Release",
        "ActionTypeId": {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
        "Configuration": {
            "CustomData": "Release #{Src.CommitId}? Report: #{Checked.REPORT_URL}",
            "ExternalEntityLink": "#{Checked.REPORT_URL}",
        },
        "RunOrder": 2,
    }
    template = {
        "Resources": {
            "Checks": {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {
                    "Name": "checks",
                    "Source": {"BuildSpec": json.dumps(REPORT)},
                    "Environment": {},
                    "ServiceRole": {"Fn::GetAtt": ["ChecksRole", "Arn"]},
                },
            },
            "ChecksRole": BUILD_ROLE,
            "Pipeline": {
                "Type": "AWS::CodePipeline::Pipeline",
                "Properties": {
                    "Name": "tiny",
                    "RoleArn": {"Fn::GetAtt": ["ChecksRole", "Arn"]},
                    "ArtifactStore": {"Type": "S3", "Location": "tiny-artifacts"},
                    "Stages": [{"Name": "Source", "Actions": [source]}, {"Name": "Gate", "Actions": [build, approval]}],
                },
            },
        }
    }
    assembly = tmp_path / "tiny.out"
    assembly.mkdir()
    (assembly / "Tiny.template.json").write_text(json.dumps(template))
    stack = {
        "type": "aws:cloudformation:stack",
        "environment": "aws://111111111111/us-east-1",
        "properties": {"templateFile": "Tiny.template.json", "stackName": "Tiny"},
    }
    (assembly / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": {"Tiny": stack}}))
    return assembly


def test_an_approval_without_a_terminal_stops_the_run_with_exit_0_and_its_link_is_local(
    source_repo: Path, emulator: Emulator, tmp_path: Path
) -> None:
    assembly = _approval_pipeline(tmp_path)
    rehearsal, progress = _rehearse(assembly, source_repo, tmp_path / "reports", emulator)
    rehearsal.reuse_synth = False  # nothing in this pipeline synthesizes
    with rehearsal:
        result = rehearsal.run()
    assert result.exit_code == 0, progress.getvalue()
    release = result.action("Gate/Release")
    assert release.status == "Stopped at approval"
    assert "no terminal to ask and --approve not given" in release.summary
    assert result.verdict == "PIPELINE STOPPED AT APPROVAL Gate/Release"
    page = Path(result.action("Gate/Checks").details["local_page"])
    assert page.name == "report.html" and page.is_file()
    assert f"review {page.resolve().as_uri()}" in progress.getvalue()  # the console link became the local page
    assert "console.aws.amazon.com" not in progress.getvalue().split("Release (Approval")[1]


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
