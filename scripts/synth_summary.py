"""Print where the synthesized templates are and what each stack contains (from a cloud assembly)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path


def stacks(assembly: Path) -> list[tuple[str, Path, dict]]:
    found = []
    for manifest in sorted(assembly.rglob("manifest.json")):
        for artifact in json.loads(manifest.read_text()).get("artifacts", {}).values():
            if artifact.get("type") == "aws:cloudformation:stack":
                template = manifest.parent / artifact["properties"]["templateFile"]
                found.append((artifact.get("displayName", template.stem), template, artifact))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path, help="cloud assembly directory")
    args = parser.parse_args(argv)
    if not (args.assembly / "manifest.json").is_file():
        print(f"error: {args.assembly} is not a cloud assembly; run 'make synth' first", file=sys.stderr)
        return 2
    # Service Catalog product templates are assets of their catalog stack, not stacks: listed after them.
    products = [
        (path.name.removesuffix(".product.template.json"), path, {"environment": "launch account/region"})
        for path in sorted(args.assembly.rglob("*.product.template.json"))
    ]
    for name, template_path, artifact in [*stacks(args.assembly), *products]:
        template = json.loads(template_path.read_text())
        resources = Counter(r["Type"] for r in template.get("Resources", {}).values())
        env = artifact.get("environment", "")
        print(f"\n{name}  ({env})\n  template: {template_path}\n  {template.get('Description', '')}")
        print(f"  {sum(resources.values())} resources, {len(template.get('Outputs', {}))} outputs")
        services = Counter(t.split("::")[1] for t in resources if t.startswith("AWS::"))
        print("  services: " + ", ".join(f"{s} ({n})" for s, n in sorted(services.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
