"""Wall and CPU time of `make test` (scripts/check) on this checkout, and of `.ci/run` on a fresh clone.

    python -m bench.check [--runs 1] [--fresh-clone | --compare REV]      (from the repository root)

- `make test`: scripts/check as a developer runs it, warm (its .venv, node_modules and mypy cache exist);
  the per-step figures come from its log. Target <= 60 s wall on 2 cores.
- `--fresh-clone`: `git clone` of HEAD into a scratch directory, then `bash .ci/run` there with CI=true,
  as CI runs it (scripts/setup installs everything; mypy starts without a cache). Target <= 4 min.
- `--compare REV`: `make test` of this checkout against REV's, interleaved (this-REV, REV-this, ...) after
  one untimed warm-up run of each, so a change's effect can be read on a machine whose speed drifts by more
  than the change (here: about +-10 s of CPU from one run to the next). REV is a git worktree in a scratch
  directory; its warm-up run installs its own .venv and node_modules (scripts/setup, about a minute).
CPU time is user + system of the command and all its children. The machine is shared: the load average
before and after each run is printed; compare CPU time across runs, and wall time only at a similar load.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST_SUMMARY = re.compile(r"\d+ (passed|failed)\b.* in [\d.]+s")
TARGETS_S = {"make test (warm)": 60.0, ".ci/run (fresh clone)": 240.0}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _timed(name: str, command: list[str], cwd: Path, env: dict[str, str], log: Path) -> tuple[float, float]:
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
        raise SystemExit(f"{name} failed in {cwd}: its figures would compare a failure")
    return wall, cpu


@contextmanager
def _worktree(revision: str, scratch: Path) -> Iterator[Path]:
    """REV checked out in `scratch` (removed afterwards)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if commit.returncode != 0:
        raise SystemExit(f"--compare {revision}: not a commit here ({commit.stderr.strip()})")
    tree = scratch / "compare"
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), commit.stdout.strip()], cwd=ROOT, check=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def compare(revision: str, rounds: int, env: dict[str, str], scratch: Path) -> None:
    name = "make test (warm)"
    with _worktree(revision, scratch) as other:
        sides = {"this checkout": ROOT, revision: other}
        for side, tree in sides.items():
            print(f"warm-up of {side} (not counted):")
            _timed(name, ["make", "test"], tree, env, scratch / "warm-up.log")
        figures: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        for number in range(rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            for side in order:
                print(f"round {number + 1}, {side}:")
                figures[side].append(_timed(name, ["make", "test"], sides[side], env, scratch / "compare.log"))
    mine, theirs = figures["this checkout"], figures[revision]
    for index, label in ((0, "wall"), (1, "CPU")):
        ratios = sorted(m[index] / t[index] for m, t in zip(mine, theirs, strict=True))
        print(
            f"{label}: this checkout {statistics.mean(m[index] for m in mine):.1f} s, {revision} "
            f"{statistics.mean(t[index] for t in theirs):.1f} s (means of {rounds}); this / {revision}: median "
            f"{statistics.median(ratios):.3f} (rounds {ratios[0]:.3f}-{ratios[-1]:.3f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1, help="runs of `make test`")
    parser.add_argument("--fresh-clone", action="store_true", help="also time .ci/run on a fresh clone of HEAD")
    parser.add_argument("--compare", metavar="REV", help="interleave --runs rounds with REV's make test instead")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    print(f"cores {os.cpu_count()}")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    with tempfile.TemporaryDirectory(prefix="bench-check-") as scratch:
        if args.compare:
            compare(args.compare, args.runs, env, Path(scratch))
            return 0
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
