"""A fresh build environment per CodeBuild build, like a new container of the project's image.

- Python: a new virtual environment (with pip, as the image has) of the interpreter `runtime-versions`
  asks for when the host has it (`pythonX.Y` on the system PATH or a pyenv version), else the host's;
  nothing of the repository's `.venv` and none of the host's extra packages are importable.
- Node.js: the host's `node`/`npm`; `npm install -g` goes to this build's own prefix, never the host's.
- PATH: the new environment's bin directories and the system directories only; no repository `.venv`
  or `node_modules/.bin`. The requested and the used version of each runtime are recorded.
- Host variables kept: locale, HOME (pip's and npm's registry configuration and caches live there), and
  the package registries' own settings (PIP_*, npm_config_*, proxies, CA bundles). `PIP_NO_COMPILE=1` is
  set: installs skip byte-compiling (about half of pip's CPU time here); modules compile when imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_KEPT_EXACT = {
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "TZ",
    "TERM",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "XDG_CACHE_HOME",
}
_KEPT_PREFIXES = ("LC_", "PIP_", "NPM_CONFIG_", "npm_config_")
VENV_TIMEOUT_S = 120


class ImageError(RuntimeError):
    """The build environment could not be provisioned."""


@dataclass(frozen=True)
class Runtime:
    name: str
    requested: str
    used: str
    executable: str
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "runtime": self.name,
            "requested": self.requested,
            "used": self.used,
            "executable": self.executable,
            "note": self.note,
        }


@dataclass
class BuildImage:
    root: Path
    env: dict[str, str]
    runtimes: list[Runtime] = field(default_factory=list)


def host_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The few host variables a fresh build keeps (see the module docstring)."""
    source = os.environ if environ is None else environ
    return {k: v for k, v in source.items() if k in _KEPT_EXACT or k.startswith(_KEPT_PREFIXES)}


def provision(root: Path, runtime_versions: dict[str, str]) -> BuildImage:
    """A new environment under `root` for one build; `runtime_versions` as the buildspec's install phase."""
    root.mkdir(parents=True, exist_ok=True)
    requested = {str(k): str(v) for k, v in (runtime_versions or {}).items()}
    runtimes: list[Runtime] = []
    python_request = requested.pop("python", "")
    interpreter, note = find_python(python_request)
    venv = root / "python"
    created = subprocess.run(
        [interpreter, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=VENV_TIMEOUT_S, check=False
    )
    if created.returncode != 0:
        raise ImageError(f"could not create a Python environment with {interpreter}: {created.stderr.strip()[-500:]}")
    used = _version([str(venv / "bin" / "python"), "--version"])
    runtimes.append(Runtime("python", python_request or "(not requested)", used, interpreter, note))
    node = shutil.which("node", path=os.pathsep.join(SYSTEM_PATH)) or shutil.which("node")
    node_request = requested.pop("nodejs", "")
    npm_prefix = root / "npm-global"
    (npm_prefix / "bin").mkdir(parents=True, exist_ok=True)
    path = [str(venv / "bin"), str(npm_prefix / "bin")]
    if node:
        node_version = _version([node, "--version"]).lstrip("v")
        mismatch = bool(node_request) and node_version.split(".")[0] != node_request.split(".")[0]
        runtimes.append(
            Runtime(
                "nodejs",
                node_request or "(not requested)",
                node_version,
                node,
                f"the host has Node.js {node_version}, not {node_request}" if mismatch else "",
            )
        )
        path.append(str(Path(node).parent))
    elif node_request:
        runtimes.append(Runtime("nodejs", node_request, "none", "", "no Node.js on this host"))
    for name, version in requested.items():
        runtimes.append(Runtime(name, version, "none", "", f"runtime {name} is not provided by the rehearsal"))
    path.extend(p for p in SYSTEM_PATH if p not in path)
    env = host_environment()
    env.update(
        {
            "PATH": os.pathsep.join(dict.fromkeys(path)),
            "VIRTUAL_ENV": str(venv),
            "NPM_CONFIG_PREFIX": str(npm_prefix),
            "PIP_NO_COMPILE": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    return BuildImage(root=root, env=env, runtimes=runtimes)


@cache
def find_python(version: str) -> tuple[str, str]:
    """(interpreter, note): the host's Python `version` ("3.12") if it has one, else the host's own."""
    base = getattr(sys, "_base_executable", sys.executable)
    if not version:
        return base, ""
    if _version([base, "--version"]).startswith(version + "."):
        return base, ""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv_root.glob(f"{version}.*/bin/python{version}"), key=_numeric, reverse=True)
    system = shutil.which(f"python{version}", path=os.pathsep.join(SYSTEM_PATH))
    for candidate in [*map(str, candidates), *([system] if system else [])]:
        if os.access(candidate, os.X_OK) and _has_venv(candidate):
            return candidate, ""
    used = _version([base, "--version"])
    return base, f"no Python {version} on this host: {used} used"


def _numeric(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parts[-3]))


def _has_venv(interpreter: str) -> bool:
    probe = subprocess.run([interpreter, "-c", "import ensurepip, venv"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def _version(command: list[str]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return (completed.stdout or completed.stderr).strip().removeprefix("Python ").strip()
