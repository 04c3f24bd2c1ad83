"""`make diagram`: regenerate the architecture pictures in docs/architecture/ from a synthesized assembly.

Run from the repository root as `python -m scripts.diagram [--assembly DIR] [--check]`.

1. synthesize the app (`cdk synth`, into a temporary directory) unless `--assembly DIR` names one;
2. build the models (`scripts/diagram_model.py`) and write their text form (`<name>.json`), which is
   committed and compared by `tests/unit/test_docs_diagrams.py`;
3. render each model to `<name>.png` and `<name>.svg` with the `diagrams` library and Graphviz `dot`
   (installed with apt-get when missing and running as root; otherwise the exact command is printed).

`--check` also fails (exit 1) when a committed model differed from the regenerated one: CI runs it.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from itertools import pairwise
from pathlib import Path
from typing import Any

from scripts.diagram_assembly import to_text
from scripts.diagram_model import models

try:
    from diagrams import Cluster, Diagram, Edge
except ImportError:  # pragma: no cover - only without `make setup`
    sys.exit("diagram: the 'diagrams' package is missing: run 'make setup' (it is pinned in requirements-dev.txt)")

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPOSITORY_ROOT / "docs" / "architecture"
GRAPHVIZ_INSTALL = "sudo apt-get install -y graphviz   (macOS: brew install graphviz)"
LABEL_WIDTH = 30
DELIVERY_LABEL_WIDTH = 22
# Graphviz layout per picture: the product reads left to right (callers -> edge -> functions -> data).
LAYOUTS = {
    "payment-product": {"direction": "LR", "nodesep": "0.6", "ranksep": "1.1"},
    "delivery-flow": {"direction": "LR", "nodesep": "0.5", "ranksep": "1.2"},
}

# Icons: CloudFormation type (product) or action kind (delivery) -> diagrams class path.
ICONS = {
    "AWS::ApiGateway::RestApi": "aws.network.APIGateway",
    "AWS::CloudFront::Distribution": "aws.network.CloudFront",
    "AWS::Shield::Protection": "aws.security.ShieldAdvanced",
    "AWS::WAFv2::WebACL": "aws.security.WAF",
    "AWS::Lambda::Function": "aws.compute.LambdaFunction",
    "AWS::CodeDeploy::DeploymentGroup": "aws.devtools.Codedeploy",
    "AWS::DynamoDB::Table": "aws.database.DynamodbTable",
    "AWS::S3::Bucket": "aws.storage.SimpleStorageServiceS3Bucket",
    "AWS::Events::EventBus": "aws.integration.EventbridgeCustomEventBusResource",
    "AWS::SQS::Queue": "aws.integration.SimpleQueueServiceSqsQueue",
    "AWS::CloudWatch::Alarm": "aws.management.CloudwatchAlarm",
    "AWS::CloudWatch::Dashboard": "aws.management.Cloudwatch",
    "AWS::Logs::LogGroup": "aws.management.CloudwatchLogs",
    "AWS::XRay::Group": "aws.devtools.XRay",
    "AWS::SNS::Topic": "aws.integration.SimpleNotificationServiceSnsTopic",
    "AWS::KMS::Key": "aws.security.KMS",
    "AWS::IAM::Role": "aws.security.IAMRole",
    "AWS::GuardDuty::Detector": "aws.security.Guardduty",
    "AWS::CE::AnomalyMonitor": "aws.cost.CostExplorer",
    "AWS::CE::AnomalySubscription": "aws.cost.CostExplorer",
    "AWS::EC2::VPC": "aws.network.VPC",
    "AWS::AutoScaling::AutoScalingGroup": "aws.compute.EC2AutoScaling",
    "external:clients": "aws.general.Users",
    "external:aws.guardduty": "aws.security.Guardduty",
    "external:aws.autoscaling": "aws.compute.EC2AutoScaling",
    "push": "onprem.vcs.Git",
    "source": "aws.devtools.Codestar",
    "build": "aws.devtools.Codebuild",
    "test": "aws.devtools.Codebuild",
    "deploy": "aws.management.Cloudformation",
    "approval": "aws.general.User",
    "catalog": "aws.management.ServiceCatalog",
    "invoke": "aws.compute.Lambda",
}
FALLBACK_ICON = "aws.general.General"
CLUSTER_COLOURS = {
    "entry": "#FDEDEC",
    "processing": "#FEF5E7",
    "data": "#EAF2F8",
    "events": "#F4ECF7",
    "observability": "#E8F8F5",
    "alerting": "#FCE4EC",
    "security": "#FDF2E9",
    "cost": "#F9FBE7",
    "network": "#EBF5FB",
}
EDGE_COLOURS = {"solid": "#34495E", "dashed": "#7F8C8D", "dotted": "#A6ACAF"}


def fail(message: str) -> None:
    print(f"diagram: {message}", file=sys.stderr)
    sys.exit(2)


def ensure_graphviz() -> None:
    """`dot` on PATH, installing Debian's graphviz package when running as root with apt-get."""
    if shutil.which("dot"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("diagram: Graphviz 'dot' is missing; installing the Debian package 'graphviz' (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "graphviz"]):
            result = subprocess.run(command, env=env, check=False, capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stdout + result.stderr, file=sys.stderr)
                fail(f"'{' '.join(command)}' failed; install Graphviz yourself: {GRAPHVIZ_INSTALL}")
        if shutil.which("dot"):
            return
    fail(f"Graphviz 'dot' is needed to render the pictures and is not on PATH. Install it: {GRAPHVIZ_INSTALL}")


def synthesize(outdir: Path) -> None:
    print(f"diagram: cdk synth -> {outdir}")
    result = subprocess.run(
        ["cdk", "synth", "--quiet", "--no-notices", "-o", str(outdir)], cwd=REPOSITORY_ROOT, check=False
    )
    if result.returncode != 0:
        fail("cdk synth failed (see above); the pictures are drawn from the synthesized templates")


def _wrap(text: str, width: int = LABEL_WIDTH) -> list[str]:
    """Wrap at spaces, and long names at '-' boundaries."""
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        if " " in line:
            lines.extend(textwrap.wrap(line, width))
            continue
        current = ""
        for part in re.split(r"(?<=-)", line):
            if current and len(current) + len(part) > width:
                lines.append(current)
                current = ""
            current += part
        lines.append(current)
    return lines


def node_label(node: dict[str, Any]) -> str:
    lines = _wrap(node["service"])
    if node.get("name"):
        lines += _wrap(node["name"])
    details = node.get("details", [])
    if len(details) > 4:  # e.g. the alarm list: two per line
        details = [", ".join(details[i : i + 2]) for i in range(0, len(details), 2)]
    for detail in details:
        lines += _wrap(detail)
    return "\n".join(lines)


def _icon_class(kind: str) -> Any:
    module_path, _, class_name = ICONS.get(kind, FALLBACK_ICON).rpartition(".")
    return getattr(importlib.import_module(f"diagrams.{module_path}"), class_name)


def render(
    model: dict[str, Any], stem: Path, direction: str = "LR", nodesep: str = "0.5", ranksep: str = "0.9"
) -> None:
    """PNG and SVG of one model (the SVG with its icons inlined, so it displays anywhere)."""
    caption = "\n".join(textwrap.wrap(model["caption"], 110))
    graph_attr = {
        "fontsize": "22",
        "fontname": "Helvetica",
        "labelloc": "t",
        "pad": "1.5",
        "nodesep": nodesep,
        "ranksep": ranksep,
        "splines": "spline",
    }
    node_attr = {"fontsize": "14", "fontname": "Helvetica"}
    edge_attr = {"fontsize": "13", "fontname": "Helvetica", "fontcolor": "#2C3E50"}
    title = f"{model['title']}\n{caption}"
    drawn: dict[str, Any] = {}
    with Diagram(
        title,
        filename=str(stem),
        outformat=["png", "svg"],
        show=False,
        direction=direction,
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
    ):
        clusters = {c["id"]: c["label"] for c in model["clusters"]}
        for node in model["nodes"]:
            if not node.get("cluster"):
                drawn[node["id"]] = _draw(node)
        for cluster_id, label in clusters.items():
            members = [n for n in model["nodes"] if n.get("cluster") == cluster_id]
            if not members:
                continue
            attrs = {"fontsize": "15", "bgcolor": CLUSTER_COLOURS.get(cluster_id, "#F4F6F6"), "style": "rounded"}
            with Cluster(label, graph_attr=attrs):
                for node in members:
                    drawn[node["id"]] = _draw(node)
        _spread_unconnected(model, drawn)
        for edge in model["edges"]:
            style = edge.get("style", "solid")
            (
                drawn[edge["from"]]
                >> Edge(label=edge.get("label", ""), style=style, color=EDGE_COLOURS.get(style, "#34495E"))
                >> drawn[edge["to"]]
            )
    _inline_svg_images(stem.with_suffix(".svg"))


def _spread_unconnected(model: dict[str, Any], drawn: dict[str, Any]) -> None:
    """Layout only: chain a cluster's nodes that have no edge inside their cluster with invisible edges, so
    Graphviz lays them side by side instead of stacking them in one tall column."""
    cluster_of = {n["id"]: n.get("cluster") for n in model["nodes"]}
    linked = {e[k] for e in model["edges"] for k in ("from", "to") if cluster_of[e["from"]] == cluster_of[e["to"]]}
    by_cluster: dict[str, list[str]] = {}
    for node in model["nodes"]:
        if node.get("cluster") and node["id"] not in linked:
            by_cluster.setdefault(node["cluster"], []).append(node["id"])
    for members in by_cluster.values():
        for left, right in pairwise(members):
            drawn[left] >> Edge(style="invis") >> drawn[right]


def _draw(node: dict[str, Any]) -> Any:
    """A product node has a CloudFormation `type`, a delivery node an action `kind`."""
    if "type" in node:
        return _icon_class(node["type"])(node_label(node))
    return _icon_class(node["kind"])(_delivery_label(node))


def _delivery_label(node: dict[str, Any]) -> str:
    lines = _wrap(node["name"], DELIVERY_LABEL_WIDTH)
    for detail in node.get("details", []):
        lines += _wrap(detail, DELIVERY_LABEL_WIDTH)
    return "\n".join(lines)


def _inline_svg_images(svg: Path) -> None:
    """diagrams' SVG links its icons by absolute path on this machine; embed them as data URIs instead."""

    def embed(match: re.Match[str]) -> str:
        icon = Path(match.group(2))
        data = base64.b64encode(icon.read_bytes()).decode("ascii") if icon.is_file() else ""
        return f'{match.group(1)}="data:image/png;base64,{data}"'

    svg.write_text(re.sub(r'(xlink:href|href)="(/[^"]+\.png)"', embed, svg.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assembly", type=Path, help="use this synthesized cloud assembly instead of synthesizing")
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed model was stale")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR, help="where the pictures go (docs/architecture)")
    args = parser.parse_args(argv)

    ensure_graphviz()  # before anything slow: a missing `dot` is the likeliest failure
    with tempfile.TemporaryDirectory(prefix="diagram-synth-") as scratch:
        assembly = args.assembly or Path(scratch) / "cdk.out"
        if args.assembly is None:
            synthesize(assembly)
        elif not (assembly / "manifest.json").is_file():
            fail(f"{assembly} is not a cloud assembly (no manifest.json); run 'make synth' or drop --assembly")
        try:
            built = models(assembly)
        except LookupError as error:  # a stack the pictures are drawn from is missing
            fail(f"{assembly}: {error}")

    args.output.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, model in built.items():
        text_file = args.output / f"{name}.json"
        text = to_text(model)
        if not text_file.is_file() or text_file.read_text() != text:
            stale.append(
                text_file.relative_to(REPOSITORY_ROOT) if text_file.is_relative_to(REPOSITORY_ROOT) else text_file
            )
            text_file.write_text(text)
        render(model, args.output / name, **LAYOUTS.get(name, {}))
        print(f"diagram: {args.output / name}.png, .svg  ({model['source']['kind']})")
    if stale:
        print("diagram: regenerated (were stale or missing): " + ", ".join(map(str, stale)))
        if args.check:
            print(
                "diagram: the committed diagram models are stale: run 'make diagram' and commit docs/architecture/",
                file=sys.stderr,
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
