"""Checkpoints as the emulator writes and reads them: dcp.xml, cells, PR constraints, faults.

`dcp.xml` has Vivado's own shape (the factory reads it the same way for real checkpoints). The other
members stand in for Vivado's binary data, which no tool but this emulator reads:
- `<top>.edf`: an EDIF-like netlist naming the design's stage and each cell with the module it
  holds, or `BLACK_BOX` when its contents are undefined;
- `<top>.xdef`: the static design's placement and routing (opaque bytes; what pr_verify compares);
- `rm_<cell>.xdef`: the placement of the module in a reconfigurable cell;
- `<top>.xdc`: the partition constraints, as a real static checkpoint carries them
  (`set_property HD.RECONFIGURABLE true [get_cells ...]`, `create_pblock ...`, ...).
A test may add a fault member (EMULATOR_FAULT_MEMBER), which no checkpoint Vivado writes has.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

from afs.inputs.dcp import DCP_XML, DcpError, DcpInfo, read_dcp

EMULATOR_FAULT_MEMBER = "afs_emulator_fault.txt"
MAX_MEMBER_BYTES = 1024 * 1024
MAX_FAULT_BYTES = 256
# Implementation stages, in order: a design only moves forward through them.
STAGES = ("synthesized", "optimized", "placed", "routed")

_CELL = r"\[get_cells\s+(?:-quiet\s+)?(?:\[list\s+)?\{?([^\s\}\]]+)\}?\s*\]?\s*\]"
_PBLOCK = r"\[get_pblocks\s+\{?([^\s\}\]]+)\}?\s*\]"
_RECONFIGURABLE = re.compile(r"^\s*set_property\s+HD\.RECONFIGURABLE\s+(?:true|1)\s+" + _CELL, re.I)
_CREATE_PBLOCK = re.compile(r"^\s*create_pblock\s+\{?([^\s\}]+)\}?")
_ADD_TO_PBLOCK = re.compile(r"^\s*add_cells_to_pblock\s+" + _PBLOCK + r"\s+" + _CELL)
_RESIZE_PBLOCK = re.compile(r"^\s*resize_pblock\s+" + _PBLOCK + r"\s+-(add|remove)\s+\{([^}]*)\}")
_PBLOCK_PROPERTY = re.compile(r"^\s*set_property\s+(\S+)\s+(\S+)\s+" + _PBLOCK)
_INSTANCE = re.compile(
    r"^\s*\(instance\s+(\S+)\s+\(viewRef netlist \(cellRef\s+(\S+?)\s.*?\)\)\)"
    r"(\s*\(property BLACK_BOX)?"
)
_STAGE = re.compile(r'\(comment "stage (\w+)"\)')


class CheckpointError(Exception):
    """The file cannot be opened as a checkpoint; the message says why."""


@dataclass
class Pblock:
    ranges: list[tuple[str, str]] = field(default_factory=list)  # ("add" | "remove", ranges)
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class Cell:
    ref: str  # the module the cell instantiates
    black_box: bool = False
    placement: bytes = b""  # the module's own placement, for a module read into the cell
    reconfigurable: bool = False  # HD.RECONFIGURABLE
    pblock: str | None = None


@dataclass
class DesignContent:
    """What a checkpoint holds, and what an open design holds while commands change it."""

    part: str
    top: str
    product: str
    out_of_context: bool
    stage: str
    static_placement: bytes = b""
    cells: dict[str, Cell] = field(default_factory=dict)
    pblocks: dict[str, Pblock] = field(default_factory=dict)
    fault: str | None = None

    @property
    def reconfigurable(self) -> dict[str, str | None]:
        """The reconfigurable partitions: cell -> its pblock."""
        return {name: cell.pblock for name, cell in self.cells.items() if cell.reconfigurable}

    def cell(self, name: str) -> Cell:
        """The named cell; one only the constraints name is a black box of unknown type."""
        return self.cells.setdefault(name, Cell(ref=name, black_box=True))

    @property
    def static_digest(self) -> str:
        """The static design's identity: what pr_verify compares between two checkpoints."""
        return hashlib.sha256(self.static_placement).hexdigest()

    @property
    def seed(self) -> str:
        """Deterministic per design content: reports and bitstreams derive from it."""
        digest = hashlib.sha256(self.static_placement)
        for name in sorted(self.cells):
            digest.update(name.encode() + self.cells[name].ref.encode())
            digest.update(self.cells[name].placement)
        return digest.hexdigest()

    def is_at_least(self, stage: str) -> bool:
        return STAGES.index(self.stage) >= STAGES.index(stage)


def dcp_xml(
    *,
    part: str,
    top: str,
    product: str,
    out_of_context: bool,
    files: list[tuple[str, str]],
    version: str = "5",
) -> str:
    """`dcp.xml` in the shape Vivado writes it: a Checkpoint root, flags as "0"/"1"."""
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


def partition_xdc(content: DesignContent) -> str:
    """The partition constraints of a design, as Tcl that read_xdc (and the reader here) accept."""
    lines = []
    for name, pblock in sorted(content.pblocks.items()):
        lines.append(f"create_pblock {name}")
        lines += [
            f"resize_pblock [get_pblocks {name}] -{how} {{{ranges}}}"
            for how, ranges in pblock.ranges
        ]
        lines += [
            f"set_property {key} {value} [get_pblocks {name}]"
            for key, value in sorted(pblock.properties.items())
        ]
    for name, cell in sorted(content.cells.items()):
        if cell.reconfigurable:
            lines.append(f"set_property HD.RECONFIGURABLE true [get_cells {name}]")
        if cell.pblock:
            lines.append(f"add_cells_to_pblock [get_pblocks {cell.pblock}] [get_cells {name}]")
    return "".join(line + "\n" for line in lines)


