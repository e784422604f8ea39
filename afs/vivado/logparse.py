"""Reading a Vivado log: message counts, the first errors, failed commands, and the failure cause.

Lines look like `SEVERITY: [Facility N-M] text`. The scanner keeps counters and a few lines, never
the log itself, so a multi-gigabyte log costs no more memory than a small one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel

from afs.errors import FailureCause

MAX_KEPT_LINES = 5
MAX_LINE_CHARS = 2000
MAX_LINE_BYTES = 8192

_MESSAGE = re.compile(r"^(CRITICAL WARNING|WARNING|INFO|ERROR): (?:\[([^\]]*)\] )?")
_SUMMARY = re.compile(
    r"^(\d+) Infos, (\d+) Warnings, (\d+) Critical Warnings and (\d+) Errors encountered\.\s*$"
)
_FAILED = re.compile(r"^(\w+) failed\s*$")
_EXITING = "INFO: [Common 17-206] Exiting Vivado at"

# Message ids written by vivado_tcl/build_partial.tcl.j2 and by Vivado's pr_verify.
TIMING_VIOLATION_ID = "AFS 1-1"
SHELL_PART_ID = "AFS 1-2"
SHELL_CELL_ID = "AFS 1-3"
PR_VERIFY_INCOMPATIBLE_ID = "Vivado 12-3254"
MAX_ERROR_IDS = 50

# The cause an ERROR's message id stands for, checked in this order. A shell that does not fit
# the template is the operator's fault, never the tenant's: INTERNAL_ERROR, which may be retried.
_CAUSE_OF_ERROR_ID: dict[str, FailureCause] = {
    SHELL_PART_ID: FailureCause.INTERNAL_ERROR,
    SHELL_CELL_ID: FailureCause.INTERNAL_ERROR,
    PR_VERIFY_INCOMPATIBLE_ID: FailureCause.PR_VERIFY_FAILED,
    TIMING_VIOLATION_ID: FailureCause.TIMING_VIOLATION,
}


class LogSummary(BaseModel):
    infos: int = 0
    warnings: int = 0
    critical_warnings: int = 0
    errors: int = 0
    last_summary: dict[str, int] | None = None
    first_errors: list[str] = []
    error_ids: list[str] = []  # distinct message ids of ERROR lines, in order of appearance
    failed_commands: list[str] = []
    exited_normally: bool = False


class LogScanner:
    """Feed a Vivado log one line at a time; `summary()` describes what was seen so far."""

    def __init__(self) -> None:
        self._summary = LogSummary()

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")[:MAX_LINE_CHARS]
        summary = self._summary
        message = _MESSAGE.match(line)
        if message:
            severity = message.group(1)
            if severity == "INFO":
                summary.infos += 1
                if line.startswith(_EXITING):
                    summary.exited_normally = True
            elif severity == "WARNING":
                summary.warnings += 1
            elif severity == "CRITICAL WARNING":
                summary.critical_warnings += 1
            else:
                summary.errors += 1
                if len(summary.first_errors) < MAX_KEPT_LINES:
                    summary.first_errors.append(line)
                error_id = message.group(2)
                if (
                    error_id
                    and error_id not in summary.error_ids
                    and len(summary.error_ids) < MAX_ERROR_IDS
                ):
                    summary.error_ids.append(error_id)
            return
        counts = _SUMMARY.match(line)
        if counts:
            infos, warnings, critical, errors = (int(group) for group in counts.groups())
            summary.last_summary = {
                "infos": infos,
                "warnings": warnings,
                "critical_warnings": critical,
                "errors": errors,
            }
            return
        failed = _FAILED.match(line)
        if failed and len(summary.failed_commands) < MAX_KEPT_LINES:
            summary.failed_commands.append(failed.group(1))

    def summary(self) -> LogSummary:
        return self._summary.model_copy(deep=True)


def bounded_lines(stream: BinaryIO, sink: BinaryIO | None = None) -> Iterator[str]:
    """The lines of `stream`, each cut to MAX_LINE_BYTES; every byte still goes to `sink`.

    A longer line is read in pieces: its first piece is yielded, the rest only copied to `sink`.
    """
    continuing = False
    while chunk := stream.readline(MAX_LINE_BYTES):
        if sink is not None:
            sink.write(chunk)
        if not continuing:
            yield chunk.decode("utf-8", errors="replace")
        continuing = not chunk.endswith(b"\n")


def summarize_log(path: Path) -> LogSummary:
    """Stream the log at `path` through a LogScanner."""
    scanner = LogScanner()
    with path.open("rb") as log:
        for line in bounded_lines(log):
            scanner.feed(line)
    return scanner.summary()


def failure_cause(summary: LogSummary, exit_code: int) -> FailureCause:
    """The cause a tenant is told for a failed run: shell, pr_verify, timing, or the bitstream.

    A tool killed by a signal (negative exit code) failed to make a bitstream, whatever its log
    said before.
    """
    if exit_code < 0:
        return FailureCause.BITSTREAM_GENERATE_ERROR
    for error_id, cause in _CAUSE_OF_ERROR_ID.items():
        if error_id in summary.error_ids:
            return cause
    if "pr_verify" in summary.failed_commands:
        return FailureCause.PR_VERIFY_FAILED
    return FailureCause.BITSTREAM_GENERATE_ERROR
