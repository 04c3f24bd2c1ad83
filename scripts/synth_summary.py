"""Print where the synthesized templates are and what each stack contains (from a cloud assembly).

python -m scripts.synth_summary [cdk.out]      # `make summary`
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rehearsal.assembly import PRODUCT_TEMPLATE_SUFFIX, product_template_files, stacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path, help="cloud assembly directory")
    args = parser.parse_args(argv)
    if not (args.assembly / "manifest.json").is_file():
        print(f"error: {args.assembly} is not a cloud assembly; run 'make synth' first", file=sys.stderr)
        return 2
    listed = [(stack.display_name, stack.template_file, stack.environment_uri) for stack in stacks(args.assembly)]
    # Service Catalog product templates are assets of their catalog stack, not stacks: listed after them.
    listed += [
        (path.name.removesuffix(PRODUCT_TEMPLATE_SUFFIX), path, "launch account/region")
        for path in product_template_files(args.assembly)
    ]
    for name, template_path, env in listed:
        template = json.loads(template_path.read_text())
        resources = Counter(r["Type"] for r in template.get("Resources", {}).values())
        print(f"\n{name}  ({env})\n  template: {template_path}\n  {template.get('Description', '')}")
        print(f"  {sum(resources.values())} resources, {len(template.get('Outputs', {}))} outputs")
        services = Counter(t.split("::")[1] for t in resources if t.startswith("AWS::"))
        print("  services: " + ", ".join(f"{s} ({n})" for s, n in sorted(services.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
