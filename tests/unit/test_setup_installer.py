"""scripts/setup installs with uv, configured as the venv's pip is (scripts/uv_pip_install.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts import uv_pip_install
from scripts.uv_pip_install import pip_configuration, uv_options

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


def test_the_environment_wins_over_pip_conf_and_other_sections_are_ignored() -> None:
    configuration = pip_configuration(
        [
            "global.index-url='https://mirror.example/simple'",
            "global.find-links='/opt/wheels'",
            "install.no-compile='1'",
            "freeze.all='true'",  # another command's section
            ":env:.find-links='/srv/wheels'",
            "not a setting",
        ]
    )
    assert configuration == {
        "index-url": "https://mirror.example/simple",
        "find-links": "/srv/wheels",
        "no-compile": "1",
    }


def test_uv_gets_pips_indexes_links_and_constraints_and_takes_the_best_match(tmp_path: Path) -> None:
    local_index, constraints = tmp_path / "simple", tmp_path / "constraints.txt"
    local_index.mkdir()
    constraints.write_text("torch<=2.14.1\n")
    options = uv_options(
        {
            "index-url": "https://mirror.example/simple",
            "extra-index-url": f"file://{local_index} file://{tmp_path / 'missing'} https://extra.example/simple",
            "find-links": "/opt/wheels /srv/wheels",
            "constraint": f"{constraints} {tmp_path / 'absent.txt'}",
        }
    )
    assert options == [
        "--index-strategy",
        "unsafe-best-match",  # pip's rule; uv's default stops at the first index that has a package
        "--index-url",
        "https://mirror.example/simple",
        "--extra-index-url",
        f"file://{local_index}",  # the missing local index is left out: pip skips it with a warning, uv fails
        "--extra-index-url",
        "https://extra.example/simple",
        "--find-links",
        "/opt/wheels",
        "--find-links",
        "/srv/wheels",
        "--constraint",
        str(constraints),
        "--compile-bytecode",
    ]


@pytest.mark.parametrize(("no_compile", "compiles"), [("0", False), ("false", False), ("off", False), ("1", True)])
def test_byte_compiling_follows_pips_no_compile_spelling(no_compile: str, compiles: bool) -> None:
    """The rehearsal's build image sets PIP_NO_COMPILE=0, pip's spelling of --no-compile."""
    assert ("--compile-bytecode" in uv_options({"no-compile": no_compile})) is compiles
    assert "--compile-bytecode" in uv_options({})


def test_without_uv_beside_the_interpreter_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(uv_pip_install.sys, "executable", str(tmp_path / "bin" / "python"))
    assert uv_pip_install.main(["-r", "requirements-dev.txt"]) == 1
    error = capsys.readouterr().err
    assert "no uv beside" in error and "install requirements-setup.txt first" in error


def test_uv_is_pinned_and_the_setup_stamp_covers_its_pin() -> None:
    pins = [line for line in (REPOSITORY_ROOT / "requirements-setup.txt").read_text().splitlines() if "==" in line]
    assert pins and all(line.startswith("uv==") for line in pins)
    setup = (REPOSITORY_ROOT / "scripts" / "setup").read_text()
    assert "requirements-setup.txt" in setup.split("py_stamp=", 1)[1].split(")", 1)[0]


def test_the_installer_passes_uvs_exit_status_through() -> None:
    """uv refusing a requirement it cannot find fails setup, with uv's own message (offline: no index asked)."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.is_file():
        pytest.skip("uv is installed by scripts/setup")  # pytest run outside the repository's .venv
    done = subprocess.run(
        [
            sys.executable,
            str(REPOSITORY_ROOT / "scripts" / "uv_pip_install.py"),
            "--offline",
            "--dry-run",
            "no-such-package-x9==0",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0 and "no-such-package-x9" in done.stderr
