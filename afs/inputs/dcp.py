"""Reading a Vivado design checkpoint (DCP): a ZIP whose `dcp.xml` describes the design.

The DCP is never extracted to disk: `dcp.xml` is read straight out of the ZIP. Vivado unpacks the
DCP, though, so every member's name must be one a file system takes safely (afs.inputs.names).
Every limit below is checked before zipfile, expat or ElementTree would run into it.

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
from afs.inputs.names import name_problem, shown

DCP_XML = "dcp.xml"
MAX_DCP_XML_BYTES = 4 * 1024 * 1024
# A checkpoint has a few dozen members: a central directory of a few KB. zipfile turns the whole
# directory into objects before anything can be checked (a 44 MB directory of empty entries took
# 350 MB and two minutes); 1 MiB is some 10,000 members.
MAX_CENTRAL_DIRECTORY_BYTES = 1024 * 1024
# Vivado's dcp.xml is a handful of levels deep (Checkpoint, FileSet, File, FileInfo, Attr).
MAX_XML_DEPTH = 64
# The values read are part, module and product names and version strings: a few dozen characters.
MAX_XML_VALUE_CHARS = 1024
# zipfile inflates bzip2 and LZMA without any bound (242 bytes of bzip2 are 300 MB of spaces);
# Vivado writes its members deflated.
_READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


DCP_SUFFIX = ".dcp"


def is_dcp_name(name: str) -> bool:
    return name.lower().endswith(DCP_SUFFIX)


class DcpError(AfsError):
    """The file is not a readable DCP; the message says why in one line."""


def local_dcp(path: Path) -> Path:
    """A DCP file named on a command line: refused, with its whole path, unless it is a `*.dcp`
    file that exists."""
    if not is_dcp_name(path.name):
        raise DcpError(f"{path}: not a design checkpoint (the name does not end in {DCP_SUFFIX})")
    if not path.is_file():
        raise DcpError(f"{path}: no such file")
    return path


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


def _value(element: ElementTree.Element, attribute: str, what: str) -> str | None:
    """An attribute's value, refused if it is not a printable string of a sane length."""
    value = element.get(attribute)
    if value is None:
        return None
    if len(value) > MAX_XML_VALUE_CHARS:
        raise DcpError(
            f"{DCP_XML}'s {what} is {len(value)} characters; the limit is {MAX_XML_VALUE_CHARS}"
        )
    if not value.isprintable():
        raise DcpError(f"{DCP_XML}'s {what} {shown(value)} has a control character")
    return value


def _named_child(checkpoint: ElementTree.Element, tag: str) -> str | None:
    for child in checkpoint:
        if _tag(child) == tag.lower():
            return _value(child, "Name", tag)
    return None


def _file(element: ElementTree.Element) -> DcpFile:
    """A `<File>` element: its name is a member's, under the same rules as the members'."""
    name = _value(element, "Name", "File name") or ""
    if problem := name_problem(name):
        raise DcpError(f"{DCP_XML} names a file: {problem.text}")
    return DcpFile(type=_value(element, "Type", "File type") or "", name=name)


def _flag(value: str | None) -> bool | None:
    """Vivado writes its flags as "0"/"1"; "true"/"false" are read too, anything else is unknown."""
    if value is None:
        return None
    return {"1": True, "true": True, "0": False, "false": False}.get(value.strip().lower())


def check_xml_structure(data: bytes, what: str = DCP_XML) -> None:
    """Refuse a DTD and nesting deeper than MAX_XML_DEPTH, before ElementTree builds a tree.

    Vivado never writes a DTD; refusing one means no entity of a tenant's file is expanded. The XML
    parser itself looks, so a DTD hidden by another encoding (UTF-16, say) is seen too.
    """
    depth = 0

    def refuse_dtd(*_: object) -> None:
        raise DcpError(f"{what} declares a DTD, which no file of Vivado's or SDx's has")

    def start(*_: object) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_XML_DEPTH:
            raise DcpError(
                f"{what} nests deeper than {MAX_XML_DEPTH} levels "
                f"(at line {scanner.CurrentLineNumber})"
            )

    def end(*_: object) -> None:
        nonlocal depth
        depth -= 1

    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = refuse_dtd
    scanner.StartElementHandler = start
    scanner.EndElementHandler = end
    try:
        scanner.Parse(data, True)
    except expat.ExpatError as exc:
        raise DcpError(f"{what} is not well-formed XML ({exc})") from exc


