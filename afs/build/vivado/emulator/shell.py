"""One emulated batch session: log and journal, the Tcl interpreter, the script, the exit."""

from __future__ import annotations

import os
import sys
import tkinter
from datetime import datetime
from pathlib import Path
from typing import TextIO

from afs.build.vivado.emulator import IDENTITY
from afs.build.vivado.emulator.cli import Options
from afs.build.vivado.emulator.commands import Session, command_names
from afs.build.vivado.emulator.console import Console

# Vivado's `puts` to stdout also goes to the log; `exit` ends the session the Vivado way
# (tkinter removes Tcl's own `exit`).
_TCL_SETUP = """
namespace eval ::afs {}
rename ::puts ::afs::tcl_puts
proc ::puts args {
    set newline [expr {[lindex $args 0] ne "-nonewline"}]
    set rest [lrange $args [expr {!$newline}] end]
    if {[llength $rest] == 1 || ([llength $rest] == 2 && [lindex $rest 0] eq "stdout")} {
        ::afs::emit [lindex $rest end] $newline
    } else {
        ::afs::tcl_puts {*}$args
    }
}
# read_xdc: each complete command of the file at global level; failures come back, not raised,
# because Vivado reports a constraint that fails as a critical warning and reads on.
proc ::afs::source_xdc {path} {
    set channel [open $path r]
    set text [read $channel]
    close $channel
    set failures {}
    set command ""
    set number 0
    foreach line [split $text "\\n"] {
        incr number
        if {$command eq ""} { set first $number }
        append command $line "\\n"
        if {![info complete $command]} { continue }
        if {[string trim $command] ne "" && [catch {uplevel #0 $command} message]} {
            lappend failures "$message \\[$path:$first\\]"
        }
        set command ""
    }
    return $failures
}
proc ::exit {{code 0}} {
    if {![string is integer -strict $code]} {
        return -code error "expected integer but got \\"$code\\""
    }
    ::afs::exit $code
}
"""
_WRAPPER = (
    "proc ::{name} args {{ lassign [::afs::dispatch [info level 0] {name} {{*}}$args] status "
    "result; return -code $status $result }}"
)


def _header(options: Options, argv: list[str]) -> list[str]:
    return [
        "#-----------------------------------------------------------",
        f"# {IDENTITY}",
        f"# Start of session at: {datetime.now().ctime()}",
        f"# Process ID: {os.getpid()}",
        f"# Current directory: {Path.cwd()}",
        f"# Command line: vivado {' '.join(argv)}",
        f"# Log file: {options.log or ''}",
        f"# Journal file: {options.journal or ''}",
        "#-----------------------------------------------------------",
    ]


class BatchRun:
    def __init__(self, options: Options, argv: list[str]) -> None:
        self.options = options
        self.log: TextIO | None = options.log.open("w", encoding="utf-8") if options.log else None
        self.journal: TextIO | None = (
            options.journal.open("w", encoding="utf-8") if options.journal else None
        )
        self.console = Console(self.log)
        for line in _header(options, argv):
            self.console.line(line)
            if self.journal is not None:
                self.journal.write(line + "\n")
        self.console.info(
            "Emulator 99-1",
            "This is afs-vivado-emulator, a test double: nothing is synthesised, placed or routed "
            "and the bitstream it writes configures no device.",
        )

    def run(self) -> int:
        """Source the script; 0 when it ran to its end, 1 on an uncaught Tcl error."""
        options = self.options
        if options.temp_dir is not None:
            options.temp_dir.mkdir(parents=True, exist_ok=True)
        tcl = tkinter.Tcl()
        session = Session(
            self.console,
            self.journal,
            trace=options.trace,
            splitlist=tcl.splitlist,
            source_xdc=lambda path: tcl.splitlist(tcl.call("::afs::source_xdc", path)),
        )
        tcl.createcommand("::afs::emit", self._emit)
        tcl.createcommand("::afs::dispatch", session.dispatch)
        tcl.eval(_TCL_SETUP)
        tcl.createcommand("::afs::exit", self.exit)
        for name in command_names():
            tcl.eval(_WRAPPER.format(name=name))
        # typeshed types setvar's value as str; tkinter passes tuples and ints to Tcl as they are.
        tcl.setvar("argv", tuple(options.tclargs))  # type: ignore[arg-type]
        tcl.setvar("argc", len(options.tclargs))  # type: ignore[arg-type]
        tcl.setvar("argv0", str(options.source))
        source_line = f"source {options.source}" + ("" if options.trace else " -notrace")
        self.console.line(source_line)
        if self.journal is not None:
            self.journal.write(source_line + "\n")
            self.journal.flush()
        try:
            tcl.call("source", str(options.source))
        except tkinter.TclError as exc:
            message, trace = str(exc), tcl.getvar("errorInfo")
            if message == session.last_error:
                trace = trace[len(message) :].lstrip("\n")  # the ERROR line is already printed
            self.console.line(trace)
            return self.finish(1)
        return self.finish(0)

    def _emit(self, text: str, newline: str) -> None:
        if newline == "1":
            self.console.line(text)
        else:
            self.console.write(text)

    def exit(self, code: str) -> None:
        """Tcl `exit` inside the script: end the session now, as Vivado does."""
        sys.stdout.flush()
        os._exit(self.finish(int(code)))

    def finish(self, code: int) -> int:
        self.console.info("Common 17-206", f"Exiting Vivado at {datetime.now().ctime()}...")
        for stream in (self.log, self.journal):
            if stream is not None:
                stream.close()
        return code
