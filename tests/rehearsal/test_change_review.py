"""The prod change review (scripts/change-review.mjs) against the emulator's CloudFormation.

Two commits, as a release sees them: the first deployed into the emulator, the second reviewed against it.
The templates are cut from the synthesized prod stack (the payments table and what it references), so
the resources, properties and deletion policies are the real ones. The script runs as the pipeline runs it:
`node scripts/change-review.mjs` with the emulator as its AWS endpoint.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from rehearsal.emulator import Emulator

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPOSITORY_ROOT / "scripts" / "change-review.mjs"
DISPLAY_NAME = "PaymentPipeline/prod/PaymentStack"
BLOCKED, BAD_INPUT = 3, 2

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is required by the change review")


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = set()
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else target.split(".")[0])
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value)) if value else set()
    return set()


def _cut(template: dict[str, Any], roots: list[str]) -> dict[str, Any]:
    """`roots` and every resource they reference, nothing else (parameters and rules dropped)."""
    resources = template["Resources"]
    keep: set[str] = set()
    pending = list(roots)
    while pending:
        logical_id = pending.pop()
        if logical_id in keep or logical_id not in resources:
            continue
        keep.add(logical_id)
        pending.extend(_references(resources[logical_id]))
    return {"Resources": {k: copy.deepcopy(v) for k, v in resources.items() if k in keep}}


@pytest.fixture(scope="module")
def prod_template(assembly: Path) -> dict[str, Any]:
    manifest = json.loads((assembly / "assembly-PaymentPipeline-prod" / "manifest.json").read_text())
    (stack,) = [a for a in manifest["artifacts"].values() if a.get("displayName") == DISPLAY_NAME]
    return json.loads((assembly / "assembly-PaymentPipeline-prod" / stack["properties"]["templateFile"]).read_text())


@pytest.fixture(scope="module")
def table_id(prod_template: dict[str, Any]) -> str:
    (logical_id,) = [
        k
        for k, r in prod_template["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::Table" and r["Properties"].get("TableName") == "payments-prod"
    ]
    return logical_id


@pytest.fixture(scope="module")
def first_commit(prod_template: dict[str, Any], table_id: str) -> dict[str, Any]:
    template = _cut(prod_template, [table_id])
    # The emulator is shared with the stage rehearsals: prod's own table name would collide with prod's deploy.
    template["Resources"][table_id]["Properties"]["TableName"] = "payments-change-review"
    return template


@pytest.fixture(scope="module")
def deployed(emulator: Emulator, first_commit: dict[str, Any]) -> str:
    """The first commit, deployed: the stack the second commit is reviewed against."""
    name = "review-PaymentStack"
    cloudformation = emulator.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(first_commit), Capabilities=["CAPABILITY_IAM"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig={"Delay": 1})
    return name


def _review(
    tmp_path: Path, emulator: Emulator, stack_name: str, template: dict[str, Any], acknowledgments: Any = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "stack.template.json").write_text(json.dumps(template))
    manifest = {
        "version": "48.0.0",
        "artifacts": {
            "ReviewedStack": {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://{emulator.account}/{emulator.region}",
                "displayName": DISPLAY_NAME,
                "properties": {"templateFile": "stack.template.json", "stackName": stack_name},
            }
        },
    }
    (assembly / "manifest.json").write_text(json.dumps(manifest))
    command = [
        "node",
        str(SCRIPT),
        "--assembly",
        str(assembly),
        "--stack",
        DISPLAY_NAME,
        "--out",
        str(tmp_path / "out"),
    ]
    if acknowledgments is not None:
        ack_file = tmp_path / "acknowledgments.json"
        ack_file.write_text(acknowledgments if isinstance(acknowledgments, str) else json.dumps(acknowledgments))
        command += ["--acknowledgments", str(ack_file)]
    env = {**emulator.environment(), "NODE_NO_WARNINGS": "1"}
    completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    report_file = tmp_path / "out" / "report.json"
    return completed, json.loads(report_file.read_text()) if report_file.exists() else None


def _with_new_key(template: dict[str, Any], table_id: str) -> dict[str, Any]:
    changed = copy.deepcopy(template)
    table = changed["Resources"][table_id]["Properties"]
    old = table["KeySchema"][0]["AttributeName"]
    table["KeySchema"][0]["AttributeName"] = "payment_key"
    for attribute in table["AttributeDefinitions"]:
        if attribute["AttributeName"] == old:
            attribute["AttributeName"] = "payment_key"
    return changed


def _ack(table_id: str, change: str = "replace") -> dict[str, Any]:
    return {
        "acknowledgments": [
            {
                "stack": "review-PaymentStack",
                "logicalId": table_id,
                "change": change,
                "reason": "payments move to a new key; the old table is retained and backfilled by the migration job",
            }
        ]
    }


def test_first_promotion_shows_everything_added(tmp_path: Path, emulator: Emulator, first_commit: dict) -> None:
    completed, report = _review(tmp_path, emulator, "never-deployed-PaymentStack", first_commit)
    assert completed.returncode == 0, completed.stderr
    assert report is not None
    assert report["firstDeployment"] is True
    assert report["totals"]["added"] == len(first_commit["Resources"])
    assert report["summary"].startswith(f"first deployment: {len(first_commit['Resources'])} added")
    exports = (tmp_path / "out" / "exports.env").read_text()
    assert f"export CHANGE_SUMMARY='{report['summary']}'" in exports


def test_harmless_change_shows_as_modified_with_its_property_path(
    tmp_path: Path, emulator: Emulator, deployed: str, first_commit: dict[str, Any], table_id: str
) -> None:
    second = copy.deepcopy(first_commit)
    key_id = second["Resources"][table_id]["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Fn::GetAtt"][0]
    second["Resources"][key_id]["Properties"]["Description"] = "payments key, described differently"
    completed, report = _review(tmp_path, emulator, deployed, second)
    assert completed.returncode == 0, completed.stderr
    assert report is not None
    assert report["summary"] == "0 added, 1 modified, 0 replaced, 0 removed, 0 IAM changes"
    (change,) = report["resources"]
    assert (change["logicalId"], change["change"], change["stateful"], change["dataLoss"]) == (
        key_id,
        "modified",
        True,
        False,
    )
    assert change["properties"][0]["paths"] == ["Description"]
    assert "1 modified" in (tmp_path / "out" / "report.html").read_text()


def test_table_replacement_is_blocked_naming_the_table_and_the_key_path(
    tmp_path: Path, emulator: Emulator, deployed: str, first_commit: dict[str, Any], table_id: str
) -> None:
    completed, report = _review(tmp_path, emulator, deployed, _with_new_key(first_commit, table_id))
    assert completed.returncode == BLOCKED, completed.stdout + completed.stderr
    assert report is not None and report["blocked"] is True
    assert report["totals"]["replaced"] == 1
    assert f"replacement of stateful AWS::DynamoDB::Table {table_id}" in completed.stderr
    assert "KeySchema[0].AttributeName" in completed.stderr
    assert "not acknowledged" in completed.stderr
    assert "BLOCKED" in report["summary"]


def test_acknowledged_table_replacement_passes_and_the_report_says_why(
    tmp_path: Path, emulator: Emulator, deployed: str, first_commit: dict[str, Any], table_id: str
) -> None:
    completed, report = _review(tmp_path, emulator, deployed, _with_new_key(first_commit, table_id), _ack(table_id))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert report is not None
    assert report["acknowledged"] == [{"logicalId": table_id, "reason": _ack(table_id)["acknowledgments"][0]["reason"]}]
    assert "retained and backfilled" in (tmp_path / "out" / "report.html").read_text()


def test_an_acknowledgment_that_matches_no_change_blocks_the_release(
    tmp_path: Path, emulator: Emulator, deployed: str, first_commit: dict[str, Any], table_id: str
) -> None:
    completed, _ = _review(tmp_path, emulator, deployed, first_commit, _ack(table_id))
    assert completed.returncode == BLOCKED
    assert "matches no change in this release: remove it" in completed.stderr


def test_an_acknowledgment_of_a_deletion_does_not_cover_a_replacement(
    tmp_path: Path, emulator: Emulator, deployed: str, first_commit: dict[str, Any], table_id: str
) -> None:
    second = _with_new_key(first_commit, table_id)
    completed, _ = _review(tmp_path, emulator, deployed, second, _ack(table_id, change="delete"))
    assert completed.returncode == BLOCKED
    assert "not acknowledged" in completed.stderr


@pytest.mark.parametrize(
    ("acknowledgments", "message"),
    [
        ("{not json", "is not valid JSON"),
        ({"acks": []}, 'expected {"acknowledgments": [...]}'),
        ({"acknowledgments": [{"stack": "s", "logicalId": "T", "change": "replace"}]}, ".reason must be"),
        (
            {"acknowledgments": [{"stack": "s", "logicalId": "T", "change": "rename", "reason": "x" * 30}]},
            '.change must be "replace" or "delete"',
        ),
        (
            {"acknowledgments": [{"stack": "s", "logicalId": "T", "change": "delete", "reason": "because"}]},
            "20 characters or more",
        ),
        (
            {"acknowledgments": [{"stack": "s", "logicalId": "T", "change": "delete", "reason": "x" * 30, "by": "me"}]},
            "unknown keys by",
        ),
    ],
)
def test_bad_acknowledgments_are_rejected_before_any_aws_call(
    tmp_path: Path, emulator: Emulator, first_commit: dict[str, Any], acknowledgments: Any, message: str
) -> None:
    completed, report = _review(tmp_path, emulator, "any-PaymentStack", first_commit, acknowledgments)
    assert completed.returncode == BAD_INPUT
    assert message in completed.stderr
    assert report is None


def test_unknown_stack_names_the_stacks_the_assembly_has(tmp_path: Path, emulator: Emulator) -> None:
    assembly = tmp_path / "empty"
    assembly.mkdir()
    (assembly / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": {}}))
    completed = subprocess.run(
        ["node", str(SCRIPT), "--assembly", str(assembly), "--stack", "Nope", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=emulator.environment(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == BAD_INPUT
    assert 'no stack "Nope"' in completed.stderr


def test_missing_review_packages_say_how_to_install_them(tmp_path: Path, emulator: Emulator) -> None:
    """A checkout without `npm ci` (no node_modules above the script) gets the install command, not a stack trace."""
    lonely = tmp_path / "change-review.mjs"
    shutil.copy(SCRIPT, lonely)
    assembly = tmp_path / "cdk.out"
    assembly.mkdir()
    (assembly / "stack.template.json").write_text("{}")
    (assembly / "manifest.json").write_text(
        json.dumps(
            {
                "version": "48.0.0",
                "artifacts": {
                    "S": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://111111111111/us-east-1",
                        "displayName": DISPLAY_NAME,
                        "properties": {"templateFile": "stack.template.json", "stackName": "s"},
                    }
                },
            }
        )
    )
    completed = subprocess.run(
        ["node", str(lonely), "--assembly", str(assembly), "--stack", DISPLAY_NAME, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=emulator.environment(),
        timeout=60,
        check=False,
    )
    assert completed.returncode == BAD_INPUT, completed.stderr
    assert "npm ci --omit=dev" in completed.stderr
    assert "Cannot find package '@aws-cdk/cloudformation-diff'" in completed.stderr
