"""Synth cost: the full app against an empty CDK app, and the unit suite against one synth.

Each run is a fresh Python process (jsii start-up included), alternating full and empty, then medians.
The empty app is measured twice: with CDK's default built-in template validation (what `cdk init`
gives) and with it off, as the full app runs it (cfn-lint is the template gate instead).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPTY_APP = """
import sys
import aws_cdk as cdk
app = cdk.App(builtin_cloud_formation_validation=sys.argv[1] == "default")
cdk.Stack(app, "Empty")
app.synth()
"""


def _timed(command: list[str], outdir: str) -> float:
    env = {**os.environ, "CDK_OUTDIR": outdir, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs of each app (default 5)")
    parser.add_argument("--skip-suite", action="store_true", help="do not time the unit suite")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    python = sys.executable
    samples: dict[str, list[float]] = {"full": [], "empty (default validation)": [], "empty (validation off)": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            samples["full"].append(_timed([python, "pipeline_app.py"], f"{tmp}/full{run}"))
            samples["empty (default validation)"].append(
                _timed([python, "-c", EMPTY_APP, "default"], f"{tmp}/empty{run}")
            )
            samples["empty (validation off)"].append(_timed([python, "-c", EMPTY_APP, "off"], f"{tmp}/bare{run}"))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:30s} median {median:6.2f} s  ({', '.join(f'{v:.2f}' for v in samples[name])})")
    full = medians["full"]
    default_ratio = full / medians["empty (default validation)"]
    print(f"ratio full / empty (default validation): {default_ratio:.2f}x  (target <= 2.0x)")
    print(f"ratio full / empty (validation off):     {full / medians['empty (validation off)']:.2f}x")
    if not args.skip_suite:
        started = time.perf_counter()
        env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
        command = [python, "-m", "pytest", "tests/unit", "-q", "-p", "no:cacheprovider"]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=env)
        suite = time.perf_counter() - started
        print(f"unit suite wall time {suite:.2f} s = {suite / full:.2f}x one full synth  (target <= 3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
