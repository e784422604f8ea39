"""Reading Vivado logs: counts, summary lines, first errors, failed commands, failure causes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from afs.build.vivado.logparse import (
    MAX_KEPT_LINES,
    MAX_LINE_BYTES,
    LogScanner,
    LogSummary,
    bounded_lines,
    failure_cause,
    summarize_log,
)
from afs.errors import FailureCause

SUCCESS_LOG = """\
#-----------------------------------------------------------
# Vivado v2017.2 (64-bit)
# SW Build 1909853 on Thu Jun 15 18:39:10 MDT 2017
#-----------------------------------------------------------
source build.tcl -notrace
Command: open_checkpoint /builds/x/shell.dcp
INFO: [Device 21-403] Loading part xcvu9p-flgb2104-2-i
INFO: [Project 1-479] Netlist was created with Vivado 2017.2
WARNING: [Constraints 18-619] A clock with name 'clk_main_a0' already exists, overwriting.
CRITICAL WARNING: [Constraints 18-1056] Clock 'clk_extra' completely overrides clock 'clk_main_a0'.
2 Infos, 1 Warnings, 1 Critical Warnings and 0 Errors encountered.
open_checkpoint completed successfully
open_checkpoint: Time (s): cpu = 00:00:40 ; elapsed = 00:00:42 . Memory (MB): peak = 3096.5
Command: write_bitstream -force -cell u_ul_pr_top -bin_file /builds/x/out/partial.bit
INFO: [Vivado 12-3199] DRC finished with 0 Errors
INFO: [Vivado 12-1842] Bitgen Completed Successfully.
4 Infos, 1 Warnings, 1 Critical Warnings and 0 Errors encountered.
write_bitstream completed successfully
INFO: [Common 17-206] Exiting Vivado at Mon Nov 27 09:14:05 2023...
"""

DRC_FAILURE_LOG = """\
Command: write_bitstream -force -cell u_ul_pr_top -bin_file /builds/x/out/partial.bit
INFO: [DRC 23-27] Running DRC with 8 threads
ERROR: [DRC UTLZ-1] Resource utilization: CLB LUTs over-utilized in Pblock pblock_u_ul_pr_top
ERROR: [Vivado 12-1345] Error(s) found during DRC. Bitgen not run.
1 Infos, 0 Warnings, 0 Critical Warnings and 2 Errors encountered.
write_bitstream failed
ERROR: [Common 17-69] Command failed: Error(s) found during DRC. Bitgen not run.
INFO: [Common 17-206] Exiting Vivado at Mon Nov 27 09:14:05 2023...
"""


def _scan(text: str) -> LogSummary:
    scanner = LogScanner()
    for line in text.splitlines(keepends=True):
        scanner.feed(line)
    return scanner.summary()


def test_counts_messages_by_severity_and_reads_the_last_summary_line() -> None:
    summary = _scan(SUCCESS_LOG)
    assert (summary.infos, summary.warnings, summary.critical_warnings, summary.errors) == (
        5,
        1,
        1,
        0,
    )
    assert summary.last_summary == {
        "infos": 4,
        "warnings": 1,
        "critical_warnings": 1,
        "errors": 0,
    }
    assert summary.first_errors == []
    assert summary.failed_commands == []
    assert summary.exited_normally


def test_keeps_error_lines_verbatim_and_the_failed_command() -> None:
    summary = _scan(DRC_FAILURE_LOG)
    assert summary.errors == 3
    assert summary.first_errors[0] == (
        "ERROR: [DRC UTLZ-1] Resource utilization: CLB LUTs over-utilized in Pblock "
        "pblock_u_ul_pr_top"
    )
    assert summary.failed_commands == ["write_bitstream"]
    assert summary.last_summary == {
        "infos": 1,
        "warnings": 0,
        "critical_warnings": 0,
        "errors": 2,
    }


def test_no_exit_line_means_not_exited_normally() -> None:
    assert not _scan(DRC_FAILURE_LOG.replace("Exiting Vivado", "Leaving")).exited_normally


# Shapes seen in real logs of Vivado 2017.2 to 2026.1 (synthesis and implementation runs, batch
# and GUI sessions); the lines are ours, the forms are Vivado's.
REAL_SHAPES_LOG = """\
INFO: [Common 17-1460] Use of init.tcl in /opt/Xilinx/Vivado/2026.1/scripts/init.tcl is deprecated.
#-----------------------------------------------------------
# Vivado v2026.1 (64-bit)
# Process ID         : 19332
# Current directory  : /builds/x
#-----------------------------------------------------------
# set_param general.maxThreads 8
#   puts "## Error: this echoed script line is not a message"
Warning: a user script's own mixed-case warning is not one either
INFO: [digilentinc.com:ip:MIPI_D_PHY_RX:1.3-17] Vendor ids may hold colons
WARNING: [DRC CFGBVS-1] Missing CFGBVS and CONFIG_VOLTAGE Design Properties: Neither is set.
	Continuation lines of a message start with a tab,
