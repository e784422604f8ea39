"""afs-vivado-emulator: an honest, `vivado`-compatible test double (it is NOT Xilinx Vivado).

It runs a Vivado batch script in a real Tcl 8.6 interpreter (tkinter.Tcl), with the Vivado commands
the factory's build script uses defined to check their options and inputs the way Vivado does, to
log in Vivado's format, and to write a bitstream file whose header says it was emulated. Nothing is
synthesised, placed or routed; the bitstream configures no device.
"""

EMULATOR_NAME = "afs-vivado-emulator"
EMULATOR_VERSION = "0.1.0"
EMULATED_VIVADO = "Vivado v2017.2 (64-bit)"
EMULATED_VIVADO_VERSION = "2017.2"
IDENTITY = (
    f"{EMULATOR_NAME} {EMULATOR_VERSION}: NOT Xilinx Vivado; emulates {EMULATED_VIVADO} "
    "batch mode for tests and demos"
)