def _netlist(content: DesignContent) -> str:
    lines = [
        f"(edif {content.top} (edifVersion 2 0 0)",
        f'  (status (written (program "afs-vivado-emulator") (comment "stage {content.stage}")))',
        f"  (design {content.top} (cellRef {content.top} (libraryRef work)))",
    ]
    for name, cell in sorted(content.cells.items()):
        box = ' (property BLACK_BOX (string "TRUE"))' if cell.black_box else ""
        lines.append(
            f"  (instance {name} (viewRef netlist (cellRef {cell.ref} (libraryRef work))){box})"
        )
    return "\n".join([*lines, ")"]) + "\n"


def write_checkpoint_file(path: Path, content: DesignContent, *, clock_xdc: str = "") -> Path:
    """Write `content` to `path` as a checkpoint this emulator (and the factory) can read."""
    top = content.top
    members: list[tuple[str, str, str | bytes]] = [
        ("EDIF", f"{top}.edf", _netlist(content)),
        ("XDEF", f"{top}.xdef", content.static_placement),
    ]
    members += [
        ("XDEF", f"rm_{name}.xdef", cell.placement)
        for name, cell in sorted(content.cells.items())
        if not cell.black_box
    ]
    members += [
        ("XDC", f"{top}_early.xdc", clock_xdc),
        ("XDC", f"{top}.xdc", partition_xdc(content)),
    ]
    xml = dcp_xml(
        part=content.part,
        top=top,
        product=content.product,
        out_of_context=content.out_of_context,
        files=[(kind, name) for kind, name, _ in members],
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(DCP_XML, xml)
        for _, name, data in members:
            archive.writestr(name, data)
        if content.fault is not None:
            archive.writestr(EMULATOR_FAULT_MEMBER, content.fault)
    return path


@dataclass
class Checkpoint:
    path: Path
    info: DcpInfo
    sha256: str
    content: DesignContent

    @property
    def fault(self) -> str | None:
        return self.content.fault

    @property
    def is_static(self) -> bool:
        """A static (shell) design: it has at least one reconfigurable partition."""
        return bool(self.content.reconfigurable)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes | None:
    try:
        entry = archive.getinfo(name)
    except KeyError:
        return None
    with archive.open(entry) as member:
        return member.read(limit)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _apply_constraints(content: DesignContent, xdc: str) -> None:
    for line in xdc.splitlines():
        if match := _RECONFIGURABLE.match(line):
            content.cell(match.group(1)).reconfigurable = True
        elif match := _CREATE_PBLOCK.match(line):
            content.pblocks.setdefault(match.group(1), Pblock())
        elif match := _ADD_TO_PBLOCK.match(line):
            content.cell(match.group(2)).pblock = match.group(1)
        elif match := _RESIZE_PBLOCK.match(line):
            pblock = content.pblocks.setdefault(match.group(1), Pblock())
            pblock.ranges.append((match.group(2), match.group(3)))
        elif match := _PBLOCK_PROPERTY.match(line):
            pblock = content.pblocks.setdefault(match.group(3), Pblock())
            pblock.properties[match.group(1).upper()] = match.group(2)


def _apply_netlist(content: DesignContent, edif: str) -> None:
    if (match := _STAGE.search(edif)) and match.group(1) in STAGES:
        content.stage = match.group(1)
    for line in edif.splitlines():
        if match := _INSTANCE.match(line):
            content.cells[match.group(1)] = Cell(
                ref=match.group(2), black_box=match.group(3) is not None
            )


def load_checkpoint(path: Path) -> Checkpoint:
    """Describe the checkpoint at `path`, or raise CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"File '{path}' does not exist")
    try:
        info = read_dcp(path)
        content = DesignContent(
            part=info.part,
            top=info.top,
            product=info.product,
            out_of_context=bool(info.out_of_context),
            stage="synthesized" if info.out_of_context else "routed",
        )
        with zipfile.ZipFile(path) as archive:
            fault = _read_member(archive, EMULATOR_FAULT_MEMBER, MAX_FAULT_BYTES)
            content.fault = _text(fault).strip() if fault is not None else None
            # The netlist first: the constraints name its cells.
            for entry in sorted(info.files, key=lambda entry: entry.type.upper() == "XDC"):
                kind = entry.type.upper()
                if kind == "EDIF" and entry.name == f"{info.top}.edf":
                    netlist = _read_member(archive, entry.name, MAX_MEMBER_BYTES)
                    _apply_netlist(content, _text(netlist))
                elif kind == "XDEF" and entry.name == f"{info.top}.xdef":
                    placement = _read_member(archive, entry.name, MAX_MEMBER_BYTES)
                    content.static_placement = placement or b""
                elif kind == "XDC":
                    xdc = _read_member(archive, entry.name, MAX_MEMBER_BYTES)
                    _apply_constraints(content, _text(xdc))
            for name, cell in content.cells.items():
                if not cell.black_box:
                    cell.placement = (
                        _read_member(archive, f"rm_{name}.xdef", MAX_MEMBER_BYTES) or b""
                    )
        with path.open("rb") as source:
            sha256 = hashlib.file_digest(source, "sha256").hexdigest()
    except (DcpError, zipfile.BadZipFile, OSError, zlib.error, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"'{path}' is not a valid design checkpoint: {exc}") from exc
    return Checkpoint(path=path, info=info, sha256=sha256, content=content)
