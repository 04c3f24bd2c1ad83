"""cfn-lint over every template of a cloud assembly; a template this cfn-lint has passed unchanged is not linted again.

    python -m scripts.lint_templates cdk.out [--cache .cfn-lint-cache]

A pass is recorded under the template's SHA-256, in a directory named after cfn-lint's version and the
arguments it ran with: a changed template, another cfn-lint or other arguments are linted again, and a
failure is never recorded. The pipeline's synth build starts from a clean checkout, so it lints every
template; on a developer's machine `make test` lints only what the last change touched.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

IGNORED_CHECKS = ("W3005",)  # a DependsOn that a Ref or GetAtt already implies: CDK writes such DependsOn
DEFAULT_CACHE = Path(".cfn-lint-cache")


def templates_in(assembly: Path) -> list[Path]:
    """Every stack template and Service Catalog product template, nested assemblies included."""
    return sorted(assembly.rglob("*.template.json"))


def cfn_lint_command() -> list[str]:
    return [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", *IGNORED_CHECKS, "--"]


def installed_cfn_lint_version() -> str:
    """The version of the cfn-lint installed beside this Python (what `cfn_lint_command` runs)."""
    return importlib.metadata.version("cfn-lint")


def passes_directory(cache: Path, version: str, command: list[str]) -> Path:
    key = hashlib.sha256("\0".join([version, *command[1:]]).encode()).hexdigest()[:16]
    return cache / key


def content_hash(template: Path) -> str:
    return hashlib.sha256(template.read_bytes()).hexdigest()


def lint(assembly: Path, cache: Path, command: list[str] | None = None, version: str | None = None) -> int:
    command = command or cfn_lint_command()
    version = version or installed_cfn_lint_version()
    templates = templates_in(assembly)
    if not templates:
        print(f"lint_templates: no *.template.json in {assembly}: synthesize first (`cdk synth`)", file=sys.stderr)
        return 1
    passed = passes_directory(cache, version, command)
    hashes = {template: content_hash(template) for template in templates}
    todo = [template for template in templates if not (passed / hashes[template]).is_file()]
    if todo:
        status = subprocess.run([*command, *map(str, todo)], check=False).returncode
        if status != 0:
            return status
        passed.mkdir(parents=True, exist_ok=True)
        for template in todo:
            (passed / hashes[template]).write_text(f"{template}\n")
    unchanged = len(templates) - len(todo)
    print(
        f"cfn-lint: {len(templates)} templates, no findings ({len(todo)} linted, "
        f"{unchanged} unchanged since this cfn-lint passed them)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assembly", type=Path, help="the cloud assembly directory (cdk.out)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where passes are recorded")
    args = parser.parse_args(argv)
    if not args.assembly.is_dir():
        parser.error(f"{args.assembly} is not a directory: synthesize first (`cdk synth`)")
    return lint(args.assembly, args.cache)


if __name__ == "__main__":
    sys.exit(main())
