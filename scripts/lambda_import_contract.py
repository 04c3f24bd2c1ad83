"""An import-linter contract type for Lambda code roots, which import-linter cannot see by itself.

Each directory under `code_roots_under` (assets/lambda/<function>/) is one function's code root, as Lambda
unpacks it: its modules import each other top-level (`import validation`), so none of them is a package
and grimp (import-linter's graph) refuses them as root packages. This contract reads their imports with
`ast` instead, and keeps two rules per code root:

- no module imports a `forbidden_modules` entry;
- the modules of one code root import each other without a cycle.

Registered in pyproject.toml (`[tool.importlinter] contract_types`); `lint-imports` runs it with the others.
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line_number: int
    line: str

    def describe(self) -> str:
        return f"{self.importer} -> {self.imported} (l. {self.line_number}: {self.line})"


class LambdaCodeContract(Contract):
    code_roots_under = fields.StringField()
    forbidden_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:  # noqa: ARG002 - grimp's graph lacks these
        parent = Path(str(self.code_roots_under))
        roots = sorted(path for path in parent.iterdir() if path.is_dir()) if parent.is_dir() else []
        if not roots:
            raise ValueError(f"code_roots_under = {parent}: no Lambda code root there (run lint-imports from the repo)")
        forbidden = set(cast("list[str]", self.forbidden_modules))  # the field set a list[str] on the instance
        violations: list[str] = []
        for root in roots:
            imports = imports_of(root)
            local = {path.stem for path in root.glob("*.py")}
            # A code root is closed: every module is in it, so a forbidden module is reached only through
            # one of its own modules importing it directly.
            violations += [f"{root}: {item.describe()}" for item in imports if item.imported in forbidden]
            cycle = import_cycle(imports, local)
            if cycle:
                violations.append(f"{root}: import cycle {' -> '.join(cycle)}")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for violation in check.metadata["violations"]:
            output.print_error(violation, bold=False)
            output.new_line()


def imports_of(root: Path) -> list[Import]:
    """Every import of every module in one code root, by its top-level name (`aws_cdk` for `aws_cdk.aws_s3`)."""
    found: list[Import] = []
    for path in sorted(root.glob("*.py")):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.append(Import(path.stem, name.split(".")[0], node.lineno, lines[node.lineno - 1].strip()))
    return found


def import_cycle(imports: list[Import], local: set[str]) -> list[str]:
    """One cycle among the code root's own modules (empty if none)."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for item in imports:
        if item.imported in local and item.imported != item.importer:
            sorter.add(item.importer, item.imported)
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        return list(error.args[1])
    return []
