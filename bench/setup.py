"""Installing requirements-dev.txt into a new venv: pip (what scripts/setup did) against uv (what it does).

    python -m bench.setup            (from the repository root, after scripts/setup)

Both sides start from the same `python -m venv` and install the same pins with byte-compiling on (pip's
default; scripts/setup passes uv `--compile-bytecode`): pip one file at a time, uv on every core. Each side
uses its own download cache as this machine has it (~/.cache/pip, ~/.cache/uv). The venv creation that both
pay is timed apart: the floor.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic() - started, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    if not VENV_PYTHON.with_name("uv").is_file():
        print("bench.setup: run scripts/setup first (it installs uv into .venv)", file=sys.stderr)
        return 1
    print(f"cores {os.cpu_count()}, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as scratch:
        for side in ("pip", "uv"):
            venv = Path(scratch) / side
            wall, cpu = _timed([sys.executable, "-m", "venv", str(venv)])
            results.setdefault("venv", (wall, cpu))
            python = str(venv / "bin" / "python")
            if side == "pip":
                command = [python, "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements-dev.txt")]
            else:
                subprocess.run(
                    [python, "-m", "pip", "install", "--quiet", "-r", str(ROOT / "requirements-setup.txt")],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                installer = str(ROOT / "scripts" / "uv_pip_install.py")
                command = [python, installer, "--quiet", "-r", str(ROOT / "requirements-dev.txt")]
            results[side] = _timed(command)
    for name, (wall, cpu) in results.items():
        print(f"  {name:5s} {wall:6.1f} s wall {cpu:6.1f} s CPU")
    pip_wall, uv_wall, floor = results["pip"][0], results["uv"][0], results["venv"][0]
    print(
        f"pip / uv: {pip_wall / uv_wall:.2f}x wall; each over the venv floor ({floor:.1f} s): "
        f"pip {pip_wall / floor:.1f}x, uv {uv_wall / floor:.1f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
