"""Sample DCPs for the demo and the tests: valid ZIPs with a realistic `dcp.xml`.

User samples are reconfigurable modules (top USER_TOP); shell samples are static checkpoints with
one reconfigurable cell. A user sample may carry an emulator fault (a member named
EMULATOR_FAULT_MEMBER). Only the Vivado emulator reads it; no DCP written by Vivado has such a
member, so a real design can never trigger one.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

from afs.dcp import DCP_XML
from afs.settings import VU9P_PART

EMULATOR_FAULT_MEMBER = "afs_emulator_fault.txt"
# The emulator acts out a fault only where this is "1" (the test suite, benchmarks), so a tenant
# cannot make even an emulated build host hang or fill its disk.
EMULATOR_FAULTS_ENV = "AFS_EMULATOR_FAULTS"
USER_TOP = "ul_pr_top"


def sample_dcp_xml(
    *, part: str, top: str, product: str, out_of_context: bool, version: str = "5"
) -> str:
    """`dcp.xml` in the shape Vivado writes it: a Checkpoint root, flags as "0"/"1"."""
    files = [
        ("EDIF", f"{top}.edf"),
        ("XDEF", f"{top}.xdef"),
        ("PHYSDB", f"{top}.phys"),
        ("XDC", f"{top}_early.xdc"),
        ("XDC", f"{top}.xdc"),
    ]
    file_lines = "".join(
        f'\t<File Type={quoteattr(kind)} Name={quoteattr(name)} ModTime="1500000000"/>\n'
        for kind, name in files
    )
    return (
        '<?xml version="1.0"?>\n'
        f'<Checkpoint Version="{version}" Minor="0">\n'
        f"\t<PRODUCT Name={quoteattr(product)}/>\n"
        f"\t<Part Name={quoteattr(part)}/>\n"
        f"\t<Top Name={quoteattr(top)}/>\n"
        f'\t<DisableAutoIOBuffers Name="{int(out_of_context)}"/>\n'
        f'\t<OutOfContext Name="{int(out_of_context)}"/>\n'
        f"{file_lines}"
        "</Checkpoint>\n"
    )


def write_sample_dcp(
    path: Path,
    *,
    part: str = VU9P_PART,
    top: str = USER_TOP,
    product: str = "Vivado v2017.2 (64-bit)",
    emulator_fault: str | None = None,
    payload_bytes: int = 64 * 1024,
) -> Path:
    """Write a sample user DCP to `path`; `payload_bytes` of netlist data make it opaque."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # A reconfigurable module is synthesized out of context; the static shell is not.
        archive.writestr(
            DCP_XML, sample_dcp_xml(part=part, top=top, product=product, out_of_context=True)
        )
        archive.writestr(f"{top}.edf", f"(edif {top} (edifVersion 2 0 0))\n")
        archive.writestr(f"{top}.xdef", os.urandom(payload_bytes))
        archive.writestr(f"{top}.phys", os.urandom(payload_bytes // 4))
        archive.writestr(f"{top}_early.xdc", "create_clock -period 4.000 [get_ports clk]\n")
        archive.writestr(f"{top}.xdc", "")
        if emulator_fault is not None:
            archive.writestr(EMULATOR_FAULT_MEMBER, emulator_fault)
    return path


SHELL_TOP = "fp1_shell_top"
USER_CELL = "u_ul_pr_top"
USER_PBLOCK = "pblock_u_ul_pr_top"


def sample_shell_xdc(shell_id: str) -> str:
    """The partition constraints a static shell checkpoint carries (what pr_verify checks)."""
    return (
        f"# AFS sample static shell {shell_id}: a test/demo fixture, not a Huawei FP1 shell.\n"
        f"create_pblock {USER_PBLOCK}\n"
        f"add_cells_to_pblock [get_pblocks {USER_PBLOCK}] [get_cells {USER_CELL}]\n"
        f"resize_pblock [get_pblocks {USER_PBLOCK}] -add {{CLOCKREGION_X0Y5:CLOCKREGION_X5Y14}}\n"
        f"set_property HD.RECONFIGURABLE true [get_cells {USER_CELL}]\n"
    )


def write_sample_shell_dcp(
    path: Path, shell_id: str, *, part: str = VU9P_PART, product: str = "Vivado v2017.2 (64-bit)"
) -> Path:
    """Write a sample static shell checkpoint (TEST/DEMO FIXTURE, not a real shell) to `path`.

    Its reconfigurable cell USER_CELL in pblock USER_PBLOCK takes the sample user DCPs, which is
    what the Vivado emulator's pr_verify and read_checkpoint -cell check.
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            DCP_XML,
            sample_dcp_xml(part=part, top=SHELL_TOP, product=product, out_of_context=False),
        )
        archive.writestr(f"{SHELL_TOP}.edf", f"(edif {SHELL_TOP} (edifVersion 2 0 0))\n")
        archive.writestr(f"{SHELL_TOP}.xdef", shell_id.encode() * 1024)
        archive.writestr(f"{SHELL_TOP}.phys", b"")
        archive.writestr(f"{SHELL_TOP}_early.xdc", "create_clock -period 4.000 [get_ports clk]\n")
        archive.writestr(f"{SHELL_TOP}.xdc", sample_shell_xdc(shell_id))
    return path
