"""The tarball a tenant uploads (FP1 developer-kit format): checking it, and packing one.

A plain tar with one `*.dcp` and one `manifest.json` at its root (`./` prefixes allowed). Both
of the kit's flows upload a routed checkpoint: the vivado flow its `to_facs/<prj>_routed.dcp`,
the sdaccel flow the checkpoint xocc put in its xclbin (`acceleratorBinaryContent=dcp`), split
out by `xclbinsplit` as `split-primary.bit` and tarred as `split-primary.dcp` (AEI_Register.sh).

check_tarball's order, so that the most specific useful cause wins:
 1. the file is a readable, uncompressed tar; walking its headers as   CORRUPT_ARCHIVE
    tarfile will: extended headers small and few in a row, pax ones
    well-formed UTF-8 setting no size, no sparse file
 2. each member header, in tar order: member count                   INPUT_SIZE_ILLEGAL
    name printable, relative, no `..` (afs.inputs.names)             CORRUPT_ARCHIVE
    name's length and path components (afs.inputs.names)             INPUT_SIZE_ILLEGAL
    regular file or directory, size not negative                     CORRUPT_ARCHIVE
    member size                                                      INPUT_SIZE_ILLEGAL
    a second manifest or DCP at the root                             CORRUPT_ARCHIVE
 3. a manifest at the root, then a DCP at the root                   MANIFEST_NOT_FOUND,
                                                                     DCP_NOT_FOUND
 4. the manifest: size, nesting, JSON, flat object of strings,       MANIFEST_PARSE_FAILED
    fields, an sdaccel manifest's own fields
    PCI ids                                                          PCIID_SYNTAX_INVALID
    shell id (syntax, or a shell of another flow), then the kit's    SHELL_/TOOL_VERSION_INVALID
    pairing of flow, shell and tool version (settings `kit_flows`)
 5. the DCP's sha256 against the manifest                            DCP_INTEGRITY_UNVERIFIED
    (before reading the DCP: a DCP damaged in transit is an integrity failure, not a bad design)
 6. the DCP is not a bitstream (an xclbin compiled without           DCP_IS_BITSTREAM
    acceleratorBinaryContent=dcp); it is a ZIP with a readable       DCP_CORRUPT,
    dcp.xml; its part                                                PART_MISMATCH

Only headers are read until step 4; only the manifest and the DCP are ever extracted, streamed
into `work_dir` under their root names (never a directory taken from the tar), and the DCP is
removed again if a later check fails. `tarfile.data_filter` (PEP 706) is not used: it strips a
leading `/` instead of refusing it and allows links that stay inside the destination, while this
format allows regular files only; and nothing here goes through tarfile's own extract methods.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import tempfile
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ValidationError

from afs.errors import AfsError, FailureCause, ImageBuildError
from afs.files import atomic_write, file_sha256
from afs.inputs.bitstream import (
    XCLBIN_SUFFIX,
    BitstreamError,
    kernel_clocks,
    read_bit,
    split_primary,
    starts_as_bit,
)
from afs.inputs.dcp import (
    DCP_SUFFIX,
    DcpError,
    DcpInfo,
    is_dcp_name,
    local_dcp,
    read_dcp,
    whole_design_problem,
)
from afs.inputs.names import components, name_problem, shown
from afs.models import (
    PCI_ID_FIELDS,
    FlowType,
    KitFlow,
    Manifest,
    kit_shells,
    sdaccel_field_problem,
)
from afs.settings import VU9P_PART

MANIFEST_NAME = "manifest.json"
# The kit's AEI_Register.sh renames xclbinsplit's split-primary.bit so, and tars it as such.
SDACCEL_MEMBER = "split-primary.dcp"
# Extended headers (pax, GNU long name and link) are read whole by tarfile while it parses them,
# and it recurses once for each in a row. A kit's member has at most a pax header, or a long name
# and a long link header, before it (an archive a global header at its start too), of a few
# hundred bytes.
MAX_EXTENDED_HEADER_BYTES = 64 * 1024
MAX_EXTENDED_HEADERS_IN_A_ROW = 4
# The manifest is one flat object (one level deep) and holds no numbers at all. The limits only
# make sure the refusal is ours: json recurses once a level, up to the interpreter's recursion
# limit (RecursionError), and int() refuses more than 4300 digits (ValueError).
MAX_MANIFEST_DEPTH = 64
MAX_MANIFEST_NUMBER_DIGITS = 100
# A JSON string (even unterminated, so that one pass is enough) or a bracket outside strings.
_JSON_STRING_OR_BRACKET = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_BLOCK = 512
_PAX_TYPES = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_EXTENDED_TYPES = (*_PAX_TYPES, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_MAX_PAX_LENGTH_DIGITS = 20
_CHUNK = 1 << 20
# Leading bytes of the compressed formats a tenant is most likely to upload by mistake.
_COMPRESSED_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}


class ArchiveLimits(BaseModel):
    max_members: int
    max_member_bytes: int
    max_manifest_bytes: int


class CheckedInput(BaseModel):
    manifest: Manifest
    dcp_path: Path
    manifest_path: Path
    dcp: DcpInfo
    dcp_sha256: str


def _pax_problem(records: bytes) -> str | None:
    """What is wrong with a pax header's data, or None.

    POSIX: UTF-8 records `LENGTH KEYWORD=VALUE\\n`, LENGTH counting the whole record.

    Checked in linear time because this Python's tarfile (before CVE-2024-6232 was fixed) parses
    a malformed pax header in quadratic time: 60 KB of digits alone cost it 7 seconds. What else
    tarfile would trip over with a ValueError rather than a TarError is refused too: it decodes a
    `hdrcharset` value strictly, wherever in the header, and converts GNU sparse-file records with
    int() and unpacking (a sparse file is not a regular file anyway). A `size` record, which only
    members over 8 GiB need, would change where tarfile finds the next header.
    """
    records = records.rstrip(b"\0")  # some writers pad the header's data with NULs
    try:
        records.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8"
    position = 0
    while position < len(records):
        space = records.find(b" ", position, position + _MAX_PAX_LENGTH_DIGITS + 1)
        digits = records[position:space]
        if space < 0 or not digits.isdigit():
            return "is malformed"
        end = position + int(digits)
        if end > len(records) or end <= space + 1 or records[end - 1 : end] != b"\n":
            return "is malformed"
        keyword, equals, _ = records[space + 1 : end].partition(b"=")
        if not equals:
            return "is malformed"
        if keyword.startswith(b"GNU.sparse."):
            return f"describes a sparse file ({keyword.decode()}); only regular files are allowed"
        if keyword == b"size":
            return "sets a member's size, which only members over 8 GiB need"
        position = end
    return None


def _check_headers(tar_path: Path) -> None:
    """Walk the headers as tarfile will, refusing what it would fail on other than by a TarError.

    Each header is parsed by tarfile's own `TarInfo.frombuf`, and the walk skips the data tarfile
    skips, so that no header escapes the check. The limits cannot wait for the members: tarfile
    reads an extended header whole while parsing it (a size field of 2**80 is an OverflowError, a
    negative one a ValueError), and recurses once for each of them in a row (RecursionError).
    """
    total = tar_path.stat().st_size
    in_a_row = 0
    with tar_path.open("rb") as stream:
        while True:
            at = stream.tell()
            try:
                header = tarfile.TarInfo.frombuf(
                    stream.read(_BLOCK), tarfile.ENCODING, "surrogateescape"
                )
            except tarfile.HeaderError:
                return  # tarfile stops here too: the end, or damage it reports itself
            if header.type == tarfile.GNUTYPE_SPARSE:
                # Its map continues in blocks of its own, which the walk cannot tell from headers.
                raise ImageBuildError(
                    FailureCause.CORRUPT_ARCHIVE,
                    f"member {shown(header.name)} is a sparse file; only regular files are allowed",
                )
            if header.type not in _EXTENDED_TYPES:
                in_a_row = 0
                if not 0 <= header.size <= total:
                    return  # tarfile goes no further: _scan refuses the member, or it is cut short
                if header.isreg() or header.type not in tarfile.SUPPORTED_TYPES:
                    stream.seek(-(-header.size // _BLOCK) * _BLOCK, 1)  # the data tarfile skips
                continue
            in_a_row += 1
            if in_a_row > MAX_EXTENDED_HEADERS_IN_A_ROW:
                raise ImageBuildError(
                    FailureCause.CORRUPT_ARCHIVE,
                    f"{tar_path.name} has more than {MAX_EXTENDED_HEADERS_IN_A_ROW} extended "
                    f"headers in a row (at byte {at})",
                )
            if not 0 <= header.size <= MAX_EXTENDED_HEADER_BYTES:
                raise ImageBuildError(
                    FailureCause.CORRUPT_ARCHIVE,
                    f"{tar_path.name} has an extended header of {header.size} bytes at byte {at} "
                    f"(at most {MAX_EXTENDED_HEADER_BYTES})",
                )
            data = stream.read(header.size)
            if header.type in _PAX_TYPES and (problem := _pax_problem(data)):
                raise ImageBuildError(
                    FailureCause.CORRUPT_ARCHIVE,
                    f"{tar_path.name}'s pax header at byte {at} {problem}",
                )
            stream.seek(-header.size % _BLOCK, 1)


def _open_plain_tar(tar_path: Path) -> tarfile.TarFile:
    with tar_path.open("rb") as head:
        start = head.read(6)
    for magic, kind in _COMPRESSED_MAGIC.items():
        if start.startswith(magic):
            raise ImageBuildError(
                FailureCause.CORRUPT_ARCHIVE,
                f"{tar_path.name} is {kind}-compressed; upload a plain (uncompressed) tar",
            )
    _check_headers(tar_path)
    try:
        return tarfile.open(tar_path, mode="r:")
    except (tarfile.TarError, OSError) as exc:
        raise ImageBuildError(
            FailureCause.CORRUPT_ARCHIVE, f"{tar_path.name} is not a readable tar ({exc})"
        ) from exc


def _member_kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"a symbolic link (to {shown(member.linkname)})"
    if member.islnk():
        return f"a hard link (to {shown(member.linkname)})"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return f"of unsupported type {member.type!r}"


def root_name(member: tarfile.TarInfo) -> str:
    """The member's path without `./` prefixes; refuses all but plain relative files and dirs."""
    if problem := name_problem(member.name):
        cause = (
            FailureCause.INPUT_SIZE_ILLEGAL if problem.too_long else FailureCause.CORRUPT_ARCHIVE
        )
        raise ImageBuildError(cause, problem.text)
    if not (member.isreg() or member.isdir()):
        raise ImageBuildError(
            FailureCause.CORRUPT_ARCHIVE,
            f"member {shown(member.name)} is {_member_kind(member)}; "
            "only regular files are allowed",
        )
    return "/".join(components(member.name))


