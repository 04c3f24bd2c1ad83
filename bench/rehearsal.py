"""Rehearsal cost: the dev rehearsal (emulator, bootstrap, deploy, smoke) and the whole promotion.

Each run is a fresh `python -m rehearsal` process on one cloud assembly synthesized here once
(the checks that `make run` runs first are `make test`'s, timed by CI, not here). Targets from the issues:
dev rehearsal <= 60 s; the whole promotion with the synth reused (`--assembly`, as `--reuse-synth`) <= 90 s
(issue 12), on 2 cores. The promotion's figure is the run's own `total_s` (summary.json: bootstrap,
every action, the catalog launch); the process's wall time adds start-up and the clean-up of the run's
scratch space (deleting the builds' environments: I/O, much slower on a disk that discards freed blocks),
and is printed beside it with the CPU time (user + system of the process and its children) and the load.

  python -m bench.rehearsal [--runs N] [--assembly DIR]

Run it from the repository root with -m: as `python bench/rehearsal.py` this file would shadow the package.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rehearsal import cdk_cli

ROOT = Path(__file__).resolve().parents[1]

TARGETS_S = {"dev rehearsal (deploy + smoke)": 60.0, "whole promotion (--approve, synth reused)": 90.0}


def _timed(args: list[str], reports: Path) -> tuple[float, float, dict]:
    """(process wall s, CPU s, summary.json) of one `python -m rehearsal` run."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "rehearsal", *args, "--reports", str(reports)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode != 0:
        sys.exit(f"rehearsal failed (exit {completed.returncode}):\n{completed.stdout[-3000:]}")
    return seconds, cpu, json.loads((reports / "rehearsal" / "summary.json").read_text())


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
            "whole promotion (--approve, synth reused)": ["--assembly", str(assembly), "--approve"],
        }
        print(f"cores: {os.cpu_count()}; runs per scenario: {args.runs}")
        for name, scenario in scenarios.items():
            times, walls, cpus, summary = [], [], [], {}
            load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
            for run in range(args.runs):
                wall, cpu, summary = _timed(scenario, Path(scratch) / f"reports-{run}")
                times.append(summary.get("total_s") or wall)
                walls.append(wall)
                cpus.append(cpu)
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
            print(
                f"  process {statistics.median(walls):.1f} s wall (start-up, run, clean-up), "
                f"{statistics.median(cpus):.1f} s CPU; load {load_before} -> "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            for action in actions:
                if action["seconds"] >= 0.05:
                    print(f"    {action['stage']}/{action['name']}: {action['seconds']:.1f} s ({action['status']})")
            if summary.get("catalog_launch"):
                print(f"    catalog launch: {summary['catalog_launch'].get('seconds', 0):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
