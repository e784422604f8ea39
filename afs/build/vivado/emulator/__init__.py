"""afs-vivado-emulator: an honest, `vivado`-compatible test double (it is NOT Xilinx Vivado).

It runs a Vivado batch script in a real Tcl 8.6 interpreter (tkinter.Tcl), with the Vivado commands
the factory's build script uses defined to check their options and inputs the way Vivado does, to
log in Vivado's format, and to write a bitstream file whose header says it was emulated. Nothing is
synthesised, placed or routed; the bitstream configures no device.
"""

import sys
from pathlib import Path

EMULATOR_NAME = "afs-vivado-emulator"
EMULATOR_VERSION = "0.1.0"
DEFAULT_EMULATED_VERSION = "2017.2"


def _emulated_version() -> str:
    """The Vivado version this command stands for: `afs-vivado-emulator-<version>` (one console
    script per FP1 tool version) emulates that version, plain `afs-vivado-emulator` 2017.2."""
    name = Path(sys.argv[0]).name
    prefix = f"{EMULATOR_NAME}-"
    return name.removeprefix(prefix) if name.startswith(prefix) else DEFAULT_EMULATED_VERSION


EMULATED_VIVADO_VERSION = _emulated_version()
EMULATED_VIVADO = f"Vivado v{EMULATED_VIVADO_VERSION} (64-bit)"
IDENTITY = (
    f"{EMULATOR_NAME} {EMULATOR_VERSION}: NOT Xilinx Vivado; emulates {EMULATED_VIVADO} "
    "batch mode for tests and demos"
)
