"""The factory as an operator installs it: a wheel, in an environment of its own, run from a folder
that is not the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[1]
# The repository's top-level folders the wheel installs inside `afs` (setup.py).
FOLDERS_INSIDE_AFS = ("flows", "tasks", "deployments", "vivado_tcl")


def _run(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    # No AFS_/PREFECT_ settings and no PYTHONPATH: the installed copy must find everything itself.
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AFS_", "PREFECT_")) and key != "PYTHONPATH"
    }
    completed = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    assert completed.returncode == 0, f"{command}:\n{completed.stdout}{completed.stderr}"
    return completed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*pip_wheel, "-w", str(dist), str(CHECKOUT)], cwd=dist)
    (built,) = dist.glob("afs-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh environment holding the wheel; its dependencies are borrowed from the test
    environment's site-packages (a plain path, so the checkout's editable hook stays out)."""
    environment = tmp_path_factory.mktemp("env")
    _run([sys.executable, "-m", "venv", "--without-pip", str(environment)], cwd=environment)
    python = environment / "bin" / "python"
    site_packages = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            cwd=environment,
        ).stdout.strip()
    )
    (site_packages / "borrowed-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip_install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    _run([*pip_install, "--no-deps", "--no-index", str(wheel)], cwd=environment)
    return environment


def test_the_wheel_holds_the_package_and_nothing_else_at_the_top(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {
        "afs",
        wheel.name.split("-py3")[0] + ".dist-info",
    }
    expected = {
        str(path.relative_to(CHECKOUT))
        for path in (CHECKOUT / "afs").rglob("*.py")
        if "__pycache__" not in path.parts
    }
    for folder in FOLDERS_INSIDE_AFS:
        expected |= {
            f"afs/{path.relative_to(CHECKOUT)}" for path in (CHECKOUT / folder).glob("*.py")
        }
    assert expected - set(names) == set(), "every module of the checkout is in the wheel"
    assert "afs/vivado_tcl/build_partial.tcl.j2" in names
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True
    ).stdout.strip()
    assert zipfile.ZipFile(wheel).read("afs/COMMIT").decode().strip() == commit


def test_the_installed_factory_finds_its_code_and_data_in_the_environment_alone(
    installed: Path, tmp_path: Path
) -> None:
    python = str(installed / "bin" / "python")
    probe = (
        "import importlib.util, afs, afs.flows.create_fpga_image, afs.build.tcl as tcl\n"
        "print(afs.__file__)\n"
        "print(afs.flows.create_fpga_image.__file__)\n"
        "print(sorted(tcl._environment().list_templates()))\n"
        "print([importlib.util.find_spec(name) for name in ('flows', 'tasks', 'deployments')])\n"
    )
    lines = _run([python, "-c", probe], cwd=tmp_path).stdout.splitlines()
    assert all(line.startswith(str(installed)) for line in lines[:2]), lines
    assert "build_partial.tcl.j2" in lines[2]
    assert lines[3] == "[None, None, None]", "no generic top-level names"
    version = _run([str(installed / "bin" / "afs"), "--version"], cwd=tmp_path).stdout
    assert version.startswith("afs 0.1.0 (commit ")
    assert "not recorded" not in version
    for emulator in ("afs-vivado-emulator-2017.2", "afs-vivado-emulator-2017.4.op"):
        banner = _run([str(installed / "bin" / emulator), "-version"], cwd=tmp_path).stdout
        assert f"NOT Xilinx Vivado; emulates Vivado v{emulator.rpartition('-')[2]} " in banner


def test_the_installed_factory_builds_the_demo_images_from_any_folder(
    installed: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = _run([str(installed / "bin" / "afs"), "demo"], cwd=elsewhere, timeout=400)
    statuses = [
        line.split(": ", 1)[1] for line in completed.stdout.splitlines() if "status: " in line
    ]
    assert statuses == ["initialing", "scheduling", "creating", "active"] * 2, completed.stdout
    assert (elsewhere / ".afs-demo").is_dir(), "the demo's home is made where it was run"
