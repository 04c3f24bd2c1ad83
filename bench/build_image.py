"""What a CodeBuild build's fresh environment costs in the rehearsal (rehearsal/build_image.py), A/B interleaved.

    python -m bench.build_image [--rounds 5]          (from the repository root)

1. Provisioning the image's Python for one build: `python -m venv` (ensurepip installs and byte-compiles pip:
   what each build did before) against `new_python_environment` (a `--without-pip` venv with the image's pip
   linked in), then deleting the build's directory as the run's clean-up does. Per round both sides run, in
   alternating order; medians of wall and CPU time (this process's children: user + system).
2. The smoke step's `pip install -r requirements-smoke.txt` into a new venv, with `PIP_NO_COMPILE=1` (what
   the image set before: pip reads it as "compile") against `PIP_NO_COMPILE=0` (pip's spelling of
   --no-compile). The wheels are downloaded once into a scratch directory and installed with --no-index, so
   the figure is pip's own work (resolving, unpacking, compiling), not the network.
The load average is printed: the machine is shared, so compare the two sides of one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rehearsal import build_image

ROOT = Path(__file__).resolve().parents[1]


def _measure(action: Callable[[], object]) -> tuple[float, float]:
    """(wall s, CPU s of this process and its children) of `action`."""
    before, started = os.times(), time.monotonic()
    action()
    after = os.times()
    cpu = sum(getattr(after, f) - getattr(before, f) for f in ("user", "system", "children_user", "children_system"))
    return time.monotonic() - started, cpu


def _report(name: str, samples: list[tuple[float, float]]) -> None:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    print(
        f"  {name:<58} wall {statistics.median(walls):6.2f} s (min {min(walls):.2f}, max {max(walls):.2f})   "
        f"CPU {statistics.median(cpus):6.2f} s"
    )


def _provisioning(interpreter: str, scratch: Path, rounds: int) -> None:
    print(f"1. a build's Python ({interpreter}); image pip made once: ", end="", flush=True)
    wall, cpu = _measure(lambda: build_image.new_python_environment(interpreter, scratch / "warm"))
    print(f"{wall:.2f} s wall, {cpu:.2f} s CPU")
    sides: dict[str, Callable[[Path], object]] = {
        "python -m venv (ensurepip; before)": lambda target: subprocess.run(
            [interpreter, "-m", "venv", str(target)], check=True, capture_output=True
        ),
        "new_python_environment (image pip linked; now)": lambda target: build_image.new_python_environment(
            interpreter, target
        ),
    }
    made: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    deleted: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for index in range(rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        for name in order:
            target = scratch / f"round{index}-{len(made[name])}-{'a' if name == order[0] else 'b'}"
            made[name].append(_measure(lambda side=sides[name], t=target: side(t)))
            subprocess.run(["sync"], check=False)  # the clean-up deletes written files, not page-cache ones
            deleted[name].append(_measure(lambda t=target: shutil.rmtree(t)))
    for name in sides:
        _report(f"create: {name}", made[name])
        _report(f"delete: {name}", deleted[name])


def _pip_compile(interpreter: str, scratch: Path, rounds: int) -> None:
    requirements = ROOT / "requirements-smoke.txt"
    wheels = scratch / "wheels"
    print(f"2. pip install -r {requirements.name} into a new venv, from local wheels (downloaded once)")
    base_env = build_image.host_environment()
    download_env = {**base_env, "PATH": os.environ.get("PATH", "")}
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-r", str(requirements), "-d", str(wheels)],
        check=True,
        env=download_env,
    )
    sides = {"PIP_NO_COMPILE=1 (before: compiles)": "1", "PIP_NO_COMPILE=0 (now: --no-compile)": "0"}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    for index in range(rounds):
        for name in list(sides) if index % 2 == 0 else list(reversed(sides)):
            venv = scratch / f"pip-{index}-{sides[name]}"
            build_image.new_python_environment(interpreter, venv)
            env = {**base_env, "PATH": f"{venv}/bin:/usr/bin:/bin", "PIP_NO_COMPILE": sides[name]}
            install = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index"]
            command = [*install, "--find-links", str(wheels), "-r", str(requirements)]
            samples[name].append(
                _measure(lambda c=command, e=env: subprocess.run(c, check=True, env=e, capture_output=True))
            )
            shutil.rmtree(venv)
    for name in sides:
        _report(name, samples[name])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="A/B rounds of each comparison")
    parser.add_argument("--python", default="3.12", help="the runtime-versions Python to provision (as the smoke)")
    args = parser.parse_args()
    interpreter, note = build_image.find_python(args.python)
    print(f"cores {os.cpu_count()}, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {note}")
    with tempfile.TemporaryDirectory(prefix="bench-build-image-") as scratch:
        _provisioning(interpreter, Path(scratch), args.rounds)
        _pip_compile(interpreter, Path(scratch), args.rounds)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
