"""Sample checkpoints for the demo and the tests, shaped as the FP1 kit's flow makes them.

- The shell's static checkpoint (the kit's `SH_UL_BB_routed.dcp`): routed, not out of context, its
  reconfigurable cell USER_CELL a black box in pblock USER_PBLOCK. TEST/DEMO FIXTURE: it is no
  Huawei FP1 shell, only something the Vivado emulator can build against.
- The user module (the kit's `<prj>_post_synth.dcp`): synthesized out of context, top USER_TOP.
- The upload (the kit's `to_facs/<prj>_routed.dcp`): the whole routed design, the shell's top and
  static content with the user module in USER_CELL, not out of context.
The pblock constraints are those of the kit's `pr_pblock.xdc`. An upload may carry an emulator fault
(a member named EMULATOR_FAULT_MEMBER); only the emulator reads it, and no DCP Vivado writes has it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from afs.build.vivado.emulator.checkpoints import (
    EMULATOR_FAULT_MEMBER,
    Cell,
    DesignContent,
    Pblock,
    partition_xdc,
    write_checkpoint_file,
)
from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV
from afs.settings import VU9P_PART

__all__ = [
    "EMULATOR_FAULTS_ENV",
    "EMULATOR_FAULT_MEMBER",
    "SHELL_TOP",
    "USER_CELL",
    "USER_PBLOCK",
    "USER_TOP",
    "sample_pblock_xdc",
    "write_sample_dcp",
    "write_sample_module_dcp",
    "write_sample_shell_dcp",
]

USER_TOP = "ul_pr_top"
SHELL_TOP = "fp1_shell_top"
USER_CELL = "u_ul_pr_top"
USER_PBLOCK = "pblock_u_ul_pr_top"
DEFAULT_SHELL_ID = "0x01010029"
_PRODUCT = "Vivado v2017.2 (64-bit)"
_CLOCK_XDC = "create_clock -period 4.000 [get_ports clk]\n"


def _routed_on_shell(
    shell_id: str, user_cell: Cell, *, part: str, top: str, product: str
) -> DesignContent:
    """A routed, not out-of-context design on the static part of `shell_id`'s sample shell.

    `user_cell` (a black box in the shell, the module in an upload) is the reconfigurable
    partition of the kit's pr_pblock.xdc.
    """
    user_cell.reconfigurable, user_cell.pblock = True, USER_PBLOCK
    pblock = Pblock(
        ranges=[
            ("add", "CLOCKREGION_X0Y0:CLOCKREGION_X5Y14"),
            ("remove", "CLOCKREGION_X3Y4:CLOCKREGION_X5Y9"),
        ],
        properties={"RESET_AFTER_RECONFIG": "true", "SNAPPING_MODE": "ON"},
    )
    return DesignContent(
        part=part,
        top=top,
        product=product,
        out_of_context=False,
        stage="routed",
        static_placement=sample_static_placement(shell_id),
        cells={USER_CELL: user_cell},
        pblocks={USER_PBLOCK: pblock},
    )


def sample_static_placement(shell_id: str) -> bytes:
    """The sample shell's static placement and routing: one per shell id, so shells differ."""
    return hashlib.shake_256(f"afs sample static shell {shell_id}".encode()).digest(16 * 1024)


def sample_pblock_xdc() -> str:
    """The partition constraints a tenant's flow reads, like the kit's `pr_pblock.xdc`."""
    content = _routed_on_shell(
        DEFAULT_SHELL_ID, Cell(ref=USER_TOP), part=VU9P_PART, top=SHELL_TOP, product=_PRODUCT
    )
    return "# AFS sample partition constraints: a test/demo fixture.\n" + partition_xdc(content)


def write_sample_shell_dcp(
    path: Path, shell_id: str, *, part: str = VU9P_PART, product: str = _PRODUCT
) -> Path:
    """Write the sample static checkpoint of `shell_id` (TEST/DEMO FIXTURE, not a real shell)."""
    black_box = Cell(ref=USER_TOP, black_box=True)
    content = _routed_on_shell(shell_id, black_box, part=part, top=SHELL_TOP, product=product)
    return write_checkpoint_file(path, content, clock_xdc=_CLOCK_XDC)


def write_sample_module_dcp(
    path: Path,
    *,
    part: str = VU9P_PART,
    top: str = USER_TOP,
    product: str = _PRODUCT,
    payload_bytes: int = 64 * 1024,
) -> Path:
    """Write a sample user module, synthesized out of context (what the kit reads into the cell)."""
    content = DesignContent(
        part=part,
        top=top,
        product=product,
        out_of_context=True,
        stage="synthesized",
        static_placement=os.urandom(payload_bytes),
    )
    return write_checkpoint_file(path, content, clock_xdc=_CLOCK_XDC)


def write_sample_dcp(
    path: Path,
    *,
    shell_id: str = DEFAULT_SHELL_ID,
    part: str = VU9P_PART,
    top: str = SHELL_TOP,
    product: str = _PRODUCT,
    emulator_fault: str | None = None,
    payload_bytes: int = 64 * 1024,
) -> Path:
    """Write a sample upload: the whole design routed against the sample shell of `shell_id`.

    It is what the kit's flow writes to `to_facs/<prj>_routed.dcp` (and what the emulator writes
    after that flow); `payload_bytes` of the user module's placement make it opaque and unique.
    """
    module = Cell(ref=USER_TOP, placement=os.urandom(payload_bytes))
    content = _routed_on_shell(shell_id, module, part=part, top=top, product=product)
    content.fault = emulator_fault
    return write_checkpoint_file(path, content, clock_xdc=_CLOCK_XDC)
