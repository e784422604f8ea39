"""The Vivado emulator as a black box: command line, Tcl commands, outputs, log format, faults."""

from __future__ import annotations

import re
import signal
import struct
import subprocess
import time
from pathlib import Path

import pytest

from afs.build.tcl import BuildScriptInputs, render_build_script
from afs.build.vivado.logparse import summarize_log
from afs.devstack.samples import (
    EMULATOR_FAULTS_ENV,
    write_sample_dcp,
    write_sample_module_dcp,
    write_sample_shell_dcp,
)
from afs.inputs.dcp import read_dcp
from afs.settings import VU9P_PART, emulator_binary
from tests.factory import run_kit_tenant_flow

SHELL_ID = "0x01010029"
OTHER_SHELL_ID = "0x01210101"


def _emulator(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [emulator_binary(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _batch(script: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _emulator("-mode", "batch", "-source", str(script), "-notrace", *extra, cwd=cwd)


def _build(tmp_path: Path, fault: str | None = None) -> tuple[BuildScriptInputs, Path]:
    inputs = BuildScriptInputs(
        image_id="0123456789abcdef0123456789abcdef",
        user_dcp=write_sample_dcp(tmp_path / "user.dcp", emulator_fault=fault),
        shell_dcp=write_sample_shell_dcp(tmp_path / "shell.dcp", SHELL_ID),
        output_dir=tmp_path / "out",
        reports_dir=tmp_path / "reports",
    )
    script = tmp_path / "build.tcl"
    script.write_text(render_build_script(inputs))
    return inputs, script


def _script(tmp_path: Path, body: str, *, opens: str = "shell.dcp") -> Path:
    """A script that opens the sample shell (or `opens`) and runs `body`.

    Beside it: the shell (shell.dcp), a synthesized module (module.dcp) and a whole routed
    design (user.dcp).
    """
    write_sample_shell_dcp(tmp_path / "shell.dcp", SHELL_ID)
    write_sample_module_dcp(tmp_path / "module.dcp")
    write_sample_dcp(tmp_path / "user.dcp")
    script = tmp_path / "t.tcl"
    script.write_text(f"open_checkpoint {opens}\n" + body)
    return script


def _kit_flow(tmp_path: Path, shell_id: str = SHELL_ID) -> subprocess.CompletedProcess[str]:
    return run_kit_tenant_flow(tmp_path, shell_id)


def _parse_bit(data: bytes) -> dict[str, bytes]:
    preamble = bytes.fromhex("00090ff00ff00ff00ff0000001")
    assert data.startswith(preamble)
    fields, offset = {}, len(preamble)
    for key in b"abcd":
        assert data[offset] == key
        (length,) = struct.unpack(">H", data[offset + 1 : offset + 3])
        value = data[offset + 3 : offset + 3 + length]
        assert value.endswith(b"\x00")
        fields[chr(key)] = value[:-1]
        offset += 3 + length
    assert data[offset : offset + 1] == b"e"
    (length,) = struct.unpack(">I", data[offset + 1 : offset + 5])
    fields["e"] = data[offset + 5 :]
    assert len(fields["e"]) == length
    return fields


# -- command line -----------------------------------------------------------------------------


def test_version_says_it_is_the_emulator_not_vivado(tmp_path: Path) -> None:
    result = _emulator("-version", cwd=tmp_path)
    assert result.returncode == 0
    first = result.stdout.splitlines()[0]
    assert "afs-vivado-emulator" in first
    assert "NOT Xilinx Vivado" in first
    assert "Vivado v2017.2" in first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-mode", "batch", "-source", "x.tcl", "-foo"], "Unknown option '-foo'"),
        (["-mode", "batch", "-source"], "Missing value for option 'source'"),
        (["-mode", "gui"], "-mode gui is not emulated"),
        (["-mode", "fast", "-source", "x.tcl"], "Invalid value 'fast' for -mode"),
        (["-mode", "batch"], "requires -source"),
        (["-mode", "batch", "-source", "x.tcl", "project.xpr"], "is not emulated"),
    ],
)
def test_command_line_is_checked(tmp_path: Path, args: list[str], message: str) -> None:
    result = _emulator(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout.startswith("ERROR: [")
    assert message in result.stdout
    assert not (tmp_path / "vivado.log").exists()


def test_tclargs_reach_the_script_and_log_and_journal_default_to_cwd(tmp_path: Path) -> None:
    script = tmp_path / "t.tcl"
    script.write_text('puts "argc=$argc argv=$argv"\n')
    result = _emulator("-mode", "batch", "-source", "t.tcl", "-tclargs", "a b", "-c", cwd=tmp_path)
    assert result.returncode == 0, result.stdout
    assert "argc=2 argv={a b} -c\n" in result.stdout
    log = (tmp_path / "vivado.log").read_text()
    assert "argc=2 argv={a b} -c\n" in log
    assert "source t.tcl\n" in (tmp_path / "vivado.jou").read_text()


def test_without_notrace_commands_are_echoed(tmp_path: Path) -> None:
    script = _script(tmp_path, "current_design\n")
    result = _emulator("-mode", "batch", "-source", str(script), cwd=tmp_path)
    assert result.returncode == 0
    assert "\n# open_checkpoint shell.dcp\n" in result.stdout
    assert "\n# current_design\n" in result.stdout


def test_help_prints_usage(tmp_path: Path) -> None:
    assert "Usage: vivado" in _emulator("-help", cwd=tmp_path).stdout
    script = tmp_path / "t.tcl"
    script.write_text("write_bitstream -help\n")
    result = _batch(script, tmp_path)
    assert result.returncode == 0
    assert "Usage: write_bitstream " in result.stdout
    assert "[-bin_file]" in result.stdout
    assert "[-cell <arg>]" in result.stdout


def test_nojournal_writes_no_journal(tmp_path: Path) -> None:
    script = tmp_path / "t.tcl"
    script.write_text("set x 1\n")
    assert _batch(script, tmp_path, "-nojournal").returncode == 0
    assert not (tmp_path / "vivado.jou").exists()


# -- the build script -------------------------------------------------------------------------


def test_build_writes_a_valid_partial_bitstream_and_a_vivado_format_log(tmp_path: Path) -> None:
    inputs, script = _build(tmp_path)
    result = _batch(script, tmp_path, "-log", "build.log", "-journal", "build.jou")
    assert result.returncode == 0, result.stdout

    fields = _parse_bit(inputs.partial_bit.read_bytes())
    design = fields["a"].decode()
    assert design.startswith("ul_pr_top;")
    assert "EMULATED=afs-vivado-emulator" in design.split(";")
    assert "PARTIAL=TRUE" in design.split(";")
    assert "COMPRESS=TRUE" in design.split(";")
    assert fields["b"].decode() == VU9P_PART
    assert len(fields["c"]) == 10
    assert len(fields["d"]) == 8
    assert bytes.fromhex("aa995566") in fields["e"]
    assert inputs.partial_bin.read_bytes() == fields["e"]

    log_path = tmp_path / "build.log"
    log = log_path.read_text()
    assert log.startswith("#-----")
    assert log == result.stdout
    for command in ("open_checkpoint", "write_bitstream"):
        assert f"\n{command} completed successfully\n" in log
        assert f"\n{command}: Time (s): cpu = " in log
    # As Vivado says it: the line the FP1 kit's build script looks for.
    assert re.search(
        r"\nINFO: \[Vivado 12-3253\] PR_VERIFY: check points \S+ and \S+ are compatible\n", log
    )
    assert "\nINFO: [Vivado 12-1842] Bitgen Completed Successfully.\n" in log
    assert log.splitlines()[-1].startswith("INFO: [Common 17-206] Exiting Vivado at ")
    summary = summarize_log(log_path)
    assert summary.errors == 0
    assert summary.exited_normally
    assert summary.last_summary is not None
    assert summary.last_summary["infos"] > 0
    assert summary.infos > summary.last_summary["infos"]  # the log counts the exit line too

    journal = (tmp_path / "build.jou").read_text().splitlines()
    commands = [line.split()[0] for line in journal if not line.startswith("#")]
    # The kit's server-side flow; the design is never re-assembled here.
    assert commands[:4] == ["source", "set_param", "pr_verify", "open_checkpoint"]
    assert "read_checkpoint" not in commands
    assert commands[-4:] == ["set_property", "set_param", "write_bitstream", "close_design"]
    assert "set_param bitstream.enablePR 4123" in journal
    assert "set_property BITSTREAM.GENERAL.COMPRESS TRUE fp1_shell_top" in journal
    for report in ("pr_verify", "timing_summary", "utilization", "utilization_pblock", "drc"):
        assert (inputs.reports_dir / f"{report}.rpt").is_file()
    # Only the partial bitstream stays: the full one holds the shell's own logic.
    assert sorted(path.name for path in inputs.output_dir.iterdir()) == [
        inputs.partial_bin.name,
        inputs.partial_bit.name,
    ]
    assert inputs.partial_bin.name == "ul_pr_top_pblock_u_ul_pr_top_partial.bin"


def test_a_corrupt_checkpoint_is_rejected(tmp_path: Path) -> None:
    inputs, script = _build(tmp_path)
    inputs.user_dcp.write_bytes(b"PK\x03\x04 this is not a zip archive")
    result = _batch(script, tmp_path)
    assert result.returncode == 1
    assert "is not a valid design checkpoint" in result.stdout
    assert not inputs.partial_bit.exists()


def test_open_checkpoint_takes_part_and_top_from_the_file(tmp_path: Path) -> None:
    write_sample_module_dcp(tmp_path / "other.dcp", part="xcku115-flvb2104-2-e", top="my_top")
    script = tmp_path / "t.tcl"
    script.write_text(
        'open_checkpoint other.dcp\nputs "[current_design] [get_property PART [current_design]]"\n'
    )
    result = _batch(script, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "\nmy_top xcku115-flvb2104-2-e\n" in result.stdout


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (
            "open_checkpoint -foo shell.dcp",
            "ERROR: [Common 17-170] Unknown option '-foo', please type 'open_checkpoint -help' "
            "for usage info.",
        ),
        (
            "report_drc -file",
            "ERROR: [Common 17-163] Missing value for option 'file', please type 'report_drc "
            "-help' for usage info.",
        ),
        ("write_bitstream -force", "ERROR: [Common 17-163] Missing value for option 'file'"),
        ("close_design extra", "ERROR: [Common 17-165] Too many positional options"),
        ("read_checkpoint -cell no_such_cell module.dcp", "is not a reconfigurable partition"),
        ("read_checkpoint -cell u_ul_pr_top user.dcp", "is a whole design, not a module"),
        ("opt_design -directive Fastest", "Invalid option value 'Fastest' specified for 'dir"),
        ("opt_design", "ERROR: [DRC INBB-3] Black Box Instances: Cell 'u_ul_pr_top'"),
        ("read_checkpoint -cell u_ul_pr_top module.dcp; route_design", "needs a placed design"),
        ("resize_pblock [get_pblocks pblock_u_ul_pr_top] -add {X0Y0}", "Invalid option value"),
        ("add_cells_to_pblock [get_pblocks nowhere] [get_cells u_ul_pr_top]", "no such pblock"),
        ("set_property HD.RECONFIGURABLE maybe [get_cells u_ul_pr_top]", "Invalid value"),
        ("set_property LOC X [get_cells u_ul_pr_top]", "set_property LOC on cell objects"),
        ("set_param no.such.param 1", "Parameter 'no.such.param' does not exist"),
        ("get_property NO_SUCH [current_design]", "'NO_SUCH' is not a valid property name"),
        ("set_property BITSTREAM.GENERAL.COMPRESS maybe [current_design]", "Invalid value"),
        ("report_utilization -pblocks nowhere", "No pblocks matched 'nowhere'"),
        ("close_design; current_design", "No open design"),
    ],
)
def test_commands_check_options_and_inputs(tmp_path: Path, line: str, error: str) -> None:
    result = _batch(_script(tmp_path, line + "\nputs not-reached\n"), tmp_path)
    assert result.returncode == 1
    assert error in result.stdout
    assert "not-reached" not in result.stdout
    assert "    while executing" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("INFO: [Common 17-206] Exiting Vivado at")


def test_a_caught_error_is_logged_and_the_script_goes_on(tmp_path: Path) -> None:
    body = 'if {[catch {open_checkpoint -foo x} msg]} { puts "caught: $msg" }\n'
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 0
    assert "\ncaught: ERROR: [Common 17-170] Unknown option '-foo'" in result.stdout


def test_quiet_suppresses_errors_and_warnings(tmp_path: Path) -> None:
    body = 'puts "cells=[llength [get_cells -quiet nothing*]] [llength [get_cells u_*]]"\n'
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 0
    assert "\ncells=0 1\n" in result.stdout
    assert "No cells matched" not in result.stdout


def test_write_bitstream_needs_force_to_overwrite(tmp_path: Path) -> None:
    body = "write_bitstream -cell u_ul_pr_top p.bit\nwrite_bitstream -cell u_ul_pr_top p\n"
    result = _batch(_script(tmp_path, body, opens="user.dcp"), tmp_path)
    assert result.returncode == 1
    assert "already exists; use -force" in result.stdout
    assert "\nwrite_bitstream failed\n" in result.stdout
    assert (tmp_path / "p.bit").is_file()
    assert not (tmp_path / "p.bin").exists()


def test_the_static_shell_cannot_be_written_as_a_bitstream(tmp_path: Path) -> None:
    """Its reconfigurable cell is a black box: Vivado refuses with a DRC error."""
    result = _batch(_script(tmp_path, "write_bitstream -force -bin_file p\n"), tmp_path)
    assert result.returncode == 1
    assert "ERROR: [DRC BBOX-1] Black box instances: Cell 'u_ul_pr_top'" in result.stdout
    assert "ERROR: [Vivado 12-1345] Error(s) found during DRC. Bitgen not run." in result.stdout
    assert not list(tmp_path.glob("p*.bi?"))


def test_an_unrouted_design_cannot_be_written_as_a_bitstream(tmp_path: Path) -> None:
    body = "read_checkpoint -cell u_ul_pr_top module.dcp\nwrite_bitstream p\n"
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 1
    assert "ERROR: [DRC RTSTAT-1] Unrouted nets" in result.stdout


def test_write_bitstream_writes_the_full_and_each_partial_bitstream(tmp_path: Path) -> None:
    body = "write_bitstream -bin_file out/design\n"
    (tmp_path / "out").mkdir()
    result = _batch(_script(tmp_path, body, opens="user.dcp"), tmp_path)
    assert result.returncode == 0, result.stdout
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == [
        "design.bin",
        "design.bit",
        "design_pblock_u_ul_pr_top_partial.bin",
        "design_pblock_u_ul_pr_top_partial.bit",
    ]
    full = _parse_bit((tmp_path / "out" / "design.bit").read_bytes())
    partial = _parse_bit((tmp_path / "out" / "design_pblock_u_ul_pr_top_partial.bit").read_bytes())
    assert full["a"].startswith(b"fp1_shell_top;")
    assert b"PARTIAL=TRUE" not in full["a"]
    assert partial["a"].startswith(b"ul_pr_top;")
    assert b"PARTIAL=TRUE" in partial["a"]
    assert len(partial["e"]) < len(full["e"])


def test_set_param_knows_the_flows_parameters_only(tmp_path: Path) -> None:
    body = "set_param bitstream.enablePR 4123\nset_param bitstream.enablePRX 1\n"
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 1
    assert "ERROR: [Common 17-36] Parameter 'bitstream.enablePRX' does not exist" in result.stdout
    assert "'bitstream.enablePR' does not exist" not in result.stdout


def test_a_failing_constraint_is_a_critical_warning_and_read_xdc_reads_on(tmp_path: Path) -> None:
    (tmp_path / "c.xdc").write_text(
        "create_pblock pb_extra\n"
        "resize_pblock [get_pblocks pb_extra] -add {BAD}\n"
        "no_such_command 1\n"
        "set_property SNAPPING_MODE ON [get_pblocks pb_extra]\n"
    )
    body = 'read_xdc c.xdc\nputs "snapping=[get_property SNAPPING_MODE [get_pblocks pb_extra]]"\n'
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 0, result.stdout
    assert "CRITICAL WARNING: [Common 17-161] Invalid option value 'BAD'" in result.stdout
    assert "[c.xdc:2]" in result.stdout
    assert "CRITICAL WARNING: [Designutils 20-1307] invalid command name" in result.stdout
    assert "[c.xdc:3]" in result.stdout
    assert "\nsnapping=ON\n" in result.stdout
    assert summarize_log(tmp_path / "vivado.log").errors == 0


def test_constraints_written_as_the_kits_pr_pblock_xdc_are_read_without_complaint(
    tmp_path: Path,
) -> None:
    (tmp_path / "pblock.xdc").write_text(
        "set_property HD.RECONFIGURABLE true [get_cells {u_ul_pr_top}]\n\n"
        "current_instance -quiet\n"
        "create_pblock pblock_trial\n"
        "add_cells_to_pblock [get_pblocks pblock_trial] [get_cells -quiet [list u_ul_pr_top]]\n"
        "resize_pblock [get_pblocks pblock_trial] -add {CLOCKREGION_X0Y2:CLOCKREGION_X2Y7}\n"
        "resize_pblock [get_pblocks pblock_trial] -remove {CLOCKREGION_X1Y3:CLOCKREGION_X1Y4}\n"
        "set_property RESET_AFTER_RECONFIG true [get_pblocks pblock_trial]\n"
        "set_property SNAPPING_MODE ON [get_pblocks pblock_trial]\n"
    )
    body = (
        "read_xdc pblock.xdc\n"
        "set cell [get_cells u_ul_pr_top]\n"
        'puts "cell=[get_property PBLOCK $cell] [get_property HD.RECONFIGURABLE $cell]"\n'
        'puts "reset=[get_property RESET_AFTER_RECONFIG [get_pblocks pblock_trial]]"\n'
    )
    result = _batch(_script(tmp_path, body), tmp_path)
    assert result.returncode == 0, result.stdout
    assert "CRITICAL WARNING" not in result.stdout
    assert "\ncell=pblock_trial 1\n" in result.stdout
    assert "\nreset=true\n" in result.stdout


def test_write_checkpoint_and_debug_probes(tmp_path: Path) -> None:
    body = (
        "write_checkpoint static_copy\n"
        "write_checkpoint -cell u_ul_pr_top rm_copy.dcp\n"
        "write_debug_probes probes.ltx\n"
        "pr_verify static_copy.dcp shell.dcp\n"
    )
    result = _batch(_script(tmp_path, body, opens="user.dcp"), tmp_path)
    assert result.returncode == 0, result.stdout
    module = read_dcp(tmp_path / "rm_copy.dcp")
    assert (module.top, module.out_of_context) == ("ul_pr_top", True)
    assert (tmp_path / "probes.ltx").is_file()
    assert "static_copy.dcp and shell.dcp are compatible\n" in result.stdout


# -- the FP1 kit's tenant flow, then the factory's --------------------------------------------


def test_the_kits_tenant_flow_writes_the_whole_routed_design(tmp_path: Path) -> None:
    result = _kit_flow(tmp_path)
    assert result.returncode == 0, result.stdout
    for command in ("read_checkpoint", "opt_design", "place_design", "route_design"):
        assert f"\n{command} completed successfully\n" in result.stdout
    routed = read_dcp(tmp_path / "to_facs" / "ul_pr_top_routed.dcp")
    shell = read_dcp(tmp_path / "lib" / "checkpoints" / "SH_UL_BB_routed.dcp")
    assert routed.top == shell.top
    assert routed.out_of_context is False
    assert (tmp_path / "to_facs" / "ul_pr_top_final_timing_summary.rpt").is_file()


@pytest.mark.parametrize(("shell_id", "compatible"), [(SHELL_ID, True), (OTHER_SHELL_ID, False)])
def test_pr_verify_passes_only_against_the_shell_the_design_was_routed_on(
    tmp_path: Path, shell_id: str, compatible: bool
) -> None:
    assert _kit_flow(tmp_path).returncode == 0
    write_sample_shell_dcp(tmp_path / "shell.dcp", shell_id)
    script = tmp_path / "v.tcl"
    script.write_text("pr_verify -full_check to_facs/ul_pr_top_routed.dcp shell.dcp\n")
    result = _batch(script, tmp_path)
    assert (result.returncode == 0) is compatible, result.stdout
    if compatible:
        assert "INFO: [Vivado 12-3253] PR_VERIFY: check points" in result.stdout
    else:
        assert "ERROR: [Vivado 12-3515]" in result.stdout
        assert "the static design's placement and routing differ" in result.stdout
        assert "ERROR: [Common 17-39] 'pr_verify' failed due to earlier errors." in result.stdout


def test_a_module_is_never_compatible_with_its_shell(tmp_path: Path) -> None:
    result = _batch(_script(tmp_path, "pr_verify -full_check module.dcp shell.dcp\n"), tmp_path)
    assert result.returncode == 1
    assert "'module.dcp' has no reconfigurable partition" in result.stdout
    assert "top fp1_shell_top is not ul_pr_top" in result.stdout


@pytest.mark.parametrize(("full_check", "differences"), [("", 1), ("-full_check ", 2)])
def test_pr_verify_reports_the_first_difference_unless_asked_for_all(
    tmp_path: Path, full_check: str, differences: int
) -> None:
    # A static checkpoint for another part and shell differs twice: its part and its routing.
    write_sample_shell_dcp(tmp_path / "other.dcp", OTHER_SHELL_ID, part="xcku115-flvb2104-2-e")
    result = _batch(_script(tmp_path, f"pr_verify {full_check}shell.dcp other.dcp\n"), tmp_path)
    assert result.returncode == 1
    verdict = next(line for line in result.stdout.splitlines() if "[Vivado 12-3515]" in line)
    assert verdict.startswith("ERROR: [Vivado 12-3515] PR_VERIFY: check points shell.dcp and ")
    assert verdict.count(";") == differences - 1
    assert "ERROR: [Common 17-39] 'pr_verify' failed due to earlier errors." in result.stdout


def test_exit_in_a_script_ends_the_session_with_its_code(tmp_path: Path) -> None:
    script = tmp_path / "t.tcl"
    script.write_text("puts before\nexit 3\nputs after\n")
    result = _batch(script, tmp_path)
    assert result.returncode == 3
    assert "before" in result.stdout
    assert "after" not in result.stdout
    assert "INFO: [Common 17-206] Exiting Vivado at" in (tmp_path / "vivado.log").read_text()


# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("timing_violation", "ERROR: [AFS 1-1] Timing violation: worst setup slack -0.123 ns"),
        ("drc_error", "\nwrite_bitstream failed\n"),
        ("pr_verify_incompatible", "ERROR: [Common 17-39] 'pr_verify' failed due to earlier"),
        ("tcl_error", "\nreport_utilization failed\n"),
        ("no_such_fault", "unknown emulator fault 'no_such_fault'"),
    ],
)
def test_result_faults_fail_the_build(tmp_path: Path, fault: str, expected: str) -> None:
    inputs, script = _build(tmp_path, fault)
    result = _batch(script, tmp_path)
    assert result.returncode == 1
    assert expected in result.stdout
    assert not inputs.partial_bit.exists()


