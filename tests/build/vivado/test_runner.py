"""Running vivado (here: the emulator, and tiny fake binaries) as the pipeline does."""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from afs.build.tcl import BuildScriptInputs, render_build_script
from afs.build.vivado.runner import (
    MAX_ERROR_TEXT,
    VivadoConfigError,
    run_vivado,
    tool_identity,
    vivado_binary_for,
)
from afs.devstack.samples import write_sample_dcp, write_sample_shell_dcp
from afs.errors import FailureCause, ImageBuildError
from afs.settings import emulator_binary


def _build(tmp_path: Path, fault: str | None = None) -> tuple[BuildScriptInputs, Path, Path]:
    inputs = BuildScriptInputs(
        image_id="0123456789abcdef0123456789abcdef",
        user_dcp=write_sample_dcp(tmp_path / "user.dcp", emulator_fault=fault),
        shell_dcp=write_sample_shell_dcp(tmp_path / "shell.dcp", "0x01010029"),
        output_dir=tmp_path / "out",
        reports_dir=tmp_path / "reports",
    )
    script = tmp_path / "build.tcl"
    script.write_text(render_build_script(inputs))
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    return inputs, script, work_dir


def _fake_vivado(tmp_path: Path, body: str) -> str:
    """A shell script that answers -version and otherwise runs `body`."""
    path = tmp_path / "fake-vivado"
    path.write_text(
        '#!/bin/sh\nif [ "$1" = -version ]; then echo "Fake Vivado v0.0"; exit 0; fi\n' + body
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"


# -- configuration ----------------------------------------------------------------------------


def test_binary_for_a_configured_tool_version(tmp_path: Path) -> None:
    binary = emulator_binary()
    assert vivado_binary_for("2017.2", {"2017.2": binary}) == binary
    with pytest.raises(VivadoConfigError, match=r"2018\.3"):
        vivado_binary_for("2018.3", {"2017.2": binary})
    not_executable = tmp_path / "vivado"
    not_executable.write_text("#!/bin/sh\n")
    with pytest.raises(VivadoConfigError, match="not an executable"):
        vivado_binary_for("2017.2", {"2017.2": str(not_executable)})
    with pytest.raises(VivadoConfigError, match="not an executable"):
        vivado_binary_for("2017.2", {"2017.2": str(tmp_path / "missing")})


def test_tool_identity_names_the_emulator() -> None:
    identity = tool_identity(emulator_binary())
    assert identity.startswith("afs-vivado-emulator ")
    assert "NOT Xilinx Vivado" in identity


def test_tool_identity_of_a_broken_binary(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(VivadoConfigError, match="exit code 3"):
        tool_identity(str(broken))


# -- runs of the emulator ---------------------------------------------------------------------


def test_a_successful_build(tmp_path: Path) -> None:
    inputs, script, work_dir = _build(tmp_path)
    shown: list[str] = []
    run = run_vivado(emulator_binary(), script, work_dir, timeout_seconds=60, on_line=shown.append)
    assert run.exit_code == 0
    assert run.summary.errors == 0
    assert run.summary.exited_normally
    assert run.tool_identity.startswith("afs-vivado-emulator")
    assert run.log_path == work_dir / "vivado.log"
    assert run.log_path.read_text().startswith("#-----")
    assert "write_bitstream" in run.journal_path.read_text()
    assert (work_dir / "vivado.stdout").read_text() == run.log_path.read_text()
    assert (work_dir / "tmp").is_dir()
    assert inputs.partial_bin.is_file()
    # The run log gets the milestones, not every INFO line.
    assert "write_bitstream completed successfully" in shown
    assert shown[-1].startswith("INFO: [Common 17-206] Exiting Vivado")
    assert not any(line.startswith("INFO: [Project") for line in shown)


@pytest.mark.parametrize(
    ("fault", "cause", "text"),
    [
        ("timing_violation", FailureCause.TIMING_VIOLATION, "worst setup slack -0.123 ns"),
        ("pr_verify_incompatible", FailureCause.PR_VERIFY_FAILED, "are not compatible"),
        ("drc_error", FailureCause.BITSTREAM_GENERATE_ERROR, "[DRC UTLZ-1]"),
        ("tcl_error", FailureCause.BITSTREAM_GENERATE_ERROR, "'report_utilization' failed"),
        ("crash", FailureCause.BITSTREAM_GENERATE_ERROR, "killed by signal SIGSEGV"),
    ],
)
def test_faults_fail_with_their_cause(
    tmp_path: Path, fault: str, cause: FailureCause, text: str
) -> None:
    _, script, work_dir = _build(tmp_path, fault)
    shown: list[str] = []
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(emulator_binary(), script, work_dir, timeout_seconds=60, on_line=shown.append)
    assert failure.value.cause is cause
    assert text in failure.value.text
    assert len(failure.value.text) <= MAX_ERROR_TEXT
    if fault != "crash":
        assert any(line.startswith("ERROR:") for line in shown)


def test_a_log_flood_is_streamed_to_disk(tmp_path: Path) -> None:
    inputs, script, work_dir = _build(tmp_path, "log_flood:3")
    shown: list[str] = []
    run = run_vivado(emulator_binary(), script, work_dir, timeout_seconds=60, on_line=shown.append)
    assert (work_dir / "vivado.stdout").stat().st_size > 3 * 1024 * 1024
    assert run.summary.infos > 3 * 1024 * 1024 // 100
    assert len(shown) < 50
    assert inputs.partial_bin.is_file()


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    # The hang fault starts a helper process, then ignores SIGTERM: only SIGKILL to the group works.
    _, script, work_dir = _build(tmp_path, "hang")
    started = time.monotonic()
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(emulator_binary(), script, work_dir, timeout_seconds=3, term_grace_seconds=0.5)
    assert failure.value.cause is FailureCause.BUILD_TIMEOUT
    assert time.monotonic() - started < 10
    output = (work_dir / "vivado.stdout").read_text()
    helper = int(re.search(r"Started helper process (\d+)", output).group(1))
    emulator = int(re.search(r"Process (\d+) ignores SIGTERM", output).group(1))
    deadline = time.monotonic() + 5
    while (_alive(helper) or _alive(emulator)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(emulator)
    assert not _alive(helper)


def test_cancel_stops_the_build(tmp_path: Path) -> None:
    _, script, work_dir = _build(tmp_path, "slow:60")
    cancel = threading.Event()
    threading.Timer(1.0, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(emulator_binary(), script, work_dir, timeout_seconds=60, cancel=cancel)
    assert failure.value.cause is FailureCause.CANCELLED
    assert time.monotonic() - started < 10


# -- runs of fake binaries --------------------------------------------------------------------


def test_vivado_gets_a_minimal_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFS_IMAGE_STORE_SECRET_KEY", "s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.setenv("XILINXD_LICENSE_FILE", "2100@licence-server")
    binary = _fake_vivado(tmp_path, 'env\necho "INFO: [Common 17-206] Exiting Vivado at now"\n')
    run = run_vivado(binary, tmp_path / "x.tcl", tmp_path, timeout_seconds=30)
    env = (tmp_path / "vivado.stdout").read_text()
    assert "XILINXD_LICENSE_FILE=2100@licence-server" in env
    assert f"PATH={os.environ['PATH']}" in env
    assert "s3cr3t" not in env
    assert run.tool_identity == "Fake Vivado v0.0"


def test_vivado_gets_the_batch_command_line(tmp_path: Path) -> None:
    binary = _fake_vivado(tmp_path, 'echo "args: $*"; echo "cwd: $(pwd)"\n')
    work = tmp_path / "work"
    work.mkdir()
    run_vivado(binary, tmp_path / "build.tcl", work, timeout_seconds=30)
    output = (work / "vivado.stdout").read_text()
    assert (
        f"args: -mode batch -source {tmp_path / 'build.tcl'} -log {work / 'vivado.log'} "
        f"-journal {work / 'vivado.jou'} -notrace -tempDir {work / 'tmp'}\n"
    ) in output
    assert f"cwd: {work}\n" in output


def test_a_non_zero_exit_without_errors_reports_the_last_output(tmp_path: Path) -> None:
    binary = _fake_vivado(tmp_path, 'echo "something odd happened"\nexit 2\n')
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(binary, tmp_path / "x.tcl", tmp_path, timeout_seconds=30)
    assert failure.value.cause is FailureCause.BITSTREAM_GENERATE_ERROR
    assert "exited with code 2" in failure.value.text
    assert "something odd happened" in failure.value.text


def test_an_error_line_fails_even_with_exit_code_zero(tmp_path: Path) -> None:
    binary = _fake_vivado(tmp_path, 'echo "ERROR: [Common 17-39] boom"\n')
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(binary, tmp_path / "x.tcl", tmp_path, timeout_seconds=30)
    assert failure.value.text == "ERROR: [Common 17-39] boom"


def test_huge_lines_are_cut_in_memory_but_kept_on_disk(tmp_path: Path) -> None:
    binary = _fake_vivado(
        tmp_path,
        "printf 'ERROR: [Common 17-1] '; head -c 1000000 /dev/zero | tr '\\0' x; echo\nexit 1\n",
    )
    with pytest.raises(ImageBuildError) as failure:
        run_vivado(binary, tmp_path / "x.tcl", tmp_path, timeout_seconds=30)
    assert len(failure.value.text) <= MAX_ERROR_TEXT
    assert failure.value.text.startswith("ERROR: [Common 17-1] xxx")
    assert (tmp_path / "vivado.stdout").stat().st_size > 1_000_000