Resolution: or with the word Resolution.
INFO: Launching helper process for spawning children vivado processes
ERROR: Could not open VCD file dump.vcd for writing
INFO: [Common 17-14] Message 'Synth 8-7129' appears 100 times and further instances are hidden.
Please review all ERROR, CRITICAL WARNING, and WARNING messages during the run.
Synthesis finished with 0 errors, 0 critical warnings and 162 warnings.
INFO: [Vivado 12-3199] DRC finished with 0 Errors
INFO: [Common 17-206] Exiting Webtalk at Fri Nov 27 09:14:05 2026...
12 Infos, 1 Warnings, 0 Critical Warnings and 1 Errors encountered.
"""


def test_real_log_shapes_count_message_lines_only() -> None:
    summary = _scan(REAL_SHAPES_LOG)
    counts = (summary.infos, summary.warnings, summary.critical_warnings, summary.errors)
    assert counts == (6, 1, 0, 1)
    assert summary.first_errors == ["ERROR: Could not open VCD file dump.vcd for writing"]
    assert summary.error_ids == []  # the error has no id
    assert summary.last_summary == {
        "infos": 12,
        "warnings": 1,
        "critical_warnings": 0,
        "errors": 1,
    }
    assert not summary.exited_normally  # Webtalk's exit is not Vivado's


def test_windows_line_ends_change_nothing() -> None:
    assert _scan(REAL_SHAPES_LOG.replace("\n", "\r\n")) == _scan(REAL_SHAPES_LOG)


EXIT = "INFO: [Common 17-206] Exiting Vivado at Fri Nov 27 09:14:05 2026...\n"


@pytest.mark.parametrize(
    ("text", "exited"),
    [
        (SUCCESS_LOG + "\n\n", True),  # blank lines after the exit change nothing
        # A parent log with its child runs inlined: a child's exit is not the parent's.
        (EXIT + "[Fri Nov 27 09:14:06 2026] synth_1 finished\nwait_on_run: Time (s): cpu\n", False),
        (EXIT + "wait_on_run: Time (s): cpu\n" + EXIT, True),
        # Cut off just after a child's exit: the parent's banner has no exit yet.
        ("****** Vivado v2024.2 (64-bit)\n" * 2 + EXIT, False),
        ("****** Vivado v2024.2 (64-bit)\n" * 2 + EXIT + "wait_on_run: Time (s)\n" + EXIT, True),
        # A crash while shutting down.
        (EXIT + "Abnormal program termination (EXCEPTION_ACCESS_VIOLATION)\n", False),
        # Stale text of an older session after the exit line.
        (EXIT + "INFO: [Common 17-1460] Use of init.tcl is deprecated.\n", False),
    ],
    ids=[
        "blank-tail",
        "child-exit",
        "parent-exit",
        "cut-after-child-exit",
        "banners-all-exited",
        "crash-after-exit",
        "stale-session",
    ],
)
def test_exited_normally_only_when_the_exit_line_is_the_last(text: str, exited: bool) -> None:
    assert _scan(text).exited_normally is exited


def test_a_failing_step_keeps_the_first_line_of_each_error_id() -> None:
    repeated = "".join(f"ERROR: [Place 30-68] Instance u{n} is not placed\n" for n in range(8))
    summary = _scan(
        repeated
        + "ERROR: [Place 30-99] Placer failed with error: 'IO Clock Placer failed'\n"
        + "41 Infos, 0 Warnings, 0 Critical Warnings and 10 Errors encountered.\n"
        + "place_design failed\n"
        + "ERROR: [Common 17-69] Command failed: Placer could not place all instances\n"
    )
    assert summary.errors == 10
    assert summary.first_errors == [
        "ERROR: [Place 30-68] Instance u0 is not placed",
        "ERROR: [Place 30-99] Placer failed with error: 'IO Clock Placer failed'",
        "ERROR: [Common 17-69] Command failed: Placer could not place all instances",
    ]
    assert summary.failed_commands == ["place_design"]


def test_a_tcl_level_command_fails_with_common_17_39() -> None:
    summary = _scan("ERROR: [Common 17-39] 'wait_on_runs' failed due to earlier errors.\n")
    assert summary.failed_commands == ["wait_on_runs"]


def test_memory_is_bounded_whatever_the_number_of_errors() -> None:
    scanner = LogScanner()
    for number in range(10_000):
        scanner.feed(f"ERROR: [Route 35-{number}] error {number}\n")
        scanner.feed(f"cmd{number} failed\n")
    summary = scanner.summary()
    assert summary.errors == 10_000
    assert len(summary.first_errors) == MAX_KEPT_LINES
    assert summary.first_errors[0] == "ERROR: [Route 35-0] error 0"
    assert len(summary.failed_commands) == MAX_KEPT_LINES


def test_severity_words_inside_text_are_not_messages() -> None:
    summary = _scan("pr_verify reported ERROR: nothing\n  ERROR: [x 1-1] indented\nINFO:no space\n")
    assert (summary.infos, summary.errors) == (0, 0)


def test_summarize_log_streams_a_file_with_a_huge_line(tmp_path: Path) -> None:
    log = tmp_path / "vivado.log"
    huge = "ERROR: [Common 17-1] " + "x" * (5 * MAX_LINE_BYTES)
    log.write_text(SUCCESS_LOG.replace("source build.tcl -notrace", huge))
    summary = summarize_log(log)
    assert summary.errors == 1
    assert summary.infos == 5
    assert len(summary.first_errors[0]) < MAX_LINE_BYTES
    assert summary.exited_normally


def test_bounded_lines_cuts_long_lines_but_copies_every_byte() -> None:
    data = b"short\n" + b"y" * (3 * MAX_LINE_BYTES) + b"\nlast"
    sink = io.BytesIO()
    lines = list(bounded_lines(io.BytesIO(data), sink))
    assert [len(line) for line in lines] == [6, MAX_LINE_BYTES, 4]
    assert sink.getvalue() == data


# pr_verify failing as Vivado 2025.2 reports it.
PR_VERIFY_FAILURE_LOG = """\
ERROR: [Constraints 18-891] HDPRVerify-08: static.dcp places instance u_shell/BUFG_DRCK at site \
BUFGCE_X1Y118, yet user.dcp does not
ERROR: [Vivado 12-3515] PR_VERIFY: check points static.dcp and user.dcp are not compatible
ERROR: [Common 17-39] 'pr_verify' failed due to earlier errors.
"""


@pytest.mark.parametrize(
    "text",
    [
        PR_VERIFY_FAILURE_LOG,
        "ERROR: [Vivado 12-3515] PR_VERIFY: check points s.dcp and u.dcp are not compatible\n",
        "ERROR: [Common 17-39] 'pr_verify' failed due to earlier errors.\n",
    ],
    ids=["as-vivado-reports-it", "the-verdict-alone", "the-failed-command-alone"],
)
def test_a_pr_verify_failure_is_recognised_by_vivados_own_lines(text: str) -> None:
    assert failure_cause(_scan(text), 1) is FailureCause.PR_VERIFY_FAILED


def test_failure_causes() -> None:
    pr_verify = _scan(PR_VERIFY_FAILURE_LOG)
    timing = _scan("ERROR: [AFS 1-1] Timing violation: worst setup slack -0.123 ns\n")
    drc = _scan(DRC_FAILURE_LOG)
    tcl_error = _scan('invalid command name "foo"\n    while executing\n"foo"\n')
    assert failure_cause(pr_verify, 1) is FailureCause.PR_VERIFY_FAILED
    assert failure_cause(timing, 1) is FailureCause.TIMING_VIOLATION
    assert failure_cause(drc, 1) is FailureCause.BITSTREAM_GENERATE_ERROR
    assert failure_cause(tcl_error, 1) is FailureCause.BITSTREAM_GENERATE_ERROR
    # Killed by a signal: the tool crashed, whatever it logged before.
    assert failure_cause(timing, -11) is FailureCause.BITSTREAM_GENERATE_ERROR


def test_a_timing_violation_is_found_even_after_many_other_errors() -> None:
    scanner = LogScanner()
    for number in range(20):
        scanner.feed(f"ERROR: [Place 30-{number}] something else went wrong\n")
    scanner.feed("ERROR: [AFS 1-1] Timing violation: worst setup slack -0.2 ns\n")
    summary = scanner.summary()
    assert len(summary.first_errors) == 5
    assert failure_cause(summary, 1) is FailureCause.TIMING_VIOLATION


@pytest.mark.parametrize("error_id", ["AFS 1-2", "AFS 1-3"])
def test_a_shell_that_does_not_fit_is_the_factorys_fault_not_the_tenants(error_id: str) -> None:
    scanner = LogScanner()
    scanner.feed(f"ERROR: [{error_id}] The shell checkpoint does not fit\n")
    assert failure_cause(scanner.summary(), 1) is FailureCause.INTERNAL_ERROR
