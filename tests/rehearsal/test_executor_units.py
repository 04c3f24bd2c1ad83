"""Fast tests of the executor's parts (no emulator, no CDK): the planner, the variable resolver and the
buildspec runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rehearsal import codebuild
from rehearsal.pipeline_plan import PlanError, TemplateValues, load_plan
from rehearsal.variables import UnresolvedVariableError, Variables


def _action(name: str, category: str, provider: str, **extra: Any) -> dict[str, Any]:
    owner = "AWS"
    return {
        "Name": name,
        "ActionTypeId": {"Category": category, "Owner": owner, "Provider": provider, "Version": "1"},
        "RunOrder": extra.pop("RunOrder", 1),
        **extra,
    }


def _pipeline_template(stages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "Reports": {"Type": "AWS::CodeBuild::ReportGroup", "Properties": {}},
            "Build": {
                "Type": "AWS::CodeBuild::Project",
                "Properties": {
                    "Name": "unit-build",
                    "Environment": {
                        "Image": "aws/codebuild/standard:7.0",
                        "EnvironmentVariables": [{"Name": "STAGE", "Type": "PLAINTEXT", "Value": "qa"}],
                    },
                    "Source": {
                        "BuildSpec": {
                            "Fn::Join": [
                                "",
                                ['{"version": "0.2", "reports": {"', {"Fn::GetAtt": ["Reports", "Arn"]}, '": {}}}'],
                            ]
                        }
                    },
                },
            },
            "Pipeline": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Name": "unit", "Stages": stages}},
        }
    }


def _assembly(tmp_path: Path, template: dict[str, Any]) -> Path:
    (tmp_path / "Unit.template.json").write_text(json.dumps(template))
    manifest = {
        "artifacts": {
            "Unit": {
                "type": "aws:cloudformation:stack",
                "environment": "aws://111111111111/eu-west-1",
                "properties": {"templateFile": "Unit.template.json", "stackName": "UnitStack"},
            }
        }
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


STAGES = [
    {
        "Name": "Source",
        "Actions": [
            _action(
                "Src", "Source", "CodeStarSourceConnection", OutputArtifacts=[{"Name": "src"}], Namespace="SourceVars"
            )
        ],
    },
    {
        "Name": "Check",
        "Actions": [
            _action(
                "Lint",
                "Test",
                "CodeBuild",
                Configuration={"ProjectName": {"Ref": "Build"}},
                InputArtifacts=[{"Name": "src"}],
                Namespace="lint",
                RunOrder=1,
            ),
            _action(
                "Notify",
                "Approval",
                "Manual",
                Configuration={
                    "NotificationArn": {"Ref": "Topic"},
                    "CustomData": "commit #{SourceVars.CommitId}: #{lint.RESULT}",
                },
                RunOrder=2,
            ),
            _action("Later", "Invoke", "Lambda", RunOrder=2),
        ],
    },
]


def test_plan_comes_from_the_template_in_order_with_run_orders_and_types(tmp_path: Path) -> None:
    plan = load_plan(_assembly(tmp_path, _pipeline_template(STAGES)))
    assert plan.name == "unit" and (plan.account, plan.region) == ("111111111111", "eu-west-1")
    assert [s.name for s in plan.stages] == ["Source", "Check"]
    check = plan.stage("Check")
    assert [(order, [a.name for a in group]) for order, group in check.run_orders()] == [
        (1, ["Lint"]),
        (2, ["Notify", "Later"]),
    ]
    assert str(plan.action("Check/Later").action_type) == "Invoke/AWS/Lambda v1"
    assert plan.action("Check/Lint").configuration == {"ProjectName": "unit-build"}
    assert (
        plan.action("Check/Notify").configuration["NotificationArn"]
        == "arn:aws:sns:eu-west-1:111111111111:UnitStack-Topic"
    )
    project = plan.projects["unit-build"]
    assert "arn:aws:codebuild:eu-west-1:111111111111:report-group/UnitStack-Reports" in project.buildspec
    assert project.environment_variables[0].name == "STAGE"


def test_plan_knows_who_reads_what(tmp_path: Path) -> None:
    plan = load_plan(_assembly(tmp_path, _pipeline_template(STAGES)))
    notify = plan.action("Check/Notify")
    assert notify.referenced_namespaces() == {"SourceVars", "lint"}
    assert plan.dependencies(notify) == {"Source/Src", "Check/Lint"}
    assert plan.closure({"Check/Lint"}) == {"Check/Lint", "Source/Src"}
    assert [a.path for a in plan.readers_after(plan.action("Check/Lint"))] == ["Check/Notify"]
    assert plan.readers_after(plan.action("Check/Later")) == []


def test_plan_refuses_a_definition_codepipeline_would_reject(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(STAGES))
    broken[1]["Actions"][0]["InputArtifacts"] = [{"Name": "nowhere"}]
    with pytest.raises(
        PlanError, match=r"Check/Lint reads artifact\(s\) \['nowhere'\] that no earlier action produces"
    ):
        load_plan(_assembly(tmp_path, _pipeline_template(broken)))


def test_plan_needs_a_pipeline(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="no AWS::CodePipeline::Pipeline in any stack"):
        load_plan(_assembly(tmp_path, {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    with pytest.raises(PlanError, match="no stage 'nope'"):
        load_plan(_assembly(tmp_path, _pipeline_template(STAGES))).stage("nope")


def test_template_values_resolve_pseudo_parameters_names_and_arns() -> None:
    template = {
        "Parameters": {"Env": {"Type": "String", "Default": "qa"}},
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "deployer"}},
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        },
    }
    values = TemplateValues(template, stack_name="S", account="111111111111", region="us-east-1")
    assert values.resolve({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::111111111111:role/deployer"
    assert values.resolve({"Ref": "Bucket"}) == "S-Bucket"
    assert values.resolve({"Fn::Sub": "${AWS::Region}-${Env}-${Bucket.Arn}"}) == "us-east-1-qa-arn:aws:s3:::S-Bucket"
    assert values.resolve({"Fn::Join": [":", [{"Ref": "AWS::Partition"}, "x"]]}) == "aws:x"
    with pytest.raises(PlanError, match="'Missing', which is not one of its resources"):
        values.resolve({"Ref": "Missing"})
    with pytest.raises(PlanError, match="Fn::ImportValue is not resolved"):
        values.resolve({"Fn::ImportValue": "x"})


# --- variables ----------------------------------------------------------------------------------------


def test_variables_resolve_in_nested_configuration() -> None:
    variables = Variables(execution_id="e-1", pipeline_variables={"Env": "qa"})
    variables.publish("Deploy", {"ApiUrl": "http://127.0.0.1:1/dev/"})
    variables.publish(None, {"Ignored": "x"})  # an action without a namespace publishes nothing
    resolved = variables.resolve(
        {"EnvironmentVariables": ["#{Deploy.ApiUrl}", "#{codepipeline.PipelineExecutionId}/#{variables.Env}"]},
        action="s/a",
        field="configuration",
    )
    assert resolved == {"EnvironmentVariables": ["http://127.0.0.1:1/dev/", "e-1/qa"]}


def test_an_unknown_namespace_or_variable_names_the_action_and_what_exists() -> None:
    variables = Variables(execution_id="e-1")
    variables.publish("Deploy", {"ApiUrl": "u"})
    with pytest.raises(UnresolvedVariableError) as missing_namespace:
        variables.resolve("#{Nope.ApiUrl}", action="dev/Smoke", field="configuration.CustomData")
    message = str(missing_namespace.value)
    assert "action dev/Smoke: configuration.CustomData refers to #{Nope.ApiUrl}" in message
    assert "namespace 'Nope'" in message and "Deploy" in message
    with pytest.raises(UnresolvedVariableError, match=r"namespace 'Deploy' has no variable 'Url' \(it has: ApiUrl\)"):
        variables.resolve("#{Deploy.Url}", action="dev/Smoke", field="x")


# --- buildspec runner ---------------------------------------------------------------------------------


def _run(tmp_path: Path, spec: dict[str, Any], outputs: dict[str, Path] | None = None) -> codebuild.BuildResult:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    return codebuild.run_build(
        codebuild.Buildspec.parse(json.dumps(spec), origin="unit"),
        build_id="p:1",
        source_dir=source,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GREETING": "hi"},  # as the action composes it
        control_dir=tmp_path / "control",
        log_file=tmp_path / "build.log",
        output_artifacts=outputs or {},
        reports_dir=tmp_path / "reports",
        timeout_s=60,
    )


def test_one_shell_carries_directory_exports_and_variables_across_commands_and_phases(tmp_path: Path) -> None:
    spec = {
        "version": 0.2,
        "env": {"shell": "bash", "variables": {"GREETING": "hi"}, "exported-variables": ["RESULT", "UNSET"]},
        "phases": {
            "install": {"commands": ["mkdir -p out && cd out", "count=1", "export RESULT=started"]},
            "build": {
                "commands": [
                    'test "$(basename "$PWD")" = out',
                    "count=$((count + 1))",
                    'export RESULT="$GREETING-$count"',
                ]
            },
            "post_build": {
                "commands": ['echo \'<testsuite tests="2" failures="0" errors="0" skipped="1"/>\' > junit.xml']
            },
        },
        "reports": {"arn:aws:codebuild:us-east-1:1:report-group/r": {"files": ["junit.xml"], "base-directory": "out"}},
        "artifacts": {"base-directory": "out", "files": ["**/*"]},
    }
    result = _run(tmp_path, spec, {"Out": tmp_path / "artifact"})
    assert result.status == "SUCCEEDED", (tmp_path / "build.log").read_text()
    assert result.exported == {"RESULT": "hi-2", "UNSET": ""}
    assert result.reports[0].counts == {"tests": 2, "failures": 0, "errors": 0, "skipped": 1}
    assert (tmp_path / "artifact" / "junit.xml").is_file()


def test_a_failed_build_phase_still_runs_post_build_and_exports_nothing(tmp_path: Path) -> None:
    spec = {
        "version": 0.2,
        "env": {"exported-variables": ["X"]},
        "phases": {
            "build": {"commands": ["export X=1", "false", "echo never > never"]},
            "post_build": {"commands": ['echo "$CODEBUILD_BUILD_SUCCEEDING" > succeeding']},
        },
    }
    result = _run(tmp_path, spec)
    assert result.status == "FAILED" and "Error while executing command: false. Reason: exit status 1" in result.message
    assert [p.status for p in result.phases] == ["FAILED", "SUCCEEDED"]
    assert (tmp_path / "src" / "succeeding").read_text().strip() == "0"
    assert not (tmp_path / "src" / "never").exists() and result.exported == {}


def test_a_failed_install_ends_the_build_and_a_missing_artifact_fails_it(tmp_path: Path) -> None:
    spec = {"version": 0.2, "phases": {"install": {"commands": ["exit 3"]}, "build": {"commands": ["touch built"]}}}
    result = _run(tmp_path, spec)
    assert [p.status for p in result.phases] == ["FAILED", "NOT_RUN"]
    assert "the shell exited" in result.message
    spec = {"version": 0.2, "phases": {"build": {"commands": ["true"]}}, "artifacts": {"files": ["nothing/*"]}}
    result = _run(tmp_path, spec, {"Out": tmp_path / "artifact"})
    assert result.status == "FAILED" and "no matching artifact paths found for Out" in result.message


def test_buildspec_errors_say_what_is_wrong() -> None:
    with pytest.raises(codebuild.BuildspecError, match=r"version '0\.1'; the rehearsal runs 0\.2"):
        codebuild.Buildspec.parse('{"version": "0.1"}', origin="p")
    with pytest.raises(codebuild.BuildspecError, match="on-failure must be ABORT or CONTINUE"):
        codebuild.Buildspec.parse('{"version": 0.2, "phases": {"build": {"on-failure": "RETRY"}}}', origin="p")


def test_the_source_note_names_uncommitted_files_in_full(tmp_path: Path) -> None:
    """`git status --porcelain` lines start with a space for a modified tracked file; the note kept "EADME.md"."""
    import subprocess  # noqa: PLC0415
    from types import SimpleNamespace  # noqa: PLC0415

    from rehearsal.executor import PipelineRehearsal  # noqa: PLC0415

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (tmp_path / "README.md").write_text("one\n")
    git("add", "README.md")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    (tmp_path / "README.md").write_text("two\n")
    rehearsal = SimpleNamespace(repository=tmp_path, include_uncommitted=False)
    _commit, branch, note = PipelineRehearsal._source_commit(rehearsal)  # type: ignore[arg-type]  # only these two
    assert branch == "main"
    assert "1 uncommitted change(s) are NOT rehearsed (README.md)" in note, note
