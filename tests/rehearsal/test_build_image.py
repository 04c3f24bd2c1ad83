"""The build image (rehearsal/build_image.py): each build a new Python environment with pip and nothing else.

The image's pip is made once per machine and linked into each build's venv; these tests show that a build
still starts from a clean environment, cannot change the image for later builds, that a changed or unfinished
image is built again, and that pip installs skip byte-compiling as the image's environment says. Packages are
local wheels: no package index is used.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from rehearsal import build_image


def _wheel(directory: Path, name: str = "rehearsalprobe") -> Path:
    """A minimal pure-Python wheel of one module `name` (pip installs it with --no-index)."""
    files = {
        f"{name}/__init__.py": b"VALUE = 42\n",
        f"{name}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for path, data in files.items()
    )
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{name}-1.0.dist-info/RECORD", record + f"{name}-1.0.dist-info/RECORD,,\n")
    return wheel


def _run(image: build_image.BuildImage, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(command), env=image.env, capture_output=True, text=True, timeout=120, check=False)


def _site(image: build_image.BuildImage) -> Path:
    (site,) = (image.root / "python").glob("lib/python*/site-packages")
    return site


def test_each_build_has_its_own_pip_and_nothing_an_earlier_build_installed(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    first = build_image.provision(tmp_path / "first", {})
    installed = _run(first, "pip", "install", "--no-index", "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stderr
    assert _run(first, "python3", "-c", "import rehearsalprobe").returncode == 0
    removed = _run(first, "python3", "-m", "pip", "uninstall", "-y", "pip")  # a build may do anything to its own
    assert removed.returncode == 0, removed.stderr

    second = build_image.provision(tmp_path / "second", {})
    probe = _run(second, "python3", "-c", "import rehearsalprobe")
    assert probe.returncode != 0 and "No module named 'rehearsalprobe'" in probe.stderr
    version = _run(second, "pip", "--version")  # the entry point, with this venv's interpreter
    assert version.returncode == 0 and str(_site(second) / "pip") in version.stdout, version.stdout + version.stderr
    assert _run(second, "python3", "-c", "import sys; print(sys.prefix)").stdout.strip() == str(second.root / "python")


def test_pip_installs_in_a_build_skip_byte_compiling(tmp_path: Path) -> None:
    image = build_image.provision(tmp_path / "build", {})
    installed = _run(image, "python3", "-m", "pip", "install", "--no-index", "--no-deps", str(_wheel(tmp_path)))
    assert installed.returncode == 0, installed.stderr
    compiled = sorted(p.name for p in (_site(image) / "rehearsalprobe").rglob("*.pyc"))
    assert compiled == [], (
        f"pip byte-compiled the install (PIP_NO_COMPILE={image.env.get('PIP_NO_COMPILE')}): {compiled}"
    )


def test_a_build_directory_past_the_shebang_limit_still_runs_pip(tmp_path: Path) -> None:
    root = tmp_path / ("deep" * 30)  # the venv's interpreter path is longer than a #! line may be
    image = build_image.provision(root, {})
    assert len(f"#!{root}/python/bin/python") > 127
    version = _run(image, "pip", "--version")
    assert version.returncode == 0, version.stderr
    assert (root / "python" / "bin" / "pip").read_text().startswith("#!/bin/sh\n")


def test_an_image_python_that_cannot_make_a_venv_says_so(tmp_path: Path) -> None:
    with pytest.raises(build_image.ImageError, match="could not create a Python environment with /bin/false"):
        build_image.new_python_environment("/bin/false", tmp_path / "python")


def test_a_file_a_build_leaves_in_its_temp_directory_is_not_seen_by_the_next(tmp_path: Path) -> None:
    """Each build has its own empty TMPDIR, as a new container has its own /tmp (the asset shim's "already
    published" markers once survived from run to run in the host's /tmp and hid a failing Assets action)."""
    leave = "import os, tempfile; open(os.path.join(tempfile.gettempdir(), 'marker'), 'w').close()"
    look = "import os, tempfile; print(os.path.exists(os.path.join(tempfile.gettempdir(), 'marker')))"
    first = build_image.provision(tmp_path / "first", {})
    assert _run(first, "python3", "-c", leave).returncode == 0
    second = build_image.provision(tmp_path / "second", {})
    assert _run(second, "python3", "-c", look).stdout.strip() == "False"
    assert _run(first, "python3", "-c", look).stdout.strip() == "True"
    assert first.env["TMPDIR"] != second.env["TMPDIR"]
    assert all(Path(image.env["TMPDIR"]).is_relative_to(image.root) for image in (first, second))


# --- the image's Python, built once per machine ------------------------------------------------------------


def _fake_venv(calls: list[Path]) -> Callable[..., None]:
    """`venv` standing in for the real one (2.5 s each): one package with its RECORD, as pip writes it."""

    def make(interpreter: str, venv: Path, *options: str) -> None:
        calls.append(venv)
        site = venv / "lib" / "python3.99" / "site-packages"
        (site / "probe").mkdir(parents=True)
        (site / "probe-1.0.dist-info").mkdir()
        data = b"VALUE = 42\n"
        (site / "probe" / "__init__.py").write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record = f"probe/__init__.py,sha256={digest},{len(data)}\nprobe-1.0.dist-info/RECORD,,\n../../../bin/probe,,\n"
        (site / "probe-1.0.dist-info" / "RECORD").write_text(record)

    return make


@pytest.fixture
def image_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    monkeypatch.setattr(build_image, "_venv", _fake_venv(calls))
    monkeypatch.setattr(build_image, "image_cache", lambda: tmp_path / "cache")
    monkeypatch.setattr(build_image, "_IMAGE_PYTHONS", {})
    return calls


def _next_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_image, "_IMAGE_PYTHONS", {})


def test_the_image_python_is_built_once_and_taken_from_the_cache_by_later_processes(
    image_builds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = build_image._image_python(sys.executable)
    assert build_image._image_python(sys.executable) == seed and len(image_builds) == 1  # this process: remembered
    _next_process(monkeypatch)
    assert build_image._image_python(sys.executable) == seed and len(image_builds) == 1  # the next: from the cache
    assert build_image.changed_files(seed) == []


def test_an_image_python_whose_files_changed_is_built_again(
    image_builds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build that wrote into a linked file in place would have changed the image for every later build."""
    seed = build_image._image_python(sys.executable)
    (module,) = seed.glob("lib/python*/site-packages/probe/__init__.py")
    with module.open("a") as written_in_place:
        written_in_place.write("VALUE = 0\n")
    assert build_image.changed_files(seed) == ["probe/__init__.py"]
    _next_process(monkeypatch)
    assert build_image._image_python(sys.executable) == seed and len(image_builds) == 2
    assert module.read_text() == "VALUE = 42\n" and build_image.changed_files(seed) == []


def test_an_image_python_whose_build_did_not_finish_is_built_again(
    image_builds: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = build_image._image_python(sys.executable)
    (seed.parent / "image-complete").unlink()  # as when the process building it was killed
    _next_process(monkeypatch)
    assert build_image._image_python(sys.executable) == seed and len(image_builds) == 2
    assert (seed.parent / "image-complete").is_file()


def test_an_image_python_without_a_record_cannot_be_checked_and_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bare(interpreter: str, venv: Path, *options: str) -> None:
        (venv / "lib" / "python3.99" / "site-packages").mkdir(parents=True)

    monkeypatch.setattr(build_image, "_venv", bare)
    with pytest.raises(build_image.ImageError, match=r"does not match its own RECORD: \['no RECORD'\]"):
        build_image._cached_image_python(sys.executable, tmp_path / "cache")
