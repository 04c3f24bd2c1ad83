"""The Assets stage run alone (IAM enforced, its assets removed first), a deploy that needs them, and serve
mode: the prod stage deployed and its API served to the smoke suite.

On the session's synth, emulator and bootstrap (conftest).
"""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from rehearsal import actions
from rehearsal.assembly import stacks
from rehearsal.emulator import Emulator
from rehearsal.executor import SUCCEEDED
from rehearsal.safety import DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY
from tests.rehearsal.runs import bucket_exists, rehearse, run
from tests.smoke.api_client import ApiClient

SMOKE = Path(__file__).resolve().parents[2] / "scripts" / "smoke"


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
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", []) if bucket_exists(s3, bucket) else []
        for name in names & {o["Key"] for o in listed}:
            s3.delete_object(Bucket=bucket, Key=name)

    reports = tmp_path / "reports"
    result, progress = run(assembly, source_repo, reports, emulator, only_stage="Assets")
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
        if not bucket_exists(s3, asset.bucket):
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


# --- serving -------------------------------------------------------------------------------------------


def test_serve_mode_prints_one_json_line_and_serves_the_api(
    assembly: Path, source_repo: Path, reports: Path, emulator: Emulator
) -> None:
    rehearsal, _ = rehearse(assembly, source_repo, reports, emulator, only_stage="prod")
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
