"""A fresh build environment per CodeBuild build, like a new container of the project's image.

- Python: a new virtual environment (with pip, as the image has) of the interpreter `runtime-versions`
  asks for when the host has it (`pythonX.Y` on the system PATH or a pyenv version), else the host's;
  nothing of the repository's `.venv` and none of the host's extra packages are importable.
- Node.js: the host's `node`/`npm`; `npm install -g` goes to this build's own prefix, never the host's.
- PATH: the new environment's bin directories and the system directories only; no repository `.venv`
  or `node_modules/.bin`. The requested and the used version of each runtime are recorded.
- TMPDIR: the build's own empty directory, as a new container's /tmp: nothing a build leaves there (the asset
  shim's "already published" markers, say) is seen by a later build or run.
- Host variables kept: locale, HOME (pip's and npm's registry configuration and caches live there), and
  the package registries' own settings (PIP_*, npm_config_*, proxies, CA bundles). `PIP_NO_COMPILE=0` is
  set, which is how pip's environment spells `--no-compile` (a `--no-*` option takes a false value; `=1`
  would leave byte-compiling on): installs skip byte-compiling; modules compile when imported.

The image's Python is built once per interpreter per machine, as an image is built once and not per build:
`venv` with its pip (ensurepip runs pip from its wheel and byte-compiles it, about 2.5 s of CPU), kept in
`image_cache()` (under the temporary directory, so a reboot clears it), keyed by the interpreter's path, size
and modification time. Each process checks the cached one against the RECORD files of its packages (pip's
own hashes) before its first build and builds it again when a file differs or a build of it was interrupted.
Each build's environment is then a new `venv --without-pip` into which that pip is linked: a separate
environment with nothing from earlier builds, in a tenth of the time.
"""

from __future__ import annotations

