"""Reading Vivado logs: counts, summary lines, first errors, failed commands, failure causes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from afs.errors import FailureCause
from afs.vivado.logparse import (
    MAX_KEPT_LINES,
    MAX_LINE_BYTES,
    LogScanner,
    LogSummary,
    bounded_lines,
    failure_cause,
    summarize_log,
)

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


def test_memory_is_bounded_whatever_the_number_of_errors() -> None:
    scanner = LogScanner()
    for number in range(10_000):
        scanner.feed(f"ERROR: [Route 35-1] error {number}\n")
        scanner.feed(f"cmd{number} failed\n")
    summary = scanner.summary()
    assert summary.errors == 10_000
    assert len(summary.first_errors) == MAX_KEPT_LINES
    assert summary.first_errors[0] == "ERROR: [Route 35-1] error 0"
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


def test_failure_causes() -> None:
    pr_verify = _scan(
        "ERROR: [Vivado 12-3254] PR_VERIFY: checkpoints are incompatible\n"
        "0 Infos, 0 Warnings, 0 Critical Warnings and 1 Errors encountered.\n"
        "pr_verify failed\n"
    )
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