def parse_dcp_xml(data: bytes) -> DcpInfo:
    """The checkpoint described by `dcp.xml` (its Checkpoint element may be the root or below)."""
    check_xml_structure(data)
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
        checkpoint_version=_value(checkpoint, "Version", "Checkpoint version") or "",
        product=_named_child(checkpoint, "PRODUCT") or "",
        part=part,
        top=_named_child(checkpoint, "Top") or "",
        out_of_context=_flag(_named_child(checkpoint, "OutOfContext")),
        files=[_file(element) for element in checkpoint if _tag(element) == "file"],
    )


def _central_directory_bytes(path: Path) -> int | None:
    """The size of the ZIP's central directory, None without an end record (zipfile says so).

    Read by zipfile's own reader of the end record, so the size checked is the size it will read.
    """
    with path.open("rb") as stream:
        end = zipfile._EndRecData(stream)  # type: ignore[attr-defined]
    return None if end is None else int(end[zipfile._ECD_SIZE])  # type: ignore[attr-defined]


def _check_members(archive: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    """Check every member's name (as written: zipfile cuts a name at a NUL); return dcp.xml's."""
    for entry in archive.infolist():
        if problem := name_problem(entry.orig_filename):
            raise DcpError(f"{path.name}: {problem.text}")
    entries = [entry for entry in archive.infolist() if entry.filename == DCP_XML]
    if not entries:
        raise DcpError(f"{path.name} has no {DCP_XML} at its root")
    # Readers disagree on which of two same-named members counts: refuse the ambiguity.
    if len(entries) > 1:
        raise DcpError(f"{path.name} has {len(entries)} {DCP_XML} members")
    entry = entries[0]
    if entry.file_size > MAX_DCP_XML_BYTES:
        raise DcpError(f"{DCP_XML} in {path.name} is {entry.file_size} bytes, too large")
    if entry.compress_type not in _READABLE_COMPRESSION:
        names = zipfile.compressor_names  # type: ignore[attr-defined]
        method = names.get(entry.compress_type, str(entry.compress_type))
        raise DcpError(f"{DCP_XML} is compressed with {method}; a checkpoint's is deflated")
    return entry


def read_dcp(path: Path) -> DcpInfo:
    """Open `path` as a DCP and describe it, or raise DcpError naming what is wrong."""
    try:
        directory = _central_directory_bytes(path)
        if directory is not None and directory > MAX_CENTRAL_DIRECTORY_BYTES:
            raise DcpError(
                f"{path.name} has a central directory of {directory} bytes; "
                f"the limit is {MAX_CENTRAL_DIRECTORY_BYTES}"
            )
        with zipfile.ZipFile(path) as archive:
            entry = _check_members(archive, path)
            # read() with no size inflates as much as one call can, whatever the headers declare;
            # with the declared size, zipfile inflates at most that much at a time.
            with archive.open(entry) as stream:
                data = stream.read(entry.file_size)
    except zipfile.BadZipFile as exc:
        # zipfile's text may quote raw header bytes of any length: cut, as any reason we show.
        reason = str(exc) if len(str(exc)) <= 200 else f"{str(exc)[:200]}..."
        raise DcpError(f"{path.name} is not a ZIP archive ({reason})") from exc
    except UnicodeDecodeError as exc:  # a name flagged as UTF-8 that is not
        raise DcpError(f"{path.name}: a member name is not UTF-8 ({exc.reason})") from exc
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
