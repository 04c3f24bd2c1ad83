"""The rehearsal's outputs: the console summary, `reports/rehearsal/summary.json` and one HTML page
(`reports/rehearsal/index.html`) for the whole run: stages, actions, logs, reports, what was not emulated."""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from rehearsal import shims
from rehearsal.executor import RunResult


def write_json(result: RunResult, reports: Path) -> Path:
    path = reports / "rehearsal" / "summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(result), indent=2, default=str) + "\n")
    return path


def not_emulated_by_type(items: list[dict[str, str]], stages: list[str]) -> list[tuple[str, dict[str, int]]]:
    """(resource type, {stage: count}) for every type the emulator did not create, types sorted."""
    grouped: dict[str, dict[str, int]] = {}
    for item in items:
        counts = grouped.setdefault(item["type"], {})
        counts[item["stage"]] = counts.get(item["stage"], 0) + 1
    order = {stage: i for i, stage in enumerate(stages)}
    return [(t, dict(sorted(c.items(), key=lambda kv: order.get(kv[0], 99)))) for t, c in sorted(grouped.items())]


def iam_by_stage(result: RunResult) -> dict[str, tuple[int, int, int]]:
    """Stage -> (authorized, denied, evaluated on the action only), from each action's IAM report."""
    totals: dict[str, tuple[int, int, int]] = {}
    for action in result.actions:
        report = action.details.get("iam")
        if report and report.get("enforced"):
            a, d, n = totals.get(action.stage, (0, 0, 0))
            totals[action.stage] = (
                a + report.get("authorized", 0),
                d + report.get("denied", 0),
                n + report.get("resource_not_evaluated", 0),
            )
    return totals


def print_summary(result: RunResult, out: Callable[[str], None], *, html_page: Path, json_file: Path) -> None:
    out("")
    out("== rehearsal summary " + "=" * 78)
    out(f"pipeline {result.pipeline} ({result.template}), {result.source_note}")
    out(f"{'stage':<16}{'action':<34}{'status':<22}{'time':>8}  log")
    for stage in result.stages:
        for action in (a for a in result.actions if a.stage == stage):
            out(f"{stage:<16}{action.name[:33]:<34}{action.status:<22}{action.seconds:>7.1f}s  {action.log or '-'}")
    tests = [a for a in result.actions if a.details.get("reports")]
    for action in tests:
        for report in action.details["reports"]:
            c = report.get("counts") or {}
            if c:
                failed = c.get("failures", 0) + c.get("errors", 0)
                out(
                    f"{action.path}: {c.get('tests', 0)} tests, {failed} failed, {c.get('skipped', 0)} skipped "
                    f"(not emulated or skipped); page {action.details.get('local_page') or '-'}"
                )
    for stage, (authorized, denied, action_only) in iam_by_stage(result).items():
        out(
            f"{stage}: IAM enforced: {authorized} calls authorized, {denied} denied; {action_only} evaluated on the "
            "action only (no resource ARN); resource policies and conditions not evaluated (README, IAM)"
        )
    launch = result.catalog_launch
    if launch:
        c = launch.get("counts") or {}
        out(
            f"catalog launch: {launch['status']} ({launch['stack_name'] or '-'}): {c.get('passed', 0)} passed, "
            f"{c.get('failed', 0) + c.get('error', 0)} failed, {c.get('not emulated', 0)} not emulated "
            f"({launch.get('executed_percent', 0)}% of checks executed) in {launch['seconds']:.1f} s; "
            f"report {launch.get('report') or '-'}{'; ' + launch['message'] if launch.get('message') else ''}"
        )
    stacks = sorted({item["stack"] for item in result.not_emulated})
    if result.not_emulated:
        stages = [s for s in result.stages if any(i["stage"] == s for i in result.not_emulated)]
        out("")
        out(
            f"not emulated: {len(result.not_emulated)} resources of {len(stacks)} stacks (moto {shims.MOTO_VERSION} "
            "created none of them; smoke checks on them are 'not emulated', never passed):"
        )
        width = max(len(t) for t, _ in not_emulated_by_type(result.not_emulated, stages)) + 2
        out(f"  {'type':<{width}}" + "".join(f"{s[:10]:>11}" for s in stages))
        for resource_type, counts in not_emulated_by_type(result.not_emulated, stages):
            out(f"  {resource_type:<{width}}" + "".join(f"{counts.get(s, 0) or '-':>11}" for s in stages))
        provided = not_emulated_by_type(result.provided_by_harness, stages)
        if provided:
            out(
                "  provided by the harness (moto's API, no CloudFormation provider): "
                + ", ".join(f"{t} x{sum(c.values())}" for t, c in provided)
            )
        out(f"  names and reasons: {json_file} (not_emulated) and the HTML page")
    for note in result.notes:
        out(f"note: {note}")
    out("")
    out(f"run page {html_page}; summary {json_file}")
    out(
        f"{result.verdict}: bootstrap {result.bootstrap_s:.1f} s, "
        f"pipeline {result.total_s - result.bootstrap_s:.1f} s; exit {result.exit_code}"
    )


_STYLE = (
    "body{font:14px system-ui,sans-serif;margin:2em;color:#1f2328}table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}"
    ".Succeeded,.Reused{background:#dafbe1}.Failed{background:#ffebe9}.Skipped,.Not.run{background:#eaeef2}"
    ".Not.emulated,.Stopped{background:#fff8c5}code{font-size:12px}"
)


