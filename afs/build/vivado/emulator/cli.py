"""Vivado's command line, as the emulator accepts it (batch mode only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

USAGE = """\
Usage: vivado [-mode <arg>] [-source <arg>] [-nojournal] [-journal <arg>] [-nolog] [-log <arg>]
              [-notrace] [-tempDir <arg>] [-version] [-help] [-tclargs <args>...]
  (afs-vivado-emulator accepts -mode batch only)"""

_FLAGS = ("-nojournal", "-nolog", "-notrace", "-version", "-help")
_VALUES = ("-mode", "-source", "-log", "-journal", "-tempDir")
_MODES = ("batch", "tcl", "gui")


class UsageError(Exception):
    """A command line Vivado would refuse; the message is the ERROR line to print."""


@dataclass
class Options:
    mode: str = "gui"
    source: Path | None = None
    log: Path | None = Path("vivado.log")
    journal: Path | None = Path("vivado.jou")
    trace: bool = True
    temp_dir: Path | None = None
    version: bool = False
    help: bool = False
    tclargs: list[str] = field(default_factory=list)


def _unknown(word: str) -> UsageError:
    return UsageError(
        f"ERROR: [Common 17-170] Unknown option '{word}', "
        "please type 'vivado -help' for usage info."
    )


def parse_command_line(argv: list[str]) -> Options:
    options = Options()
    words = list(argv)
    if "-tclargs" in words:
        at = words.index("-tclargs")
        words, options.tclargs = words[:at], words[at + 1 :]
    index = 0
    while index < len(words):
        word = words[index]
        if word in _VALUES:
            if index + 1 == len(words):
                raise UsageError(
                    f"ERROR: [Common 17-163] Missing value for option '{word[1:]}', "
                    "please type 'vivado -help' for usage info."
                )
            value = words[index + 1]
            index += 2
            if word == "-mode":
                if value not in _MODES:
                    raise UsageError(f"ERROR: [Common 17-173] Invalid value '{value}' for -mode")
                options.mode = value
            elif word == "-source":
                options.source = Path(value)
            elif word == "-log":
                options.log = Path(value)
            elif word == "-journal":
                options.journal = Path(value)
            else:
                options.temp_dir = Path(value)
            continue
        if word not in _FLAGS:
            if word.startswith("-"):
                raise _unknown(word)
            raise UsageError(
                f"ERROR: [Emulator 99-4] Opening project '{word}' is not emulated; use -source"
            )
        if word == "-nojournal":
            options.journal = None
        elif word == "-nolog":
            options.log = None
        elif word == "-notrace":
            options.trace = False
        else:
            setattr(options, word[1:], True)
        index += 1
    if options.version or options.help:
        return options
    if options.mode != "batch":
        raise UsageError(
            f"ERROR: [Emulator 99-4] -mode {options.mode} is not emulated; use -mode batch"
        )
    if options.source is None:
        raise UsageError("ERROR: [Common 17-174] -mode batch requires -source <script>")
    return options
