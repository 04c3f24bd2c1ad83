"""The nag gate: unacknowledged findings fail synth, and an acknowledgment covers only what it names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_s3 as s3

from product.compliance import acknowledge, add_nag_gate, pack_of


def _synth_two_buckets(outdir: Path, *, acknowledge_first: bool) -> list[str]:
    """Synth a stack of two log-less buckets under the gate; return the unacknowledged findings' paths."""
    app = App(outdir=str(outdir), builtin_cloud_formation_validation=False)
    stack = Stack(app, "Probe", env=Environment(account="111111111111", region="us-east-1"))
    buckets = [
        s3.Bucket(stack, name, enforce_ssl=True, versioned=True, block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                  encryption=s3.BucketEncryption.KMS_MANAGED)
        for name in ("First", "Second")
    ]  # fmt: skip
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
    app = App()
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
