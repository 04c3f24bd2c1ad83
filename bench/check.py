"""Wall and CPU time of `make test` (scripts/check) on this checkout, and of `.ci/run` on a fresh clone.

    python -m bench.check [--runs 1] [--fresh-clone]      (from the repository root)

- `make test`: scripts/check as a developer runs it, warm (its .venv, node_modules and mypy cache exist);
  the per-step figures come from its log. Target <= 60 s wall on 2 cores.
- `--fresh-clone`: `git clone` of HEAD into a scratch directory, then `bash .ci/run` there with CI=true,
  as CI runs it (scripts/setup installs everything; mypy starts without a cache). Target <= 4 min.
CPU time is user + system of the command and all its children. The machine is shared: the load average
before and after each run is printed; compare CPU time across runs, and wall time only at a similar load.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST_SUMMARY = re.compile(r"\d+ (passed|failed)\b.* in [\d.]+s")
TARGETS_S = {"make test (warm)": 60.0, ".ci/run (fresh clone)": 240.0}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(name: str, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    load_before = _load()
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    with log.open("w") as out:
        completed = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    target = TARGETS_S[name]
    verdict = "met" if wall <= target else "MISSED"
    print(
        f"{name}: exit {completed.returncode}, {wall:.1f} s wall (target <= {target:.0f} s: {verdict}), "
        f"{cpu:.1f} s CPU; load {load_before} -> {_load()}; log {log}"
    )
    tail = log.read_text(errors="replace").splitlines()
    summary = [line for line in tail if PYTEST_SUMMARY.search(line)]
    if summary:
        print(f"  tests: {summary[-1].strip()}")
    if completed.returncode != 0:
        print("\n".join(tail[-30:]))
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of `make test`")
    parser.add_argument("--fresh-clone", action="store_true", help="also time .ci/run on a fresh clone of HEAD")
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
        for run in range(args.runs):
            _timed("make test (warm)", ["make", "test"], ROOT, env, Path(scratch).parent / f"bench-check-{run}.log")
        if args.fresh_clone:
            clone = Path(scratch) / "clone"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
            _timed(
                ".ci/run (fresh clone)",
                ["bash", ".ci/run"],
                clone,
                {**env, "CI": "true"},
                Path(scratch).parent / "bench-ci.log",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
