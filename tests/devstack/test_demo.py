"""`afs demo`, the main job, as a user runs it: its own stack, one image, statuses to active."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from afs.inputs.archive import pack
from tests.factory import read_log_tarball, run_kit_tenant_flow

pytestmark = pytest.mark.slow


def run_demo(home: Path, *options: str) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("AFS_", "PREFECT_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "afs.cli", "demo", "--home", str(home), *options],
        env=environment,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


def _saved_log_tarball(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("log tarball: "))
    return Path(line.rpartition(", saved as ")[2])


def test_the_demo_prints_each_status_and_ends_active_every_time_it_runs(tmp_path: Path) -> None:
    """First the sample, then the kit's own upload: the tenant flow run through the emulator."""
    assert run_kit_tenant_flow(tmp_path, "0x01010029").returncode == 0
    tarball = tmp_path / "routed.tar"
    pack(
        tmp_path / "to_facs" / "ul_pr_top_routed.dcp",
        tarball,
        shell_id="0x01010029",
        tool_version="2017.2",
    )
    home = tmp_path / "demo"
    for attempt, options in (("sample", ()), ("kit upload", ("--tarball", str(tarball)))):
        completed = run_demo(home, *options)
        output = completed.stdout
        assert completed.returncode == 0, f"{attempt} run:\n{output}{completed.stderr}"
        statuses = [line.split(": ", 1)[1] for line in output.splitlines() if "status: " in line]
        images = 2 if attempt == "sample" else 1  # the samples: one of each of the kit's flows
        assert statuses == ["initialing", "scheduling", "creating", "active"] * images, attempt
        if attempt == "sample":
            assert "uploaded a sample sdaccel flow DCP tarball to " in output
            assert "Vivado v2017.4.op" in output  # the sdaccel flow's Vivado built it
        assert ".aei" in output
        assert "not Vivado" in output
        assert "temporary server" not in output + completed.stderr, "every client used the stack"
        # The log tarball outlives the stack, in the demo's home.
        saved = _saved_log_tarball(output)
        assert saved.parent == home
        assert saved.name.endswith("_log.tar")
        logs = read_log_tarball(saved.read_bytes())
        vivado_log = logs["vivado/vivado.log"]
        assert b"INFO: [Vivado 12-3253] PR_VERIFY: check points " in vivado_log
        assert b"\nwrite_bitstream completed successfully\n" in vivado_log
    assert f"uploaded {tarball} to " in output


def test_the_demo_says_when_its_tarball_does_not_exist(tmp_path: Path) -> None:
    completed = run_demo(tmp_path / "demo", "--tarball", str(tmp_path / "missing.tar"))
    assert completed.returncode == 2
    assert (
        completed.stderr.strip() == f"afs demo: --tarball {tmp_path / 'missing.tar'}: no such file"
    )
    assert not (tmp_path / "demo").exists()
