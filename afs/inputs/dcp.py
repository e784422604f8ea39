"""Reading a Vivado design checkpoint (DCP): a ZIP whose `dcp.xml` describes the design.

The DCP is never extracted to disk: `dcp.xml` is read straight out of the ZIP.

What a tenant uploads is the FP1 kit's `to_facs/<prj>_routed.dcp`: the whole design routed against
the shell's static checkpoint, so its top is the shell's top and it is not out of context.
`whole_design_problem` is that rule, for `afs pack` and for the build alike.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat

from pydantic import BaseModel

from afs.errors import AfsError

DCP_XML = "dcp.xml"
MAX_DCP_XML_BYTES = 4 * 1024 * 1024


class DcpError(AfsError):
    """The file is not a readable DCP; the message says why in one line."""


class DcpFile(BaseModel):
    type: str
    name: str


class DcpInfo(BaseModel):
    checkpoint_version: str
    product: str
    part: str
    top: str
    out_of_context: bool | None
    files: list[DcpFile]


KIT_UPLOAD = "to_facs/<prj>_routed.dcp"


def whole_design_problem(info: DcpInfo, name: str, shell_top: str | None = None) -> str | None:
    """Why the checkpoint `name` is not a whole routed design of the shell, or None if it is.

    `shell_top` is the top of the shell's static checkpoint, where it is known (on the factory's
    side; a tenant's `afs pack` has no shell to compare with).
    """
    if info.out_of_context:
        found = f"{name} is out of context (top {info.top!r}): a module synthesized on its own"
    elif shell_top is not None and info.top != shell_top:
        found = f"{name} has top {info.top!r}, not the shell's top {shell_top!r}"
    else:
        return None
    return (
        f"{found}; upload the whole design routed against the shell, which the FP1 kit writes "
        f"to {KIT_UPLOAD}"
    )


def _tag(element: ElementTree.Element) -> str:
    """The element's tag without a namespace, lower-cased: writers differ in both."""
    return element.tag.rpartition("}")[2].lower()


def _named_child(checkpoint: ElementTree.Element, tag: str) -> str | None:
    for child in checkpoint:
        if _tag(child) == tag.lower():
            return child.get("Name")
    return None


def _flag(value: str | None) -> bool | None:
    """Vivado writes its flags as "0"/"1"; "true"/"false" are read too, anything else is unknown."""
    if value is None:
        return None
    return {"1": True, "true": True, "0": False, "false": False}.get(value.strip().lower())


def _refuse_dtd(data: bytes) -> None:
    """Vivado never writes a DTD; refusing one means no entity of a tenant's file is expanded.

    The XML parser itself looks, so a DTD hidden by another encoding (UTF-16, say) is seen too.
    """

    def refuse(*_: object) -> None:
        raise DcpError(f"{DCP_XML} declares a DTD, which no checkpoint has")

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = refuse
    try:
        scanner.Parse(data, True)
    except expat.ExpatError as exc:
        raise DcpError(f"{DCP_XML} is not well-formed XML ({exc})") from exc


def parse_dcp_xml(data: bytes) -> DcpInfo:
    """The checkpoint described by `dcp.xml` (its Checkpoint element may be the root or below)."""
    _refuse_dtd(data)
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 - DTDs are refused above
    except ElementTree.ParseError as exc:
        raise DcpError(f"{DCP_XML} is not well-formed XML ({exc})") from exc
    checkpoint = next((element for element in root.iter() if _tag(element) == "checkpoint"), None)
    if checkpoint is None:
        raise DcpError(f"{DCP_XML} has no <Checkpoint> element")
    part = _named_child(checkpoint, "Part")
    if not part:
        raise DcpError(f"{DCP_XML} names no Part")
    return DcpInfo(
        checkpoint_version=checkpoint.get("Version", ""),
        product=_named_child(checkpoint, "PRODUCT") or "",
        part=part,
        top=_named_child(checkpoint, "Top") or "",
        out_of_context=_flag(_named_child(checkpoint, "OutOfContext")),
        files=[
            DcpFile(type=element.get("Type", ""), name=element.get("Name", ""))
            for element in checkpoint
            if _tag(element) == "file"
        ],
    )


def read_dcp(path: Path) -> DcpInfo:
    """Open `path` as a DCP and describe it, or raise DcpError naming what is wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = [entry for entry in archive.infolist() if entry.filename == DCP_XML]
            if not entries:
                raise DcpError(f"{path.name} has no {DCP_XML} at its root")
            # Readers disagree on which of two same-named members counts: refuse the ambiguity.
            if len(entries) > 1:
                raise DcpError(f"{path.name} has {len(entries)} {DCP_XML} members")
            entry = entries[0]
            if entry.file_size > MAX_DCP_XML_BYTES:
                raise DcpError(f"{DCP_XML} in {path.name} is {entry.file_size} bytes, too large")
            data = archive.read(entry)
    except zipfile.BadZipFile as exc:
        raise DcpError(f"{path.name} is not a ZIP archive ({exc})") from exc
    # A damaged deflate stream, an encrypted member or a truncated file each raise their own kind.
    except (
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        zlib.error,
        RuntimeError,
        EOFError,
    ) as exc:
        raise DcpError(f"{path.name} cannot be read as a DCP ({exc})") from exc
    return parse_dcp_xml(data)
