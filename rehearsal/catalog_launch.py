"""After the pipeline: a team launches the published product as a team does, smoke-tests it, terminates it.

The catalog stage deployed the portfolio and the product into the emulator (Service Catalog there is
provided by the harness: rehearsal/service_catalog.py). This step takes the portfolio's first principal
(the team role the platform team associated), creates it in the emulator if needed and assumes it, then
runs the launch helper itself, unchanged: `python -m product.catalog.launch launch ...` with the newest
version, profile `dev` and suffix `team-a`, one allowed value of each TagOption. The launched stack's API
and queue are served like a stage's, the smoke suite runs against it by stack name (`scripts/smoke
--stack-name`, report in `reports/smoke/<stack>/`), and `python -m product.catalog.launch terminate` ends it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from rehearsal import iam as rehearsal_iam
from rehearsal.assembly import StackArtifact, catalog_stacks, product_template_files
from rehearsal.cdk_cli import REPOSITORY_ROOT
from rehearsal.deployed_stage import StageRuntime, account_for, write_not_emulated

SUFFIX = "team-a"
END_USER_POLICY = "AWSServiceCatalogEndUserFullAccess"
PROFILE = "dev"
SMOKE = REPOSITORY_ROOT / "scripts" / "smoke"
LAUNCH_TIMEOUT_S = 600


@dataclass
class CatalogLaunchResult:
    """The catalog launch's row in the summary: same counts as a stage's smoke build."""

    status: str = "not run"
    message: str = ""
    stack_name: str = ""
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    executed_percent: float = 0.0
    report: str = ""
    log: str = ""


def _principal_and_tags(template: dict[str, Any]) -> tuple[str, dict[str, str]]:
    resources = template["Resources"].values()
    principals = [
        r["Properties"]["PrincipalARN"]
        for r in resources
        if r["Type"] == "AWS::ServiceCatalog::PortfolioPrincipalAssociation"
        and r["Properties"].get("PrincipalType", "IAM") == "IAM"
    ]
    if not principals:
        raise LookupError("the catalog stack associates no IAM principal with its portfolio: nobody can launch")
    tags: dict[str, str] = {}
    for r in resources:
        if r["Type"] == "AWS::ServiceCatalog::TagOption":
            tags.setdefault(r["Properties"]["Key"], r["Properties"]["Value"])
    return principals[0], tags


def team_credentials(emulator: Any, role_arn: str) -> dict[str, str]:
    """Assumed-role credentials of a team's role (created in the emulator if missing) as environment variables."""
    iam = emulator.client("iam")
    role_name = role_arn.rsplit("/", 1)[-1]
    trust = rehearsal_iam.trust_policy({"AWS": f"arn:aws:iam::{emulator.account}:root"})
    try:
        iam.get_role(RoleName=role_name)
    except iam.exceptions.NoSuchEntityException:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))
    # IAM is enforced: a team member holds Service Catalog's end-user grant, as AWS sets them up.
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName=END_USER_POLICY,
        PolicyDocument=rehearsal_iam.aws_managed_policy_document(END_USER_POLICY),
    )
    credentials = emulator.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="team-member")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
    }


def _free_suffix(emulator: Any) -> str:
    """`team-a`, or `team-a2`, ... when an earlier launch in this emulator kept that suffix's data.

    A terminated launch keeps its tables and buckets by design (as in AWS), so a second launch with the same
    suffix would meet "already exists"; a fresh `make run` always launches `team-a`.
    """
    tables = set(emulator.client("dynamodb").list_tables().get("TableNames", []))
    for number in range(1, 100):
        suffix = SUFFIX if number == 1 else f"{SUFFIX}{number}"
        if f"payments-{suffix}" not in tables:
            return suffix
    raise RuntimeError("no free launch suffix among team-a .. team-a99 in this emulator")


