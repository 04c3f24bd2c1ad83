"""Pipelines edited by hand, rehearsed with no change to the rehearsal: a build step without its install
commands, a stage and steps it has never heard of, a variable that does not resolve, an approval.

On the session's synth, emulator and bootstrap (conftest); each run deploys the edited pipeline stack first, as
its self-mutation would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rehearsal.emulator import Emulator
from rehearsal.executor import FAILED, NOT_EMULATED, SKIPPED, SUCCEEDED
from rehearsal.pipeline_plan import TemplateValues, load_plan
from tests.rehearsal.runs import BUILD_ROLE, edited_copy, rehearse, run, source_of, stage_named


def test_install_step_removed_fails_dev_smoke_naming_the_missing_module(
    assembly: Path, source_repo: Path, reports: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """Issue 12 (a): without its install step, the smoke build cannot start in a fresh checkout."""

    def drop_install(template: dict[str, Any], properties: dict[str, Any]) -> None:
        smoke = next(
            a for a in stage_named(properties, "dev")["Actions"] if a["ActionTypeId"]["Provider"] == "CodeBuild"
        )
        project = template["Resources"][smoke["Configuration"]["ProjectName"]["Ref"]]["Properties"]
        values = TemplateValues(template, stack_name="PaymentPipeline", account="111111111111", region="us-east-1")
        buildspec = json.loads(values.resolve(project["Source"]["BuildSpec"]))
        for phase in buildspec["phases"].values():
            phase["commands"] = [c for c in phase.get("commands", []) if "-r requirements-smoke.txt" not in c]
        project["Source"]["BuildSpec"] = json.dumps(buildspec)

    edited = edited_copy(assembly, tmp_path, drop_install)
    result, progress = run(edited, source_repo, tmp_path / "reports", emulator, only_stage="dev")
    assert result.exit_code == 1, progress
    failed = [a for a in result.actions if a.status == FAILED]
    assert [a.stage for a in failed] == ["dev"] and failed[0].details.get("project"), progress
    assert f"PIPELINE FAILED at {failed[0].path}" in progress
    # the last log lines name the modules the fresh checkout lacks (scripts/smoke: "smoke: pytest, boto3, botocore
    # are not installed for ...")
    assert re.search(r"smoke: [a-z, ]*boto3[a-z, ]* (is|are) not installed", progress), progress
    assert "last " in progress and "lines of" in progress


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


def _with_qa_stage(seen: str) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def edit(template: dict[str, Any], properties: dict[str, Any]) -> None:
        artifact, namespace = source_of(properties)
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
    edited = edited_copy(assembly, tmp_path, _with_qa_stage("#{qa.GREETING}"))
    plan = load_plan(edited)
    names = [s.name for s in plan.stages]
    assert names.index("staging") + 1 == names.index("qa") < names.index("prod")
    result, progress = run(edited, source_repo, tmp_path / "reports", emulator, only_stage="qa")
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
    edited = edited_copy(assembly, tmp_path, _with_qa_stage("#{qa.FAREWELL}"))
    result, progress = run(edited, source_repo, tmp_path / "reports", emulator, only_stage="qa")
    assert result.exit_code == 1
    check = result.action("qa/Check")
    assert check.status == FAILED
    assert "action qa/Check: configuration.EnvironmentVariables refers to #{qa.FAREWELL}" in check.summary
    assert "namespace 'qa' has no variable 'FAREWELL' (it has: GREETING)" in check.summary
    assert "PIPELINE FAILED at qa/Check" in progress
    assert result.action("qa/Notify").status == "Not run"


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
    rehearsal, progress = rehearse(assembly, source_repo, tmp_path / "reports", emulator)
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
