"""How the rehearsal tests run the pipeline: one PipelineRehearsal on the session's emulator, its report written."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rehearsal import iam, run_report
from rehearsal.emulator import Emulator
from rehearsal.executor import Console, PipelineRehearsal, RunResult
from rehearsal.pipeline_plan import pipelines_in
from tests.rehearsal.assembly_edits import write_edited_template

PipelineEdit = Callable[[dict[str, Any], dict[str, Any]], None]


def rehearse(
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


def run(assembly: Path, repo: Path, reports: Path, emulator: Emulator, **kwargs: Any) -> tuple[RunResult, str]:
    rehearsal, progress = rehearse(assembly, repo, reports, emulator, **kwargs)
    with rehearsal:
        result = rehearsal.run()
        json_file = run_report.write_json(result, reports)
        page = run_report.write_html(result, reports)
        run_report.print_summary(result, lambda text: progress.write(text + "\n"), html_page=page, json_file=json_file)
    return result, progress.getvalue()


def edited_copy(assembly: Path, tmp_path: Path, edit: PipelineEdit) -> Path:
    """A copy of the assembly whose pipeline template `edit(template, pipeline properties)` changed by hand."""
    copied = tmp_path / "cdk.out"
    shutil.copytree(assembly, copied)
    (stack, logical_id), *_ = pipelines_in(copied)
    template = json.loads(stack.template_file.read_text())
    edit(template, template["Resources"][logical_id]["Properties"])
    write_edited_template(stack.template_file, json.dumps(template, indent=1))
    return copied


def stage_named(properties: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in properties["Stages"] if s["Name"] == name)


def source_of(properties: dict[str, Any]) -> tuple[str, str]:
    """(output artifact, namespace) of the pipeline's source action."""
    action = properties["Stages"][0]["Actions"][0]
    return action["OutputArtifacts"][0]["Name"], action["Namespace"]


def bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        return False
    return True


BUILD_ROLE = {
    "Type": "AWS::IAM::Role",
    "Properties": {"AssumeRolePolicyDocument": iam.trust_policy({"Service": "codebuild.amazonaws.com"})},
}
