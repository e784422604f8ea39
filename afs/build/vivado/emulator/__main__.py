"""`afs-vivado-emulator`: the emulator's command line (installed as a console script)."""

from __future__ import annotations

import sys

from afs.build.vivado.emulator import EMULATED_VIVADO, IDENTITY
from afs.build.vivado.emulator.cli import USAGE, UsageError, parse_command_line
from afs.build.vivado.emulator.commands import command_names
from afs.build.vivado.emulator.shell import BatchRun


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        options = parse_command_line(argv)
    except UsageError as exc:
        print(exc, flush=True)
        return 1
    if options.version:
        print(IDENTITY)
        print(f"Emulated: {EMULATED_VIVADO}")
        print("Commands: " + " ".join(command_names()))
        return 0
    if options.help:
        print(USAGE)
        return 0
    return BatchRun(options, argv).run()


if __name__ == "__main__":
    sys.exit(main())
