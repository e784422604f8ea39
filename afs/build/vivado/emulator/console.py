"""Vivado-format output: every line to stdout and the -log file, messages counted by severity."""

from __future__ import annotations

import sys
from typing import TextIO

SEVERITIES = ("INFO", "WARNING", "CRITICAL WARNING", "ERROR")


class Console:
    def __init__(self, log: TextIO | None, stdout: TextIO = sys.stdout) -> None:
        self._streams = [stdout] if log is None else [stdout, log]
        self.counts = dict.fromkeys(SEVERITIES, 0)
        self.muted = False

    def write(self, text: str) -> None:
        for stream in self._streams:
            stream.write(text)

    def line(self, text: str = "") -> None:
        self.write(text + "\n")
        for stream in self._streams:
            stream.flush()

    def message(self, severity: str, msg_id: str, text: str) -> str:
        """Print `SEVERITY: [msg_id] text` (unless muted by -quiet) and return the line."""
        line = f"{severity}: [{msg_id}] {text}"
        if not self.muted:
            self.counts[severity] += 1
            self.line(line)
        return line

    def info(self, msg_id: str, text: str) -> str:
        return self.message("INFO", msg_id, text)

    def warning(self, msg_id: str, text: str) -> str:
        return self.message("WARNING", msg_id, text)

    def critical_warning(self, msg_id: str, text: str) -> str:
        return self.message("CRITICAL WARNING", msg_id, text)

    def error(self, msg_id: str, text: str) -> str:
        return self.message("ERROR", msg_id, text)

    def summary_line(self) -> str:
        counts = self.counts
        return (
            f"{counts['INFO']} Infos, {counts['WARNING']} Warnings, "
            f"{counts['CRITICAL WARNING']} Critical Warnings and {counts['ERROR']} Errors "
            "encountered."
        )
