"""Sample checkpoints for the demo and the tests, shaped as the FP1 kit's flow makes them.

- The shell's static checkpoint (the kit's `SH_UL_BB_routed.dcp`): routed, not out of context, its
  reconfigurable cell USER_CELL a black box in pblock USER_PBLOCK. TEST/DEMO FIXTURE: it is no
  Huawei FP1 shell, only something the Vivado emulator can build against.
- The user module (the kit's `<prj>_post_synth.dcp`): synthesized out of context, top USER_TOP.
- The upload (the kit's `to_facs/<prj>_routed.dcp`): the whole routed design, the shell's top and
  static content with the user module in USER_CELL, not out of context.
The pblock constraints are those of the kit's `pr_pblock.xdc`. An upload may carry an emulator fault
(a member named EMULATOR_FAULT_MEMBER); only the emulator reads it, and no DCP Vivado writes has it.

For the SDAccel flow (shell 0x01210101, SDx 2017.4.op): an `.xclbin` as xocc writes it with the
kit's `--xp param:compiler.acceleratorBinaryContent=dcp`, its BITSTREAM section the routed
checkpoint and its EMBEDDED_METADATA the platform's timestamp and kernel clocks; and a partial
bitstream, what an xclbin compiled without that parameter holds instead.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

from afs.build.vivado.emulator.bitstream import bit_file, design_field, emulated_bitstream
from afs.build.vivado.emulator.checkpoints import (
    EMULATOR_FAULT_MEMBER,
    Cell,
    DesignContent,
    Pblock,
    partition_xdc,
    write_checkpoint_file,
)
from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV
from afs.inputs.bitstream import (
    XCLBIN_HEADER,
    XCLBIN_HEADER_BYTES,
    XCLBIN_MAGIC,
    XCLBIN_SECTION,
    XCLBIN_SECTION_KINDS,
    idcode_of,
)
from afs.settings import VU9P_PART

__all__ = [
    "EMULATOR_FAULTS_ENV",
    "EMULATOR_FAULT_MEMBER",
    "SHELL_TOP",
    "USER_CELL",
    "USER_PBLOCK",
    "USER_TOP",
    "sample_partial_bitstream",
    "sample_pblock_xdc",
    "write_sample_dcp",
    "write_sample_module_dcp",
    "write_sample_shell_dcp",
    "write_sample_xclbin",
    "xclbin_file",
]

USER_TOP = "ul_pr_top"
SHELL_TOP = "fp1_shell_top"
USER_CELL = "u_ul_pr_top"
USER_PBLOCK = "pblock_u_ul_pr_top"
DEFAULT_SHELL_ID = "0x01010029"
SDACCEL_SHELL_ID = "0x01210101"
SDACCEL_TOOL_VERSION = "2017.4.op"
SAMPLE_XCLBIN_TIMESTAMP = 1514764800
SAMPLE_DATA_CLOCK_MHZ = 250
SAMPLE_KERNEL_CLOCK_MHZ = 500
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


def sample_partial_bitstream() -> bytes:
    """A partial bitstream for the VU9P with a header shaped like Vivado's, marked a sample."""
    design = design_field(
        USER_TOP,
        partial=True,
        compress=True,
        version=SDACCEL_TOOL_VERSION,
        marks={"AFS_SAMPLE": "TRUE"},
    )
    stream = emulated_bitstream(
        "afs sample partial bitstream", frames=300, idcode=idcode_of(VU9P_PART)
    )
    return bit_file(design, VU9P_PART, stream, datetime(2018, 1, 1, 12, 0, 0))


def _embedded_metadata(timestamp: int, data_mhz: int, kernel_mhz: int) -> bytes:
    """The xclbin's XML as SDx 2017.4 writes it, cut down to what the kit reads."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project name="afs_sample">\n'
        '  <platform vendor="huawei" boardid="vu9p" name="dynamic_fp1"'
        f' featureRomTime="{timestamp}">\n'
        '    <version major="5" minor="0"/>\n'
        '    <device name="fpga0" fpgaDevice="virtexuplus:xcvu9p:flgb2104:-2:i">\n'
        '      <core name="OCL_REGION_0" target="hw" type="clc_region">\n'
        f'        <kernelClocks><clock port="KERNEL_CLK" frequency="{kernel_mhz}MHz"/>\n'
        f'          <clock port="DATA_CLK" frequency="{data_mhz}MHz"/></kernelClocks>\n'
        "      </core>\n    </device>\n  </platform>\n</project>\n"
    ).encode()


def xclbin_file(
    primary: bytes,
    *,
    timestamp: int = SAMPLE_XCLBIN_TIMESTAMP,
    data_mhz: int = SAMPLE_DATA_CLOCK_MHZ,
    kernel_mhz: int = SAMPLE_KERNEL_CLOCK_MHZ,
) -> bytes:
    """An xclbin2 (the kit's xclbin.h): its BITSTREAM section `primary`, then its metadata."""
    sections = [
        (XCLBIN_SECTION_KINDS.index("BITSTREAM"), "primary", primary),
        (
            XCLBIN_SECTION_KINDS.index("EMBEDDED_METADATA"),
            "xml",
            _embedded_metadata(timestamp, data_mhz, kernel_mhz),
        ),
    ]
    offset = XCLBIN_HEADER_BYTES + len(sections) * XCLBIN_SECTION.size
    table, body = b"", b""
    for kind, name, data in sections:
        padding = -(offset + len(body)) % 8
        body += b"\x00" * padding
        table += XCLBIN_SECTION.pack(kind, name.encode(), offset + len(body), len(data))
        body += data
    length = offset + len(body)
    header = XCLBIN_HEADER.pack(
        XCLBIN_MAGIC, bytes(32), bytes(256), 0, length, timestamp, timestamp, 0, 2, 1, 0, 0, 0,
        b"huawei:vu9p:dynamic_fp1:5.0", bytes(16), bytes(16), len(sections),
    )  # fmt: skip
    return header + table + body


def write_sample_xclbin(path: Path, *, primary: bytes | None = None) -> Path:
    """Write a sample xclbin of the kit's SDAccel flow: by default its BITSTREAM section is the
    whole design routed on the sample shell 0x01210101, as xocc writes with
    `acceleratorBinaryContent=dcp`; `primary` puts another section there (a bitstream, say)."""
    if primary is None:
        with tempfile.TemporaryDirectory(prefix="afs-sample-") as scratch:
            routed = write_sample_dcp(Path(scratch) / "routed.dcp", shell_id=SDACCEL_SHELL_ID)
            primary = routed.read_bytes()
    path.write_bytes(xclbin_file(primary))
    return path
