"""`python scripts/uv_pip_install.py ARGS`: `uv pip install ARGS` into this interpreter's venv, as its pip would.

uv reads neither pip.conf nor PIP_* variables, so this asks pip (`pip config list`: its files, then its
environment variables, which win) and hands uv the same indexes, find-links, constraints and CA bundle
(`SSL_CERT_FILE`, unless already set), with pip's rule of taking the best version across all indexes (uv's
default stops at the first index that has the package). Byte-compiling follows pip too: on unless
`no-compile` is set the way pip spells it (a false value, as the rehearsal's build image sets
`PIP_NO_COMPILE=0`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# pip spells `--no-compile` in its configuration with a false value ("falsy values have to be used").
_PIP_FALSE = {"0", "false", "no", "off"}


def pip_configuration(lines: Sequence[str]) -> dict[str, str]:
    """`pip config list` lines (`section.name='value'`) as {name: value}; the environment's entries win."""
    from_files: dict[str, str] = {}
    from_environment: dict[str, str] = {}
    for line in lines:
        key, separator, quoted = line.partition("=")
        if not separator or "." not in key:
            continue
        section, name = key.rsplit(".", 1)
        if section not in ("global", "install", ":env:"):
            continue
        (value,) = shlex.split(quoted) or [""]
        (from_environment if section == ":env:" else from_files)[name] = value
    return {**from_files, **from_environment}


def uv_options(configuration: dict[str, str]) -> list[str]:
    options = ["--index-strategy", "unsafe-best-match"]
    if index := configuration.get("index-url"):
        options += ["--index-url", index]
    for index in configuration.get("extra-index-url", "").split():
        if not (index.startswith("file://") and not Path(index.removeprefix("file://")).is_dir()):
            options += ["--extra-index-url", index]  # pip skips a missing local index with a warning; uv fails
    for link in configuration.get("find-links", "").split():
        options += ["--find-links", link]
    for constraint in configuration.get("constraint", "").split():
        if Path(constraint).is_file():
            options += ["--constraint", constraint]
    if configuration.get("no-compile", "").lower() not in _PIP_FALSE:
        options.append("--compile-bytecode")
    return options


def main(arguments: Sequence[str]) -> int:
    uv = Path(sys.executable).with_name("uv")
    if not uv.is_file():
        print(f"uv_pip_install: no uv beside {sys.executable}: install requirements-setup.txt first", file=sys.stderr)
        return 1
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        print(f"uv_pip_install: 'pip config list' failed: {listed.stderr.strip()}", file=sys.stderr)
        return 1
    configuration = pip_configuration(listed.stdout.splitlines())
    env = dict(os.environ)
    if (bundle := configuration.get("cert")) and "SSL_CERT_FILE" not in env:
        env["SSL_CERT_FILE"] = bundle
    command = [str(uv), "pip", "install", "--python", sys.executable, *uv_options(configuration), *arguments]
    return subprocess.run(command, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