def test_timing_violation_still_writes_the_reports(tmp_path: Path) -> None:
    inputs, script = _build(tmp_path, "timing_violation")
    result = _batch(script, tmp_path)
    assert "CRITICAL WARNING: [Timing 38-282]" in result.stdout
    assert (
        "Timing constraints are not met." in (inputs.reports_dir / "timing_summary.rpt").read_text()
    )


def test_crash_fault_dies_by_a_signal(tmp_path: Path) -> None:
    _, script = _build(tmp_path, "crash")
    assert _batch(script, tmp_path).returncode == -signal.SIGSEGV


def test_slow_fault_takes_its_time_then_succeeds(tmp_path: Path) -> None:
    inputs, script = _build(tmp_path, "slow:0.5")
    started = time.monotonic()
    result = _batch(script, tmp_path)
    assert result.returncode == 0, result.stdout
    assert time.monotonic() - started >= 0.5
    assert inputs.partial_bin.is_file()


def test_log_flood_fault_writes_megabytes_then_succeeds(tmp_path: Path) -> None:
    inputs, script = _build(tmp_path, "log_flood:2")
    result = _batch(script, tmp_path)
    assert result.returncode == 0
    assert len(result.stdout) > 2 * 1024 * 1024
    assert (tmp_path / "vivado.log").stat().st_size > 2 * 1024 * 1024
    assert inputs.partial_bin.is_file()


def test_faults_are_ignored_unless_the_host_enables_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tenant's DCP cannot make an emulated build host crash, hang or fill its disk."""
    monkeypatch.delenv(EMULATOR_FAULTS_ENV)
    inputs, script = _build(tmp_path, "crash")
    result = _batch(script, tmp_path)
    assert result.returncode == 0, result.stdout
    assert f"Fault member ignored: {EMULATOR_FAULTS_ENV} is not 1" in result.stdout
    assert inputs.partial_bin.is_file()


@pytest.mark.parametrize("fault", ["slow:3601", "log_flood:2049", "slow:-1"])
def test_fault_amounts_are_bounded(tmp_path: Path, fault: str) -> None:
    _, script = _build(tmp_path, fault)
    result = _batch(script, tmp_path)
    assert result.returncode == 1
    assert f"unknown emulator fault '{fault}'" in result.stdout