def write_html(result: RunResult, reports: Path) -> Path:
    """One self-contained page for the run, next to summary.json."""
    base = reports / "rehearsal"
    path = base / "index.html"

    def link(target: str | None, text: str) -> str:
        if not target:
            return "-"
        absolute = Path(target) if Path(target).is_absolute() else Path.cwd() / target
        try:
            href = absolute.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            href = absolute.resolve().as_uri()
        return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'

    rows = []
    for action in result.actions:
        d = action.details
        extras = []
        if d.get("local_page"):
            extras.append(link(d["local_page"], "report page"))
        for report in d.get("reports") or []:
            c = report.get("counts") or {}
            if c:
                extras.append(
                    f"{c.get('tests', 0)} tests, {c.get('failures', 0) + c.get('errors', 0)} failed, "
                    f"{c.get('skipped', 0)} skipped"
                )
        for runtime in d.get("runtimes") or []:
            extras.append(f"{runtime['runtime']} {runtime['requested']} -> {runtime['used']} {runtime['note']}")
        if d.get("local_link"):
            extras.append("review " + link(d["local_link"].removeprefix("file://"), "link"))
        rows.append(
            f'<tr class="{html.escape(action.status)}"><td>{html.escape(action.stage)}</td>'
            f"<td>{html.escape(action.name)}<br><code>{html.escape(action.action_type)}</code></td>"
            f"<td>{action.run_order}</td><td>{html.escape(action.status)}</td><td>{action.seconds:.1f} s</td>"
            f"<td>{link(action.log, 'log')}</td><td>{html.escape(action.summary)}<br>{'<br>'.join(extras)}</td></tr>"
        )
    stages = result.stages
    missing = not_emulated_by_type(result.not_emulated, stages)
    not_emulated_rows = "".join(
        f"<tr><td>{html.escape(t)}</td>" + "".join(f"<td>{c.get(s, 0) or ''}</td>" for s in stages) + "</tr>"
        for t, c in missing
    )
    names = "".join(
        f"<tr><td>{html.escape(i['stage'])}</td><td>{html.escape(i['stack'])}</td><td>{html.escape(i['type'])}</td>"
        f"<td>{html.escape(i.get('name', ''))}</td><td>{html.escape(i.get('reason', ''))}</td></tr>"
        for i in result.not_emulated
    )
    stage_rows = "".join(
        f'<tr class="{html.escape(result.stage_status(s))}"><td>{html.escape(s)}</td>'
        f"<td>{html.escape(result.stage_status(s))}</td></tr>"
        for s in stages
    )
    launch = result.catalog_launch
    iam_rows = "".join(
        f"<tr><td>{html.escape(stage)}</td><td>{a}</td><td>{d}</td><td>{n}</td></tr>"
        for stage, (a, d, n) in iam_by_stage(result).items()
    )
    iam_section = (
        "<h2>IAM (enforced by the emulator)</h2><table><tr><th>stage</th><th>authorized</th><th>denied</th>"
        f"<th>evaluated on the action only</th></tr>{iam_rows}</table><p>Resource policies and policy conditions "
        "are not evaluated by moto (README, IAM).</p>"
        if iam_rows
        else ""
    )
    launch_section = ""
    if launch:
        c = launch.get("counts") or {}
        launch_section = (
            f"<h2>Catalog launch</h2><table><tr><th>stack</th><th>status</th><th>smoke</th><th>time</th>"
            f'<th>log</th></tr><tr class="{html.escape(launch["status"].capitalize())}">'
            f"<td>{html.escape(launch['stack_name'] or '-')}</td><td>{html.escape(launch['status'])}</td>"
            f"<td>{c.get('passed', 0)} passed, {c.get('failed', 0) + c.get('error', 0)} failed, "
            f"{c.get('not emulated', 0)} not emulated ({launch.get('executed_percent', 0)}% executed) "
            f"{link(launch.get('report'), 'report')}</td><td>{launch['seconds']:.1f} s</td>"
            f"<td>{link(launch.get('log'), 'log')}</td></tr></table>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Rehearsal of {html.escape(result.pipeline)}</title>
<style>{_STYLE}</style></head><body>
<h1>Rehearsal of pipeline {html.escape(result.pipeline)}: {html.escape(result.verdict)}</h1>
<p>{html.escape(result.source_note)}<br>template {html.escape(result.template)};
emulator {html.escape(result.emulator)}; exit {result.exit_code}; {result.total_s:.1f} s</p>
<h2>Stages</h2><table><tr><th>stage</th><th>status</th></tr>
{stage_rows}
</table>
<h2>Actions</h2><table><tr><th>stage</th><th>action</th><th>run order</th><th>status</th><th>time</th><th>log</th>
<th>what it did</th></tr>{"".join(rows)}</table>
{iam_section}{launch_section}
<h2>Resources the emulator did not create</h2>
<table><tr><th>type</th>{"".join(f"<th>{html.escape(s)}</th>" for s in stages)}</tr>{not_emulated_rows}</table>
<details><summary>every resource, with the reason</summary><table><tr><th>stage</th><th>stack</th><th>type</th>
<th>name</th><th>reason</th></tr>{names}</table></details>
<p>{"<br>".join(html.escape(n) for n in result.notes)}</p>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    return path