def _scan(
    tar: tarfile.TarFile, tar_name: str, limits: ArchiveLimits
) -> tuple[tarfile.TarInfo | None, tarfile.TarInfo | None, list[str]]:
    """The root manifest and DCP members, after checking every header; plus misplaced candidates."""
    manifest: tarfile.TarInfo | None = None
    dcp: tarfile.TarInfo | None = None
    misplaced: list[str] = []
    count = 0
    try:
        # Iterating reads headers only, seeking past member data; tarfile also checks that each
        # member's data is all there, so a tar cut short fails here, before anything is extracted.
        for member in tar:
            count += 1
            if count > limits.max_members:
                raise ImageBuildError(
                    FailureCause.INPUT_SIZE_ILLEGAL,
                    f"{tar_name} has more than {limits.max_members} members",
                )
            name = root_name(member)
            # tarfile seeks by a negative size (GNU base-256 or pax) to before the file's start.
            if member.size < 0:
                raise ImageBuildError(
                    FailureCause.CORRUPT_ARCHIVE,
                    f"member {shown(member.name)} has a negative size {member.size}",
                )
            if member.size > limits.max_member_bytes:
                raise ImageBuildError(
                    FailureCause.INPUT_SIZE_ILLEGAL,
                    f"member {member.name!r} is {member.size} bytes, "
                    f"more than the {limits.max_member_bytes} allowed",
                )
            if not member.isreg():
                continue
            is_manifest = name.rpartition("/")[2] == MANIFEST_NAME
            is_dcp = is_dcp_name(name)
            if "/" in name:
                if is_manifest or is_dcp:
                    misplaced.append(member.name)
                continue
            if is_manifest:
                if manifest is not None:
                    raise ImageBuildError(
                        FailureCause.CORRUPT_ARCHIVE,
                        f"more than one manifest: {manifest.name!r} and {member.name!r}",
                    )
                manifest = member
            elif is_dcp:
                if dcp is not None:
                    raise ImageBuildError(
                        FailureCause.CORRUPT_ARCHIVE,
                        f"more than one DCP: {dcp.name!r} and {member.name!r}",
                    )
                dcp = member
    except tarfile.TarError as exc:
        raise ImageBuildError(
            FailureCause.CORRUPT_ARCHIVE, f"{tar_name} is not a readable tar ({exc})"
        ) from exc
    return manifest, dcp, misplaced