import base64
import csv
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
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
    new_python_environment(interpreter, venv)
    used = _version((interpreter, "--version"))  # the venv's python is a link to it
    runtimes.append(Runtime("python", python_request or "(not requested)", used, interpreter, note))
    node = shutil.which("node", path=os.pathsep.join(SYSTEM_PATH)) or shutil.which("node")
    node_request = requested.pop("nodejs", "")
    npm_prefix = root / "npm-global"
    (npm_prefix / "bin").mkdir(parents=True, exist_ok=True)
    path = [str(venv / "bin"), str(npm_prefix / "bin")]
    if node:
        node_version = _version((node, "--version")).lstrip("v")
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
    scratch = root / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    env = host_environment()
    env.update(
        {
            "TMPDIR": str(scratch),
            "PATH": os.pathsep.join(dict.fromkeys(path)),
            "VIRTUAL_ENV": str(venv),
            "NPM_CONFIG_PREFIX": str(npm_prefix),
            "PIP_NO_COMPILE": "0",  # pip: "falsy values have to be used" to enable --no-compile
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
    )
    return BuildImage(root=root, env=env, runtimes=runtimes)


def new_python_environment(interpreter: str, venv: Path) -> None:
    """A new virtual environment of `interpreter` at `venv` holding only pip, as `python -m venv` makes one:
    a `--without-pip` venv plus the image's pip, its files hard-linked (same timestamps, so its byte-code stays
    valid; nothing to write, and nothing to free when the build's directory is deleted, which on a disk that
    discards freed blocks costs about a second per copy). pip replaces or removes files, never rewrites one
    in place, so a build cannot change the image through a link; on another file system the files are copied."""
    seed = _image_python(interpreter)
    _venv(interpreter, venv, "--without-pip")
    site = _site_packages(venv)
    for entry in _site_packages(seed).iterdir():
        if entry.is_dir():
            shutil.copytree(entry, site / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(str(entry), str(site / entry.name))
    shebang = f"#!{seed / 'bin'}/"
    for script in sorted((seed / "bin").iterdir()):
        target = venv / "bin" / script.name
        if target.exists() or target.is_symlink() or not script.is_file():
            continue  # the venv's own python links and activate scripts
        first, rest = script.read_text().split("\n", 1)
        if not first.startswith(shebang):
            raise ImageError(f"{script}: expected an entry point starting {shebang!r}, found {first[:120]!r}")
        target.write_text(_shebang(venv / "bin" / first[len(shebang) :]) + rest)
        shutil.copymode(script, target)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, target)


def _shebang(executable: Path) -> str:
    """The first line(s) of an entry point run by `executable`, as pip writes them: past the kernel's limit on
    a `#!` line (127 bytes), a `/bin/sh` line that execs the interpreter."""
    if len(f"#!{executable}") <= 127:
        return f"#!{executable}\n"
    return f"#!/bin/sh\n'''exec' \"{executable}\" \"$0\" \"$@\"\n' '''\n"


_IMAGE_PYTHONS: dict[str, Path] = {}
_IMAGE_LOCK = threading.Lock()
_BUILT = "image-complete"  # written last: a directory without it is a build that did not finish


def image_cache() -> Path:
    return Path(tempfile.gettempdir()) / f"rehearsal-image-python-{os.getuid()}"


def _image_python(interpreter: str) -> Path:
    """The venv (with pip) every build of `interpreter` starts from, never handed to a build itself."""
    with _IMAGE_LOCK:
        if interpreter not in _IMAGE_PYTHONS:
            _IMAGE_PYTHONS[interpreter] = _cached_image_python(interpreter, image_cache())
        return _IMAGE_PYTHONS[interpreter]


def _cached_image_python(interpreter: str, cache: Path) -> Path:
    real = Path(interpreter).resolve()
    stat = real.stat()
    key = hashlib.sha256(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    home = cache / key
    seed = home / "python"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    with (cache / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process building the same one: wait for it, then use it
        if (home / _BUILT).is_file() and not changed_files(seed):
            return seed
        shutil.rmtree(home, ignore_errors=True)
        _venv(interpreter, seed)
        if changed := changed_files(seed):
            raise ImageError(f"the new image Python {seed} does not match its own RECORD: {changed[:3]}")
        (home / _BUILT).touch()
    return seed


def changed_files(venv: Path) -> list[str]:
    """Files of the venv's installed packages that are missing or differ from their RECORD hash; ['no RECORD']
    when there is nothing to check against."""
    site = _site_packages(venv)
    records = sorted(site.glob("*.dist-info/RECORD"))
    if not records:
        return ["no RECORD"]
    changed = []
    for record in records:
        for row in csv.reader(record.read_text().splitlines()):
            if len(row) < 2 or not row[1] or row[0].startswith(".."):
                continue  # RECORD itself, and the entry points in bin/ (each build writes its own)
            algorithm, _, expected = row[1].partition("=")
            try:
                digest = hashlib.new(algorithm, (site / row[0]).read_bytes()).digest()
            except (OSError, ValueError):
                changed.append(row[0])
                continue
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != expected:
                changed.append(row[0])
    return changed


def _venv(interpreter: str, venv: Path, *options: str) -> None:
    created = subprocess.run(
        [interpreter, "-m", "venv", *options, str(venv)],
        capture_output=True,
        text=True,
        timeout=VENV_TIMEOUT_S,
        check=False,
    )
    if created.returncode != 0:
        raise ImageError(f"could not create a Python environment with {interpreter}: {created.stderr.strip()[-500:]}")


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python*/site-packages")
    return site


@cache
def find_python(version: str) -> tuple[str, str]:
    """(interpreter, note): the host's Python `version` ("3.12") if it has one, else the host's own."""
    base = getattr(sys, "_base_executable", sys.executable)
    if not version:
        return base, ""
    if _version((base, "--version")).startswith(version + "."):
        return base, ""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(pyenv_root.glob(f"{version}.*/bin/python{version}"), key=_numeric, reverse=True)
    system = shutil.which(f"python{version}", path=os.pathsep.join(SYSTEM_PATH))
    for candidate in [*map(str, candidates), *([system] if system else [])]:
        if os.access(candidate, os.X_OK) and _has_venv(candidate):
            return candidate, ""
    used = _version((base, "--version"))
    return base, f"no Python {version} on this host: {used} used"


def _numeric(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parts[-3]))


def _has_venv(interpreter: str) -> bool:
    probe = subprocess.run([interpreter, "-c", "import ensurepip, venv"], capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


@cache
def _version(command: tuple[str, ...]) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    return (completed.stdout or completed.stderr).strip().removeprefix("Python ").strip()
