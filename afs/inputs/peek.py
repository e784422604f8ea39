"""A tarball's manifest read in place, by ranged reads of its tar headers: enough for the
dispatcher to route a build to the queue of its tool version without fetching the DCP.

A hint, not a check: the build checks the whole tarball again, so anything this cannot read
plainly (compressed, truncated, odd headers, no manifest) is simply no answer.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable

from afs.errors import ImageBuildError
from afs.inputs.archive import (
    MANIFEST_NAME,
    MAX_EXTENDED_HEADER_BYTES,
    ArchiveLimits,
    parse_manifest,
    root_name,
)
from afs.models import Manifest

BLOCK = tarfile.BLOCKSIZE

# read(offset, length) -> exactly those bytes of the object
ReadRange = Callable[[int, int], bytes]


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _pax_path(records: bytes) -> str | None:
    """The last `path` of pax records (`<length> <key>=<value>\n` each), as tarfile reads them."""
    path = None
    position = 0
    while position < len(records):
        length_text, space, _ = records[position : position + 20].partition(b" ")
        if not space or not length_text.isdigit() or int(length_text) <= 0:
            break
        record = records[position : position + int(length_text)]
        position += int(length_text)
        key, equals, value = record[len(length_text) + 1 :].partition(b"=")
        if equals and key == b"path":
            path = value.removesuffix(b"\n").decode("utf-8", "surrogateescape")
    return path


def _long_name(read: ReadRange, header: tarfile.TarInfo, offset: int) -> str | None:
    """The name a GNU long-name or pax header gives the member after it, if any."""
    data = read(offset, header.size)
    if header.type == tarfile.GNUTYPE_LONGNAME:
        return data.rstrip(b"\0").decode("utf-8", "surrogateescape")
    return _pax_path(data)


def peek_manifest(read: ReadRange, size: int, limits: ArchiveLimits) -> Manifest | None:
    """The manifest of the plain tar of `size` bytes `read` reads; None if not found plainly."""
    offset = 0
    name_override: str | None = None
    for _ in range(3 * limits.max_members):  # each member may carry up to two extended headers
        if offset + BLOCK > size:
            return None
        try:
            header = tarfile.TarInfo.frombuf(read(offset, BLOCK), "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            return None  # the end-of-archive blocks, or not a plain tar
        data_at = offset + BLOCK
        if header.size < 0 or data_at + header.size > size:
            return None  # a crafted or cut-short header: its data is not in the object
        offset = data_at + _padded(header.size)
        if header.type == tarfile.XGLTYPE:
            continue  # global pax records (`git archive` writes one) name no member
        if header.type in (tarfile.GNUTYPE_LONGNAME, tarfile.XHDTYPE):
            if not 0 < header.size <= MAX_EXTENDED_HEADER_BYTES:
                return None
            name_override = _long_name(read, header, data_at)
            continue
        if name_override is not None:
            header.name, name_override = name_override, None
        try:
            is_manifest = root_name(header) == MANIFEST_NAME
        except ImageBuildError:
            return None
        if is_manifest:
            if not header.isreg() or not 0 < header.size <= limits.max_manifest_bytes:
                return None
            try:
                return parse_manifest(read(data_at, header.size))
            except ImageBuildError:
                return None
    return None
