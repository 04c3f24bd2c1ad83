"""The architecture pictures in docs/architecture/ match the app: their committed models are regenerated from
the session's synthesized assembly (no second synth) and compared with what is committed."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest

from scripts.diagram_assembly import to_text
from scripts.diagram_delivery import delivery_model
from scripts.diagram_model import REGENERATE_HINT, models, product_model

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPOSITORY_ROOT / "docs" / "architecture"
PICTURES = ("payment-product", "delivery-flow")


@pytest.fixture(scope="module")
def regenerated(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    return models(assembly_dir)


def test_every_generated_model_is_committed(regenerated: dict[str, dict[str, Any]]) -> None:
    assert set(regenerated) == set(PICTURES)


@pytest.mark.parametrize("name", PICTURES)
def test_committed_model_is_current(name: str, regenerated: dict[str, dict[str, Any]]) -> None:
    committed_file = ARCHITECTURE / f"{name}.json"
    fresh = to_text(regenerated[name])
    committed = committed_file.read_text() if committed_file.is_file() else ""
    if committed != fresh:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(True),
                    fresh.splitlines(True),
                    f"committed docs/architecture/{name}.json",
                    "from this synth",
                )
            )[:60]
        )
        pytest.fail(
            f"docs/architecture/{name}.json (and its .png/.svg) no longer match the synthesized app. Regenerate "
            f"with `{REGENERATE_HINT}` (needs Graphviz `dot`: `sudo apt-get install -y graphviz`) and commit "
            f"docs/architecture/.\n{diff}"
        )


@pytest.mark.parametrize("name", PICTURES)
def test_pictures_exist_and_svg_is_self_contained(name: str) -> None:
    png, svg = ARCHITECTURE / f"{name}.png", ARCHITECTURE / f"{name}.svg"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} missing: run `{REGENERATE_HINT}`"
    assert svg.is_file(), f"{svg} missing: run `{REGENERATE_HINT}`"
    linked = re.findall(r'href="(/[^"]+)"', svg.read_text())
    assert not linked, f"{svg.name} links icons on the machine that drew it: {linked[:3]}"


def test_product_picture_is_drawn_from_the_prod_stage(regenerated: dict[str, dict[str, Any]]) -> None:
    model = regenerated["payment-product"]
    assert model["source"]["stack"].endswith("prod/PaymentStack")
    types = {node["type"] for node in model["nodes"]}
    for expected in (
        "AWS::ApiGateway::RestApi",
        "AWS::WAFv2::WebACL",
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::KMS::Key",
        "AWS::CloudWatch::Alarm",
        "AWS::AutoScaling::AutoScalingGroup",
        "AWS::CE::AnomalyMonitor",
    ):
        assert expected in types
    ids = {node["id"] for node in model["nodes"]}
    assert all(edge["from"] in ids and edge["to"] in ids for edge in model["edges"])


def test_product_picture_needs_the_prod_stack() -> None:
    with pytest.raises(LookupError, match="Payment Processing Infrastructure Stack"):
        product_model({"Other": {"Resources": {}}})


_PIPELINE = {
    "Resources": {
        "Pipeline": {
            "Type": "AWS::CodePipeline::Pipeline",
            "Properties": {
                "Triggers": [{"GitConfiguration": {"Push": [{"Branches": {"Includes": ["main"]}}]}}],
                "Stages": [
                    {
                        "Name": "Source",
                        "Actions": [
                            {
                                "Name": "repo",
                                "ActionTypeId": {"Category": "Source", "Provider": "CodeStarSourceConnection"},
                            }
                        ],
                    },
                    {
                        "Name": "prod",
                        "Actions": [
                            {
                                "Name": "Approve",
                                "RunOrder": 1,
                                "ActionTypeId": {"Category": "Approval", "Provider": "Manual"},
                            },
                            {
                                "Name": "Deploy",
                                "RunOrder": 2,
                                "Configuration": {"StackName": "prod-PaymentStack"},
                                "ActionTypeId": {"Category": "Deploy", "Provider": "CloudFormation"},
                            },
                        ],
                    },
                ],
            },
        }
    }
}


def test_delivery_picture_needs_the_pipeline_template() -> None:
    with pytest.raises(LookupError, match=r"no AWS::CodePipeline::Pipeline: synthesize the whole app"):
        delivery_model({"PaymentStack-dev": {"Resources": {}}})


def test_delivery_picture_is_drawn_from_the_pipeline_template() -> None:
    drawn = delivery_model({"PaymentPipeline": _PIPELINE})
    assert drawn["source"] == {"kind": "pipeline-template", "stack": "PaymentPipeline"}
    assert [(e["from"], e["to"]) for e in drawn["edges"]] == [
        ("push", "Source/repo"),
        ("Source/repo", "prod/Approve"),
        ("prod/Approve", "prod/Deploy"),
    ]
    assert next(n for n in drawn["nodes"] if n["id"] == "push")["details"] == ["branch main"]
