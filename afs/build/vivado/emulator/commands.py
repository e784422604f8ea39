"""The Vivado commands the emulator defines: option checking, design state, and their effects.

Each command checks its options the way Vivado does (unknown option, missing value, too many
positional arguments) and its inputs (an open design, known cells and pblocks, readable
checkpoints). Big commands frame their output as Vivado does: `Command: ...`, the message counts,
`<cmd> completed successfully` or `<cmd> failed`, and a time/memory line.

The commands are defined by family in the `*_commands` modules, on `session.SessionBase`;
`Session` combines them, and importing this module registers them all.
"""

from afs.build.vivado.emulator.bitstream_commands import BitstreamCommands
from afs.build.vivado.emulator.constraint_commands import ConstraintCommands
from afs.build.vivado.emulator.design_commands import DesignCommands
from afs.build.vivado.emulator.implementation_commands import ImplementationCommands
from afs.build.vivado.emulator.report_commands import ReportCommands
from afs.build.vivado.emulator.session import command_names

__all__ = ["Session", "command_names"]


class Session(
    DesignCommands, ConstraintCommands, ImplementationCommands, ReportCommands, BitstreamCommands
):
    """One emulated Vivado session: the open design, parameters, objects, and the fault if any."""
