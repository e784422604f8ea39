"""Reading checkpoints the way the emulator needs them: dcp.xml, PR constraints, injected faults.

A static shell declares its reconfigurable cells and pblocks in its XDC members, as a real static
checkpoint does (`set_property HD.RECONFIGURABLE true [get_cells ...]`, `create_pblock ...`).
"""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from afs.archive import file_sha256
from afs.dcp import DcpError, DcpInfo, read_dcp
from afs.samples import EMULATOR_FAULT_MEMBER

MAX_XDC_BYTES = 1024 * 1024
MAX_FAULT_BYTES = 256

_CELL = r"\[get_cells\s+\{?([^\s\}\]]+)\}?\s*\]"
_RECONFIGURABLE = re.compile(r"^\s*set_property\s+HD\.RECONFIGURABLE\s+(?:true|1)\s+" + _CELL, re.I)
_CREATE_PBLOCK = re.compile(r"^\s*create_pblock\s+\{?([^\s\}]+)\}?")
_ADD_TO_PBLOCK = re.compile(
    r"^\s*add_cells_to_pblock\s+\[get_pblocks\s+\{?([^\s\}\]]+)\}?\s*\]\s+" + _CELL
)


class CheckpointError(Exception):
    """The file cannot be opened as a checkpoint; the message says why."""


@dataclass
class Checkpoint:
    path: Path
    info: DcpInfo
    sha256: str
    fault: str | None
    reconfigurable: dict[str, str | None] = field(default_factory=dict)  # cell -> its pblock
    pblocks: set[str] = field(default_factory=set)

    @property
    def is_static(self) -> bool:
        """A static (shell) design: it has at least one reconfigurable partition."""
        return bool(self.reconfigurable)


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> str | None:
    try:
        entry = archive.getinfo(name)
    except KeyError:
        return None
    with archive.open(entry) as member:
        return member.read(limit).decode("utf-8", errors="replace")


def _apply_constraints(checkpoint: Checkpoint, xdc: str) -> None:
    for line in xdc.splitlines():
        if match := _RECONFIGURABLE.match(line):
            checkpoint.reconfigurable.setdefault(match.group(1), None)
        elif match := _CREATE_PBLOCK.match(line):
            checkpoint.pblocks.add(match.group(1))
        elif match := _ADD_TO_PBLOCK.match(line):
            checkpoint.reconfigurable[match.group(2)] = match.group(1)


def load_checkpoint(path: Path) -> Checkpoint:
    """Describe the checkpoint at `path`, or raise CheckpointError."""
    if not path.is_file():
        raise CheckpointError(f"File '{path}' does not exist")
    try:
        info = read_dcp(path)
        with zipfile.ZipFile(path) as archive:
            fault = _read_member(archive, EMULATOR_FAULT_MEMBER, MAX_FAULT_BYTES)
            checkpoint = Checkpoint(
                path=path,
                info=info,
                sha256=file_sha256(path),
                fault=fault.strip() if fault is not None else None,
            )
            for entry in info.files:
                if entry.type.upper() == "XDC":
                    xdc = _read_member(archive, entry.name, MAX_XDC_BYTES)
                    _apply_constraints(checkpoint, xdc or "")
    except (DcpError, zipfile.BadZipFile, OSError, zlib.error, RuntimeError, EOFError) as exc:
        raise CheckpointError(f"'{path}' is not a valid design checkpoint: {exc}") from exc
    return checkpoint