def _not_at_root(misplaced: list[str]) -> str:
    return (
        f" (found {', '.join(map(repr, misplaced))}; files must be at the root)"
        if misplaced
        else ""
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ImageBuildError(
                FailureCause.MANIFEST_PARSE_FAILED, f"field {key!r} appears twice"
            )
        result[key] = value
    return result


def _check_depth(text: str) -> None:
    """Refuse JSON nested deeper than MAX_MANIFEST_DEPTH, counting brackets outside strings only."""
    depth = 0
    for match in _JSON_STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_MANIFEST_DEPTH:
                raise ImageBuildError(
                    FailureCause.MANIFEST_PARSE_FAILED,
                    f"{MANIFEST_NAME} nests deeper than {MAX_MANIFEST_DEPTH} levels "
                    f"(at character {match.start()})",
                )
        elif token in ("]", "}"):
            depth -= 1


def _integer(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_MANIFEST_NUMBER_DIGITS:
        raise ImageBuildError(
            FailureCause.MANIFEST_PARSE_FAILED,
            f"{MANIFEST_NAME} holds a number of {digits} digits; "
            f"the limit is {MAX_MANIFEST_NUMBER_DIGITS}",
        )
    return int(literal)


def parse_manifest(data: bytes) -> Manifest:
    """`manifest.json`'s bytes as a Manifest, or ImageBuildError naming the field at fault."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImageBuildError(
            FailureCause.MANIFEST_PARSE_FAILED, f"{MANIFEST_NAME} is not UTF-8 ({exc})"
        ) from exc
    _check_depth(text)
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise ImageBuildError(
            FailureCause.MANIFEST_PARSE_FAILED, f"{MANIFEST_NAME} is not valid JSON ({exc})"
        ) from exc
    if not isinstance(document, dict):
        raise ImageBuildError(
            FailureCause.MANIFEST_PARSE_FAILED,
            f"{MANIFEST_NAME} must be a JSON object, got {type(document).__name__}",
        )
    for field, value in document.items():
        if not isinstance(value, str):
            raise ImageBuildError(
                FailureCause.MANIFEST_PARSE_FAILED,
                f"{MANIFEST_NAME} field {field!r} must be a string, got {type(value).__name__}",
            )
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as exc:
        raise _manifest_error(exc, document) from exc
    if problem := sdaccel_field_problem(manifest):
        raise ImageBuildError(FailureCause.MANIFEST_PARSE_FAILED, f"{MANIFEST_NAME}: {problem}")
    return manifest


def _manifest_error(exc: ValidationError, document: dict[str, str]) -> ImageBuildError:
    """The most useful of a manifest's errors: missing fields, other fields, PCI ids, shell id."""
    by_field = {str(error["loc"][0]): error for error in exc.errors()}
    missing = [field for field, error in by_field.items() if error["type"] == "missing"]
    if missing:
        return ImageBuildError(
            FailureCause.MANIFEST_PARSE_FAILED,
            f"{MANIFEST_NAME} lacks the field(s) {', '.join(missing)}",
        )
    field, error = min(
        by_field.items(),
        key=lambda item: (item[0] in PCI_ID_FIELDS, item[0] == "shell_id"),
    )
    value = document.get(field)
    if field in PCI_ID_FIELDS:
        return ImageBuildError(
            FailureCause.PCIID_SYNTAX_INVALID,
            f"{field} {value!r} must be '0x' and 4 hexadecimal digits",
        )
    if field == "shell_id":
        return ImageBuildError(
            FailureCause.SHELL_VERSION_INVALID,
            f"shell_id {value!r} must be '0x' and 8 hexadecimal digits",
        )
    return ImageBuildError(
        FailureCause.MANIFEST_PARSE_FAILED,
        f"{MANIFEST_NAME} field {field!r} {value!r}: {error['msg']}",
    )


def require_kit_flow(manifest: Manifest, kit_flows: Collection[KitFlow]) -> KitFlow:
    """The kit's pairing of the manifest's flow, shell and tool version, or the cause it breaks.

    A shell the factory does not know is SHELL_VERSION_INVALID; a known shell named by another
    flow than its own too; a tool version that is not its flow and shell's, TOOL_VERSION_INVALID.
    """
    shells = kit_shells(kit_flows)
    if manifest.shell_id not in shells:
        raise ImageBuildError(
            FailureCause.SHELL_VERSION_INVALID,
            f"shell_id {manifest.shell_id!r} is not one of {', '.join(shells)}",
        )
    of_shell = [flow for flow in kit_flows if flow.shell_id == manifest.shell_id]
    of_flow = [flow for flow in of_shell if flow.flow_type == manifest.flow_type]
    if not of_flow:
        flows = " or ".join(sorted({flow.flow_type for flow in of_shell}))
        raise ImageBuildError(
            FailureCause.SHELL_VERSION_INVALID,
            f"shell_id {manifest.shell_id!r} is a shell of the {flows} flow, "
            f"not of the {manifest.flow_type} flow the manifest's flow_type names",
        )
    for flow in of_flow:
        if flow.tool_version == manifest.tool_version:
            return flow
    versions = ", ".join(flow.tool_version for flow in of_flow)
    raise ImageBuildError(
        FailureCause.TOOL_VERSION_INVALID,
        f"tool_version {manifest.tool_version!r} is not the {manifest.flow_type} flow's on shell "
        f"{manifest.shell_id} ({versions})",
    )


def _member_data(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    data = tar.extractfile(member)
    assert data is not None  # regular files always have data
    return data


def _extract(source: IO[bytes], destination: Path) -> str:
    """Stream a member's data to `destination` (temp file + rename); returns its sha256."""
    digest = hashlib.sha256()
    with atomic_write(destination) as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def check_tarball(
    tar_path: Path,
    work_dir: Path,
    *,
    limits: ArchiveLimits,
    kit_flows: Collection[KitFlow],
    part: str = VU9P_PART,
) -> CheckedInput:
    """Check a tenant's tarball (order in the module docstring) and extract its manifest and DCP."""
    with _open_plain_tar(tar_path) as tar:
        manifest_member, dcp_member, misplaced = _scan(tar, tar_path.name, limits)
        if manifest_member is None:
            raise ImageBuildError(
                FailureCause.MANIFEST_NOT_FOUND,
                f"no {MANIFEST_NAME} in {tar_path.name}{_not_at_root(misplaced)}",
            )
        if dcp_member is None:
            raise ImageBuildError(
                FailureCause.DCP_NOT_FOUND,
                f"no *{DCP_SUFFIX} file in {tar_path.name}{_not_at_root(misplaced)}",
            )
        if manifest_member.size > limits.max_manifest_bytes:
            raise ImageBuildError(
                FailureCause.MANIFEST_PARSE_FAILED,
                f"{MANIFEST_NAME} is {manifest_member.size} bytes, "
                f"more than the {limits.max_manifest_bytes} allowed",
            )
        manifest_bytes = _member_data(tar, manifest_member).read()
        manifest = parse_manifest(manifest_bytes)
        require_kit_flow(manifest, kit_flows)

        work_dir.mkdir(parents=True, exist_ok=True)
        dcp_name = root_name(dcp_member)
        dcp_path = work_dir / dcp_name
        try:
            dcp_sha256 = _extract(_member_data(tar, dcp_member), dcp_path)
            if dcp_sha256 != manifest.dcp_sha256.lower():
                raise ImageBuildError(
                    FailureCause.DCP_INTEGRITY_UNVERIFIED,
                    f"sha256 of {dcp_name} is {dcp_sha256}, "
                    f"manifest says {manifest.dcp_sha256.lower()}",
                )
            dcp = _checkpoint(dcp_path, dcp_name, part)
        except BaseException:
            dcp_path.unlink(missing_ok=True)
            raise
    manifest_path = work_dir / MANIFEST_NAME
    manifest_path.write_bytes(manifest_bytes)
    return CheckedInput(
        manifest=manifest,
        dcp_path=dcp_path,
        manifest_path=manifest_path,
        dcp=dcp,
        dcp_sha256=dcp_sha256,
    )


def _checkpoint(path: Path, name: str, part: str) -> DcpInfo:
    """The upload of either flow: a checkpoint for `part`. The sdaccel flow's too: the kit
    compiles its xclbin with `acceleratorBinaryContent=dcp`, so xclbinsplit's
    `split-primary.bit` is the routed checkpoint, renamed `split-primary.dcp`."""
    try:
        dcp = read_dcp(path)
    except DcpError as exc:
        if starts_as_bit(path):
            cause = FailureCause.DCP_IS_BITSTREAM
            raise ImageBuildError(cause, bitstream_not_dcp(path, name)) from exc
        raise ImageBuildError(FailureCause.DCP_CORRUPT, str(exc)) from exc
    if dcp.part != part:
        raise ImageBuildError(
            FailureCause.PART_MISMATCH,
            f"{name} is for part {dcp.part!r}; this factory builds {part!r}",
        )
    return dcp


def bitstream_not_dcp(path: Path, name: str) -> str:
    """Why a bitstream in place of a checkpoint cannot be built, and what the kit uploads."""
    try:
        header = read_bit(path)
        found = (
            f"a {'partial' if header.partial else 'full'} bitstream for part {header.part!r} "
            f"(design {header.design!r})"
        )
    except BitstreamError as exc:
        found = f"a Xilinx bitstream ({exc})"
    return (
        f"{name} is {found}, not a design checkpoint; the factory builds the routed "
        "checkpoint: the kit compiles its xclbin with --xp "
        "param:compiler.acceleratorBinaryContent=dcp, so that xclbinsplit's split-primary.bit "
        "is that checkpoint"
    )


# The PCI ids each of the kit's metadata scripts writes (create_dpdk_metadata.py,
# create_sdaccel_metadata.py); the vendor is always 0x19e5.
KIT_PCI_IDS: dict[str, dict[str, str]] = {
    "vivado": {
        "pci_device_id": "0xD503",
        "pci_subsystem_id": "0x2000",
        "pci_subsystem_vendor_id": "0x19e5",
    },
    "sdaccel": {
        "pci_device_id": "0xD512",
        "pci_subsystem_id": "0x4341",
        "pci_subsystem_vendor_id": "0x10ee",
    },
}


class PackError(AfsError, ValueError):
    """`afs pack` cannot make a kit tarball of this file; the message names the file and why."""


def _design_of(source: Path, scratch: Path) -> tuple[Path, str, FlowType, dict[str, str]]:
    """The checkpoint to pack, its member name, its flow and the flow's own manifest fields.

    An `.xclbin` is the sdaccel flow's: its BITSTREAM section split out as `xclbinsplit` does
    (the checkpoint xocc wrote there), and its clocks read as create_sdaccel_metadata.py does.
    """
    if source.name.lower().endswith(XCLBIN_SUFFIX):
        split = scratch / SDACCEL_MEMBER
        try:
            xclbin = split_primary(source, split)
            clocks = kernel_clocks(source, xclbin)
        except BitstreamError as exc:
            raise PackError(str(exc)) from None
        except OSError as exc:
            raise PackError(f"{source}: {exc.strerror}") from None
        if xclbin.bitstream is not None:
            raise PackError(bitstream_not_dcp(split, f"{source.name}'s BITSTREAM section"))
        return split, SDACCEL_MEMBER, "sdaccel", clocks.model_dump()
    try:
        return local_dcp(source), source.name, "vivado", {}
    except DcpError as exc:
        raise PackError(f"{exc} or .xclbin") from None


def pack(
    source: Path,
    out: Path,
    *,
    shell_id: str,
    tool_version: str,
    kit_flows: Collection[KitFlow] | None = None,
    hdk_version: str = "v1.2.1",
    dcp_sha256: str | None = None,
    create_time: datetime | None = None,
    **pci_ids: str,
) -> Manifest:
    """Write the tarball a tenant uploads, as the kit's AEI_Register.sh does: `manifest.json`
    and the checkpoint at the root of a plain tar.

    `source` is the vivado flow's routed `.dcp`, or the sdaccel flow's `.xclbin`, packed as
    `split-primary.dcp` with the xclbin's timestamp and clocks in the manifest. With
    `kit_flows`, the manifest must be one of their pairings. `dcp_sha256` and `pci_ids`
    override what the kit would write (tests use them to tamper). PackError, before anything
    is written, if the checkpoint is unreadable, a bitstream, not for the VU9P part, out of
    context (not the kit's whole routed design) or a manifest value is invalid.
    """
    with tempfile.TemporaryDirectory(prefix="afs-pack-") as scratch:
        design, member, flow_type, flow_fields = _design_of(source, Path(scratch))
        try:
            info = read_dcp(design)
        except DcpError as exc:
            text = bitstream_not_dcp(design, source.name) if starts_as_bit(design) else str(exc)
            raise PackError(text) from None  # it names the file already
        if info.part != VU9P_PART:
            raise PackError(f"{source.name} is for part {info.part!r}, not {VU9P_PART!r}")
        if problem := whole_design_problem(info, member):
            raise PackError(problem)
        moment = (create_time or datetime.now(UTC)).astimezone(UTC)
        try:
            manifest = Manifest(
                version="2.0",
                fpga_board="vu9p_vb",
                fpga_vendor="xilinx",
                fpga_chip="vu9p",
                bitstream_format="bin",
                flow_type=flow_type,
                shell_id=shell_id,
                pci_vendor_id="0x19e5",
                **{**KIT_PCI_IDS[flow_type], **pci_ids},
                hdk_version=hdk_version,
                tool_version=tool_version,
                create_time=moment.strftime("%Y-%m-%d %H:%M:%S"),
                dcp_sha256=dcp_sha256 if dcp_sha256 is not None else file_sha256(design),
                **flow_fields,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(map(str, first["loc"]))
            raise PackError(f"manifest field {field!r}: {first['msg']}") from None
        if kit_flows is not None:
            try:
                require_kit_flow(manifest, kit_flows)
            except ImageBuildError as exc:
                raise PackError(exc.text) from None
        manifest_bytes = (json.dumps(manifest.model_dump(), indent=2) + "\n").encode()

        # As the kit's `tar cf dcp.tar ./*.dcp ./manifest.json`: the checkpoint first.
        with (
            atomic_write(out) as raw,
            tarfile.open(fileobj=raw, mode="w:", format=tarfile.GNU_FORMAT) as tar,
        ):
            # fstat of the open file: a symlinked DCP is packed as the regular file it points to.
            with design.open("rb") as dcp_file:
                entry = tar.gettarinfo(arcname=f"./{member}", fileobj=dcp_file)
                entry.mode, entry.uid, entry.gid, entry.uname, entry.gname = 0o644, 0, 0, "", ""
                tar.addfile(entry, dcp_file)
            entry = tarfile.TarInfo(f"./{MANIFEST_NAME}")
            entry.size = len(manifest_bytes)
            entry.mtime = int(moment.timestamp())
            entry.mode = 0o644
            tar.addfile(entry, io.BytesIO(manifest_bytes))
    return manifest
