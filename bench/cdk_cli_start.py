"""What V8's compile cache saves each start of the CDK CLI the rehearsal runs (rehearsal/node_compile_cache.cjs).

    python -m bench.cdk_cli_start [--rounds 7]          (from the repository root)

`cdk --version` is the CLI's start alone: loading and compiling its 16 MB script. Per round, the plain CLI and
the CLI with the compile cache run in alternating order; the cache is made once first, in a scratch directory.
Medians of wall and CPU (user + system of the child), and their ratio to the plain start, in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from rehearsal import cdk_cli


def _start(env: dict[str, str]) -> tuple[float, float]:
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run([cdk_cli.cdk_executable(), "--version"], env=env, check=True, capture_output=True)
    wall, after = time.monotonic() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    plain = {k: v for k, v in os.environ.items() if k not in ("NODE_OPTIONS", "REHEARSAL_NODE_COMPILE_CACHE")}
    with tempfile.TemporaryDirectory(prefix="bench-cdk-start-") as scratch:
        cached = cdk_cli.with_compile_cache(plain, directory=Path(scratch))
        first_wall, first_cpu = _start(cached)
        samples: dict[str, list[tuple[float, float]]] = {"plain": [], "compile cache": []}
        for round_number in range(rounds):
            sides = [("plain", plain), ("compile cache", cached)]
            for name, env in sides if round_number % 2 == 0 else reversed(sides):
                samples[name].append(_start(env))
    print(f"cdk --version, {rounds} rounds interleaved; load average {os.getloadavg()[0]:.2f}")
    print(f"  first start with an empty cache (compiles, then stores): {first_wall:.2f} s wall, {first_cpu:.2f} s CPU")
    base_wall, base_cpu = (statistics.median(s[i] for s in samples["plain"]) for i in (0, 1))
    for name, runs in samples.items():
        wall, cpu = statistics.median(s[0] for s in runs), statistics.median(s[1] for s in runs)
        print(f"  {name:<14} wall {wall:5.2f} s ({wall / base_wall:.2f}x)   CPU {cpu:5.2f} s ({cpu / base_cpu:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
