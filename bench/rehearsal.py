"""Rehearsal cost: the dev rehearsal (emulator, bootstrap, deploy, smoke) and the whole promotion.

Each run is a fresh `python -m rehearsal` process on one cloud assembly synthesized here once
(the checks that `make run` runs first are `make test`'s, timed by CI, not here). Targets from the issue:
dev rehearsal <= 60 s, whole promotion <= 3 min, on 2 cores.

  python -m bench.rehearsal [--runs N] [--assembly DIR]

Run it from the repository root with -m: as `python bench/rehearsal.py` this file would shadow the package.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rehearsal import cdk_cli

ROOT = Path(__file__).resolve().parents[1]

TARGETS_S = {"dev rehearsal (deploy + smoke)": 60.0, "whole promotion (--approve)": 180.0}


def _timed(args: list[str], reports: Path) -> tuple[float, dict]:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "rehearsal", *args, "--reports", str(reports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        sys.exit(f"rehearsal failed (exit {completed.returncode}):\n{completed.stdout[-3000:]}")
    return seconds, json.loads((reports / "rehearsal" / "summary.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of each scenario (median reported)")
    parser.add_argument("--assembly", type=Path, help="reuse this cloud assembly instead of synthesizing one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-rehearsal-") as scratch:
        assembly = args.assembly
        if assembly is None:
            assembly = Path(scratch) / "cdk.out"
            started = time.monotonic()
            cdk_cli.synth(outdir=assembly, env=dict(os.environ), log_file=Path(scratch) / "synth.log")
            print(f"synth (cdk synth, nag gate): {time.monotonic() - started:.1f} s")
        scenarios = {
            "dev rehearsal (deploy + smoke)": ["--assembly", str(assembly), "--stage", "dev"],
            "whole promotion (--approve)": ["--assembly", str(assembly), "--approve"],
        }
        print(f"cores: {os.cpu_count()}; runs per scenario: {args.runs}")
        for name, scenario in scenarios.items():
            times, summary = [], {}
            for run in range(args.runs):
                seconds, summary = _timed(scenario, Path(scratch) / f"reports-{run}")
                times.append(seconds)
            median = statistics.median(times)
            target = TARGETS_S[name]
            actions = summary.get("actions", [])
            counts = [r.get("counts") or {} for a in actions for r in (a.get("details") or {}).get("reports", [])]
            tests = sum(c.get("tests", 0) for c in counts)
            skipped = sum(c.get("skipped", 0) for c in counts)
            per_stage: dict[str, float] = {}
            for action in actions:
                per_stage[action["stage"]] = per_stage.get(action["stage"], 0.0) + action["seconds"]
            detail = ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in per_stage.items() if seconds)
            print(
                f"{name}: {median:.1f} s wall (target <= {target:.0f} s: {'met' if median <= target else 'MISSED'}); "
                f"bootstrap {summary.get('bootstrap_s', 0):.1f} s; stages: {detail}; "
                f"smoke checks executed {tests - skipped}/{tests} ({100 * (tests - skipped) / max(1, tests):.1f}%)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
