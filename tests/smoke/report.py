"""pytest plugin: one self-contained HTML report (and a JSON summary) of a smoke run.

Per check: result (passed / failed / error / not emulated / skipped), duration, the resource(s) it
looked at, the reason of a failure or of 'not emulated', and its warnings (`SmokeWarning`: something to act
on that does not fail the stage). Against the emulator it also lists every
resource the emulator did not create and the emulator shims in use. No external assets: inline CSS,
no JavaScript, so the file opens anywhere (CodeBuild artifact, browser, e-mail attachment).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

NOT_EMULATED = "not emulated"
OUTCOME_ORDER = ("failed", "error", "passed", "not emulated", "skipped")


@dataclass
class Check:
    nodeid: str
    title: str
    area: str
    outcome: str = "not run"
    duration_s: float = 0.0
    resources: list[str] = field(default_factory=list)
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def _skip_message(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    summary = crash.message if crash is not None else ""
    return summary + ("\n\n" + report.longreprtext if report.longreprtext else "")


class SmokeReport:
    """Collects results; writes `html_path` and `summary_path` at the end of the session."""

    def __init__(
        self, html_path: Path | None, summary_path: Path | None, context: Callable[[], dict[str, Any]]
    ) -> None:
        self.html_path = html_path
        self.summary_path = summary_path
        self.context = context
        self.checks: dict[str, Check] = {}
        self.collection_errors: list[Check] = []
        self.started = time.time()

    # --- hooks ---------------------------------------------------------------------------------------

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            function = getattr(item, "function", None)
            doc = (getattr(function, "__doc__", None) or item.name).strip().splitlines()[0]
            module_doc = (getattr(item.module, "__doc__", None) or item.module.__name__).strip().splitlines()[0]
            params = getattr(item, "callspec", None)
            if params is not None and params.id:
                doc = f"{doc} [{params.id}]"
            self.checks[item.nodeid] = Check(nodeid=item.nodeid, title=doc, area=module_doc.rstrip("."))

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(
                Check(
                    nodeid=report.nodeid or "collection",
                    title="collection / target resolution",
                    area="setup",
                    outcome="error",
                    message=str(report.longrepr),
                )
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        check = self.checks.setdefault(report.nodeid, Check(report.nodeid, report.nodeid, "other"))
        check.duration_s += report.duration
        for name, value in report.user_properties:
            if name == "resource" and value not in check.resources:
                check.resources.append(str(value))
        if report.skipped:
            message = _skip_message(report)
            check.outcome = NOT_EMULATED if message.startswith(NOT_EMULATED) else "skipped"
            check.message = message
        elif report.failed:
            check.outcome = "failed" if report.when == "call" else "error"
            check.message = (check.message + "\n\n" if check.message else "") + _failure_message(report)
        elif report.when == "call" and check.outcome == "not run":
            check.outcome = "passed"

    def pytest_warning_recorded(self, warning_message: Any, when: str, nodeid: str) -> None:
        if when == "runtest" and nodeid:
            check = self.checks.setdefault(nodeid, Check(nodeid, nodeid, "other"))
            check.warnings.append(str(warning_message.message))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, exitstatus: int) -> None:
        summary = self.summary(int(exitstatus))
        if self.summary_path is not None:
            self.summary_path.parent.mkdir(parents=True, exist_ok=True)
            self.summary_path.write_text(json.dumps(summary, indent=2) + "\n")
        if self.html_path is not None:
            self.html_path.parent.mkdir(parents=True, exist_ok=True)
            self.html_path.write_text(render_html(summary), encoding="utf-8")

    # --- output ---------------------------------------------------------------------------------------

    def summary(self, exitstatus: int) -> dict[str, Any]:
        checks = [*self.collection_errors, *self.checks.values()]
        counts = {name: sum(1 for c in checks if c.outcome == name) for name in (*OUTCOME_ORDER, "not run")}
        counts["warned"] = sum(1 for c in checks if c.warnings)
        executed = counts["passed"] + counts["failed"] + counts["error"]
        total = executed + counts[NOT_EMULATED] + counts["skipped"]
        try:
            context = self.context()
        except Exception as error:
            context = {"target_error": str(error)}
        return {
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.time() - self.started, 2),
            "exit_status": exitstatus,
            "result": "passed" if counts["failed"] == counts["error"] == 0 and exitstatus == 0 else "failed",
            "counts": counts,
            "executed": executed,
            "total": total,
            "executed_percent": round(100 * executed / total, 1) if total else 0.0,
            "context": context,
            "checks": [asdict(c) for c in checks],
        }


# --- HTML ------------------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header{background:#24292f;color:#fff;padding:20px 32px}header h1{margin:0 0 4px;font-size:22px}
header .sub{color:#c9d1d9}main{padding:20px 32px;max-width:1400px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:12px;text-transform:uppercase}
.passed{background:#dafbe1;color:#116329}.failed,.error{background:#ffebe9;color:#a40e26}
.not-emulated{background:#fff8c5;color:#7d4e00}.skipped,.not-run{background:#eaeef2;color:#57606a}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 20px}.card{background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:10px 16px;min-width:110px}.card b{display:block;font-size:24px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de;margin:0 0 24px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num{text-align:right;white-space:nowrap}
tr.area td{background:#f6f8fa;font-weight:600;color:#57606a}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-word;margin:6px 0 0;max-height:320px;overflow:auto;background:#f6f8fa;
padding:8px;border-radius:6px}details summary{cursor:pointer;color:#0969da}.muted{color:#57606a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;border:1px solid #d0d7de;
border-radius:8px;padding:12px 16px;margin:0 0 20px}dt{font-weight:600;color:#57606a}dd{margin:0;word-break:break-all}
h2{font-size:17px;margin:24px 0 8px}
.failed-list{background:#fff;border:1px solid #ffcecb;border-radius:8px;padding:10px 10px 10px 32px;margin:0 0 20px}
.note{margin-top:4px;color:#7d4e00;font-size:13px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _badge(outcome: str) -> str:
    return f'<span class="badge {outcome.replace(" ", "-")}">{_e(outcome)}</span>'


def render_html(summary: dict[str, Any]) -> str:
    context = summary.get("context", {})
    counts = summary["counts"]
    title = f"Smoke report: {context.get('stage') or context.get('stack_name') or 'unknown target'}"
    rows = []
    area = None
    for check in sorted(summary["checks"], key=lambda c: (c["area"] != "setup",)):
        if check["area"] != area:
            area = check["area"]
            rows.append(f'<tr class="area"><td colspan="4">{_e(area)}</td></tr>')
        detail = ""
        if check["message"]:
            first = check["message"].strip().splitlines()[0][:300] if check["message"].strip() else ""
            if check["outcome"] in ("failed", "error"):
                detail = f"<details><summary>{_e(first)}</summary><pre>{_e(check['message'])}</pre></details>"
            else:
                detail = f'<div class="note">{_e(check["message"])}</div>'
        detail += "".join(f'<div class="note">warning: {_e(w)}</div>' for w in check.get("warnings", []))
        resources = "<br>".join(f"<code>{_e(r)}</code>" for r in check["resources"]) or '<span class="muted">-</span>'
        rows.append(
            f"<tr><td>{_badge(check['outcome'])}</td><td>{_e(check['title'])}<br>"
            f'<span class="muted"><code>{_e(check["nodeid"])}</code></span>{detail}</td>'
            f'<td>{resources}</td><td class="num">{check["duration_s"]:.2f} s</td></tr>'
        )
    target_rows = "".join(
        f"<dt>{_e(label)}</dt><dd>{_e(context[key])}</dd>"
        for key, label in (
            ("stage", "stage"),
            ("stack_name", "stack"),
            ("account", "account"),
            ("region", "region"),
            ("endpoint", "AWS endpoint"),
            ("api_url", "API URL"),
            ("run_id", "smoke run id"),
            ("target_error", "target error"),
        )
        if context.get(key)
    )
    cards = "".join(
        f'<div class="card"><b>{counts.get(name, 0)}</b>{_badge(name)}</div>'
        for name in ("passed", "failed", "error", "not emulated", "skipped")
        if counts.get(name) or name in ("passed", "failed", "not emulated")
    )
    if counts.get("warned"):
        cards += f'<div class="card"><b>{counts["warned"]}</b>with a warning</div>'

    cards += (
        f'<div class="card"><b>{summary["executed_percent"]}%</b>executed<br><span class="muted">'
        f"{summary['executed']} of {summary['total']} checks</span></div>"
        f'<div class="card"><b>{summary["duration_s"]} s</b>duration</div>'
    )
    emulator = context.get("not_emulated") or {}
    emulator_html = ""
    if emulator:
        skipped_rows = "".join(
            f"<tr><td><code>{_e(s['type'])}</code></td><td>{_e(s.get('name') or '')}</td>"
            f"<td><code>{_e(s['logical_id'])}</code></td><td>{_e(s.get('reason', ''))}</td></tr>"
            for s in emulator.get("skipped", [])
        )
        provided_rows = "".join(
            f"<tr><td><code>{_e(s['type'])}</code></td><td><code>{_e(s['logical_id'])}</code></td>"
            f"<td>{_e(s.get('reason', ''))}</td></tr>"
            for s in emulator.get("provided_by_harness", [])
        )
        shim_rows = "".join(
            f"<tr><td><code>{_e(s['name'])}</code></td><td><code>{_e(s['target'])}</code></td>"
            f"<td>{_e(s['problem'])}</td><td>{_e(s['remedy'])}</td></tr>"
            for s in emulator.get("shims", [])
        )
        notes = "".join(f"<li>{_e(n)}</li>" for n in emulator.get("notes", []))
        emulator_html = (
            f"<h2>Emulator: {_e(emulator.get('emulator', ''))}</h2>"
            f"<p>This run targeted a local emulator, not AWS. A check whose subject the emulator did not create "
            f"is reported <b>not emulated</b>, never passed.</p>{f'<ul>{notes}</ul>' if notes else ''}"
            f"<h2>Resources the emulator did not create ({len(emulator.get('skipped', []))})</h2>"
            "<table><tr><th>type</th><th>name</th><th>logical id</th><th>reason</th></tr>"
            f"{skipped_rows or '<tr><td colspan=4>none</td></tr>'}</table>"
            + (
                "<h2>Resources created by the harness through the emulator's API</h2><table><tr><th>type</th>"
                f"<th>logical id</th><th>how</th></tr>{provided_rows}</table>"
                if provided_rows
                else ""
            )
            + "<h2>Emulator shims</h2><table><tr><th>shim</th><th>patches</th><th>problem</th><th>remedy</th></tr>"
            f"{shim_rows}</table>"
        )
    failed = [c for c in summary["checks"] if c["outcome"] in ("failed", "error")]
    failed_html = ""
    if failed:
        items = "".join(
            f'<li>{_e(c["title"])}: <span class="muted">{_e((c["message"].strip().splitlines() or [""])[0][:200])}'
            "</span></li>"
            for c in failed
        )
        failed_html = f'<h2>Failed checks ({len(failed)})</h2><ul class="failed-list">{items}</ul>'
    generated = _e(summary["generated_at"])
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body><header><h1>{_e(title)} {_badge(summary['result'])}</h1>"
        f'<div class="sub">payment platform post-deploy smoke suite &middot; generated {generated}</div></header>'
        f'<main><div class="cards">{cards}</div><dl>{target_rows}</dl>{failed_html}'
        f"<h2>Checks</h2><table><tr><th>result</th><th>check</th><th>resource</th><th>duration</th></tr>"
        f"{''.join(rows)}</table>{emulator_html}</main></body></html>\n"
    )
