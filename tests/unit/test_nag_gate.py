"""The nag gate: unacknowledged findings fail synth, and an acknowledgment covers only what it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Environment, Stack
from aws_cdk import aws_s3 as s3

from product.compliance import RULE_PACKS, acknowledge, add_nag_gate, pack_of
from rehearsal.assembly import stacks
from tests.unit.apps import new_app


def _synth_two_buckets(outdir: Path, *, acknowledge_first: bool) -> list[str]:
    """Synth a stack of two log-less buckets under the gate; return the unacknowledged findings' paths."""
    app = new_app(outdir=str(outdir))
    stack = Stack(app, "Probe", env=Environment(account="111111111111", region="us-east-1"))
    buckets = [
        s3.Bucket(
            stack,
            name,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.KMS_MANAGED,
        )
        for name in ("First", "Second")
    ]
    for bucket in buckets:  # everything but server access logging is acknowledged on both
        acknowledge(
            bucket,
            ("PCI.DSS.321-S3BucketReplicationEnabled", "probe bucket in a unit test, never deployed"),
            ("PCI.DSS.321-S3DefaultEncryptionKMS", "probe bucket in a unit test, never deployed"),
        )
    if acknowledge_first:
        acknowledge(
            buckets[0],
            ("AwsSolutions-S1", "probe: acknowledged on the first bucket only"),
            ("PCI.DSS.321-S3BucketLoggingEnabled", "probe: acknowledged on the first bucket only"),
        )
    add_nag_gate(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((outdir / "validation-report.json").read_text())
    return sorted(
        f"{violation['ruleName']}@{construct['constructPath']}"
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    )


def test_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    findings = _synth_two_buckets(tmp_path, acknowledge_first=False)
    assert any("AwsSolutions-S1" in f and "First" in f for f in findings)
    assert any("AwsSolutions-S1" in f and "Second" in f for f in findings)


def test_acknowledgment_covers_only_the_construct_it_names(tmp_path: Path) -> None:
    findings = _synth_two_buckets(tmp_path, acknowledge_first=True)
    assert not [f for f in findings if "/First/" in f]
    assert [f for f in findings if "/Second/" in f and "S1" in f]


def test_acknowledgment_needs_a_specific_reason() -> None:
    app = new_app()
    bucket = s3.Bucket(Stack(app, "S"), "B")
    with pytest.raises(ValueError, match="needs a specific reason"):
        acknowledge(bucket, ("AwsSolutions-S1", "not needed"))


def test_acknowledgment_must_name_a_gated_pack() -> None:
    assert pack_of("AwsSolutions-IAM5[Resource::*]") == "AwsSolutions"
    assert pack_of("PCI.DSS.321-IAMNoInlinePolicy") == "PCI.DSS.321"
    with pytest.raises(ValueError, match="belongs to none of the gated packs"):
        pack_of("HIPAA.Security-S3BucketLoggingEnabled")


def test_the_app_passes_the_gate(assembly_dir: Path) -> None:
    """The session synth ran with the gate; it wrote no violation for any stack."""
    report_path = assembly_dir / "validation-report.json"
    if report_path.exists():
        report = json.loads(report_path.read_text())
        assert all(not plugin.get("violations") for plugin in report.get("pluginReports", [])), report


def test_every_acknowledgment_suppresses_a_finding_under_its_own_construct(
    assembly_dir: Path, all_templates: dict[str, Any]
) -> None:
    """Across every stack of the app: no stale acknowledgment, none that reaches outside its construct, and
    none on a stack root, a stage or the app (aws/aws-cdk#38495: an acknowledgment can match app-wide)."""
    acknowledged = {
        (path.lstrip("/"), rule_id)
        for stack in stacks(assembly_dir)
        for path, entries in stack.metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:acknowledged-rules"
        for rule_id in entry["data"]
        if rule_id.split("::")[0] in RULE_PACKS  # CDK's own annotations/validations are not the nag gate's
    }
    assert len(acknowledged) > 50
    report = json.loads((assembly_dir / "validation-report.json").read_text())
    suppressed = [v for plugin in report["pluginReports"] for v in plugin.get("suppressedViolations", [])]
    used = {(v["acknowledgedAt"], v["acknowledgedId"]) for v in suppressed}
    # Stacks and the stages holding them, e.g. PaymentPipeline, PaymentPipeline/dev, PaymentPipeline/dev/PaymentStack.
    roots = {"/".join(stack.split("/")[:depth]) for stack in all_templates for depth in range(1, stack.count("/") + 2)}
    assert sorted(acknowledged - used) == [], "acknowledgments that suppress nothing"
    for violation in suppressed:
        at = violation["acknowledgedAt"]
        assert at not in roots, f"{violation['acknowledgedId']} acknowledged on a stack, stage or app: {at}"
        for construct in violation["violatingConstructs"]:
            assert construct["constructPath"] == at or construct["constructPath"].startswith(f"{at}/"), violation
