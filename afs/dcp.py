"""Reading a Vivado design checkpoint (DCP): a ZIP whose `dcp.xml` describes the design.

The DCP is never extracted to disk: `dcp.xml` is read straight out of the ZIP.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from pydantic import BaseModel

DCP_XML = "dcp.xml"
MAX_DCP_XML_BYTES = 4 * 1024 * 1024


class DcpError(Exception):
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


def _tag(element: ElementTree.Element) -> str:
    """The element's tag without a namespace, lower-cased: writers differ in both."""
    return element.tag.rpartition("}")[2].lower()


def _named_child(checkpoint: ElementTree.Element, tag: str) -> str | None:
    for child in checkpoint:
        if _tag(child) == tag.lower():
            return child.get("Name")
    return None


def parse_dcp_xml(data: bytes) -> DcpInfo:
    """The checkpoint described by `dcp.xml` (its Checkpoint element may be the root or below)."""
    # Vivado never writes a DTD; refusing one means no entity of a tenant's file is ever expanded.
    if b"<!doctype" in data.lower():
        raise DcpError(f"{DCP_XML} declares a DTD, which no checkpoint has")
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
    out_of_context = _named_child(checkpoint, "OutOfContext")
    return DcpInfo(
        checkpoint_version=checkpoint.get("Version", ""),
        product=_named_child(checkpoint, "PRODUCT") or "",
        part=part,
        top=_named_child(checkpoint, "Top") or "",
        out_of_context=None if out_of_context is None else out_of_context.lower() == "true",
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
            try:
                entry = archive.getinfo(DCP_XML)
            except KeyError:
                raise DcpError(f"{path.name} has no {DCP_XML} at its root") from None
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