def _run(command: list[str], env: dict[str, str], log: Path, timeout: float = LAUNCH_TIMEOUT_S) -> int:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        completed = subprocess.run(
            command, cwd=REPOSITORY_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    return completed.returncode


def rehearse_catalog_launch(emulator: Any, assembly: Path, reports: Path, console: Any) -> CatalogLaunchResult:
    """Launch, serve, smoke, terminate; the result says how far it got and why it stopped."""
    result = CatalogLaunchResult()
    started = time.monotonic()
    log = reports / "logs" / "catalog-launch.log"  # `reports` is reports/rehearsal
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    result.log = str(log)
    catalogs, products = catalog_stacks(assembly), product_template_files(assembly)
    if not catalogs or not products:
        result.status, result.message = "skipped", "the assembly publishes no Service Catalog product"
        return result
    catalog = catalogs[0]
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in emulator.client("cloudformation")
        .describe_stacks(StackName=catalog.stack_name)["Stacks"][0]
        .get("Outputs", [])
    }
    principal, tags = _principal_and_tags(catalog.template)
    team = team_credentials(emulator, principal)
    env = {**emulator.environment(), **team}
    suffix = _free_suffix(emulator)
    name = f"payments-{suffix}"
    launch = [sys.executable, "-m", "product.catalog.launch", "--region", emulator.region, "--timeout", "300"]
    command = [*launch, "launch", "--version", outputs["CurrentVersion"], "--name", name, "--profile", PROFILE]
    command += ["--suffix", suffix, "--product", outputs["ProductName"]]
    for key, value in tags.items():
        command += ["--tag", f"{key}={value}"]
    console.line(f"catalog launch: as {principal}: python -m product.catalog.launch launch ... --suffix {suffix}")
    if _run(command, env, log) != 0:
        result.status, result.message = "failed", f"the launch failed; see {log}"
        result.seconds = time.monotonic() - started
        return result
    sc = boto3.client(
        "servicecatalog",
        endpoint_url=emulator.endpoint,
        region_name=emulator.region,
        aws_access_key_id=team["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=team["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=team["AWS_SESSION_TOKEN"],
    )
    found = sc.search_provisioned_products(Filters={"SearchQuery": [f"name:{name}"]})["ProvisionedProducts"]
    if not found:
        result.status, result.message = "failed", f"the launch succeeded but {name} is not found as its team"
        return result
    stack_arn = found[0]["PhysicalId"]
    stack_name = stack_arn.split(":stack/", 1)[-1].split("/", 1)[0]
    result.stack_name = stack_name
    template = products[0]
    artifact = StackArtifact(
        artifact_id=stack_name,
        display_name=f"{catalog.display_name} launch {name}",
        stack_name=stack_name,
        template_file=template,
        account=emulator.account,
        region=emulator.region,
    )
    deployed = account_for(emulator, artifact)
    runtime = StageRuntime(
        emulator, deployed, workdir=reports / "catalog-launch" / "functions", log_dir=reports / "stacks" / stack_name
    ).start()
    try:
        report_dir = reports.parent / "smoke" / stack_name
        not_emulated = write_not_emulated(report_dir / "not-emulated.json", deployed, runtime)
        smoke_env = {
            **emulator.environment(),
            "API_URL": runtime.api_url or "",
            "SMOKE_NOT_EMULATED_FILE": str(not_emulated),
        }
        console.line(f"catalog launch: scripts/smoke --stack-name {stack_name} (API_URL={runtime.api_url})")
        smoke_rc = _run([str(SMOKE), "--stack-name", stack_name, "--report-dir", str(report_dir)], smoke_env, log)
        summary_file = report_dir / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
        result.counts = summary.get("counts", {})
        result.executed_percent = summary.get("executed_percent", 0.0)
        result.report = str(report_dir / "report.html")
    finally:
        runtime.stop()
    terminated = _run([*launch, "terminate", "--name", name], env, log)
    result.seconds = time.monotonic() - started
    if smoke_rc != 0 or summary.get("result") != "passed":
        result.status, result.message = "failed", f"the smoke suite failed against {stack_name}; see {result.report}"
    elif terminated != 0:
        result.status, result.message = "failed", f"the termination failed; see {log}"
    else:
        result.status = "succeeded"
    return result
