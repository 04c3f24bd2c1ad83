"""AWS Config is out of scope: no resource, no import, no rule on its events, anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_no_aws_config_resources_or_event_patterns(all_templates: dict[str, Any]) -> None:
    assert all_templates
    for path, template in all_templates.items():
        for logical_id, resource in template.get("Resources", {}).items():
            assert not resource["Type"].startswith("AWS::Config::"), (path, logical_id)
            assert "aws.config" not in json.dumps(resource.get("Properties", {})), (path, logical_id)


def test_no_aws_config_import_in_the_code() -> None:
    for source in (REPOSITORY_ROOT / "product").rglob("*.py"):
        assert "aws_config" not in source.read_text(), source
    for source in (REPOSITORY_ROOT / "pipeline").rglob("*.py"):
        assert "aws_config" not in source.read_text(), source
