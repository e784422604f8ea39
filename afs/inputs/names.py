"""What an archive member's name may be: in the tenant's tarball and in the DCP (a ZIP) alike.

Member names reach file systems: the factory extracts the tarball's DCP under its own name, and
Vivado unpacks the DCP's members. So a name is refused, naming the rule it breaks, before a file
system would refuse it (ENAMETOOLONG) or it could lead out of the directory it is extracted into.
"""

from __future__ import annotations

from typing import NamedTuple

# No kit comes near these: its tarball holds `manifest.json` and `<prj>_routed.dcp`, and Vivado
# names a checkpoint's members after the design's top (`<top>.edf`, `<top>_early.xdc`, ...).
# 128 bytes a path component leaves room below the file systems' 255 (NAME_MAX) for the
# temporary name afs.files.atomic_write puts beside an extracted file (15 bytes longer); 1024
# bytes and 32 components keep a whole name far below PATH_MAX (4096) wherever it lands.
MAX_COMPONENT_BYTES = 128
MAX_NAME_BYTES = 1024
MAX_COMPONENTS = 32
_SHOWN_CHARS = 64


class NameProblem(NamedTuple):
    """Why a member name is refused: a size limit (`too_long`) or an unsafe name."""

    too_long: bool
    text: str


def shown(name: str) -> str:
    """`name` quoted for a message: escaped, and cut short, since a tenant chose its length."""
    return repr(name) if len(name) <= _SHOWN_CHARS else f"{name[:_SHOWN_CHARS]!r}..."


def components(name: str) -> list[str]:
    """The path components of `name`, without empty and `.` ones (`./a//b` is `a`, `b`)."""
    return [part for part in name.split("/") if part not in ("", ".")]


def name_problem(name: str) -> NameProblem | None:
    """Why `name` cannot be extracted safely, or None if it can."""
    # Bytes that are not UTF-8 come back from tarfile as lone surrogates, which are not printable;
    # zipfile cuts a name at a NUL unless asked for its original name.
    if not name.isprintable():
        return NameProblem(False, f"member name {shown(name)} is not printable UTF-8")
    parts = components(name)
    size = len(name.encode())
    longest = max((len(part.encode()) for part in parts), default=0)
    if size > MAX_NAME_BYTES:
        return NameProblem(
            True,
            f"member name {shown(name)} is {size} bytes; "
            f"the limit is {MAX_NAME_BYTES} bytes in all",
        )
    if longest > MAX_COMPONENT_BYTES:
        return NameProblem(
            True,
            f"member name {shown(name)} has a path component of {longest} bytes; "
            f"the limit is {MAX_COMPONENT_BYTES} bytes per path component",
        )
    if len(parts) > MAX_COMPONENTS:
        return NameProblem(
            True,
            f"member name {shown(name)} has {len(parts)} path components; "
            f"the limit is {MAX_COMPONENTS}",
        )
    if name.startswith("/"):
        return NameProblem(False, f"member {shown(name)} has an absolute path")
    if ".." in parts:
        return NameProblem(False, f"member {shown(name)} contains '..' (directory traversal)")
    return None
