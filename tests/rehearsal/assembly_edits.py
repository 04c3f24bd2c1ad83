"""Edits of a synthesized assembly that the tests make by hand, kept consistent as synth would keep them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def write_edited_template(template_file: Path, text: str) -> None:
    """Write an edited template into its assembly and give it the content address synth would: the CDK CLI
    publishes templates to the bootstrap bucket by content hash, so an edit under the old key would deploy
    the unedited template (and serve the edit to whoever deploys the original next, in the shared emulator)."""
    template_file.write_text(text)
    directory = template_file.parent
    for assets in directory.glob("*.assets.json"):
        entries = [
            f for f in json.loads(assets.read_text())["files"].values() if f["source"]["path"] == template_file.name
        ]
        if not entries:
            continue
        old_key = next(iter(entries[0]["destinations"].values()))["objectKey"].removesuffix(".json")
        new_key = hashlib.sha256(text.encode()).hexdigest()
        for path in (assets, directory / "manifest.json"):
            path.write_text(path.read_text().replace(old_key, new_key))
